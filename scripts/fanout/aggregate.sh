#!/usr/bin/env bash
# The fan-out's aggregate step, run in a checkout of the planned revision (the only writer of
# full/dvc.lock): restores every cell from the run cache with training forbidden, then aggregates.
# A cell missing from the run cache fails loudly, naming it; nothing is retrained here.
#
#   scripts/fanout/aggregate.sh [DVC_FILE]        (default full/dvc.yaml)
#
# Environment: BENCHMARK_DVC_REMOTE (URL or path of the remote; default the repo's default remote),
# DVC (command; default dvc). Commit full/dvc.lock and full/results afterwards (the workflow does).
set -uo pipefail
dvc_file=${1:-full/dvc.yaml}
pipeline=$(dirname "$dvc_file")  # a DVC project of its own: DVC runs inside it
DVC=${DVC:-dvc}
if [ -n "${BENCHMARK_DVC_REMOTE:-}" ]; then
  $DVC --cd "$pipeline" remote add --local --force --default fanout "$BENCHMARK_DVC_REMOTE" >/dev/null || exit 1
fi
BENCHMARK_NO_TRAINING=1 $DVC --cd "$pipeline" repro --pull --keep-going dvc.yaml
rc=$?
missing=$($DVC --cd "$pipeline" status --json dvc.yaml | python -c '
import json, sys
status = json.load(sys.stdin)
print(" ".join(sorted(s.split("train@")[1] for s in status if "train@" in s)))')
if [ $rc -ne 0 ] || [ -n "$missing" ]; then
  echo "error: $(wc -w <<< "$missing") cell(s) missing from the run cache (training is forbidden here): $missing" >&2
  echo "error: rerun the plan: only these cells will train" >&2
  exit 1
fi
echo "aggregated every cell of $dvc_file from the run cache; commit its dvc.lock and results" >&2
