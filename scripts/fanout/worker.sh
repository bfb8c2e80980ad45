#!/usr/bin/env bash
# One fan-out worker: the same script under GitHub Actions, SLURM (submitit) and Ray.
#
#   scripts/fanout/worker.sh REPO REV TARGET...        (or  @FILE: one target per line)
#
# 1. clones REPO (a URL or a local path) and checks out the pinned revision REV;
# 2. pulls the data its cells read (the .dvc files under data/real/ that plan.py data names),
#    unless BENCHMARK_DATA_DIR points at a pre-staged copy;
# 3. dvc --cd PIPELINE repro --pull --allow-missing --keep-going TARGET... (PIPELINE: the folder of the
#    targets' dvc.yaml, a DVC project of its own, e.g. full/): cells already in the run cache are
#    restored, the others train; one failing cell does not stop the rest;
# 4. always dvc push --run-cache TARGET..., failed or not, so every finished cell is kept.
# Exit status: non-zero when a cell failed or the push failed. Never writes dvc.lock to git.
#
# Environment: BENCHMARK_WORKDIR (clone here; default a new temporary directory, removed at the
# end unless BENCHMARK_KEEP=1), BENCHMARK_DVC_REMOTE (URL or path of the DVC remote; default the
# repo's default remote), BENCHMARK_TIMINGS (write the phase timings as JSON to this file),
# DVC / PYTHON (commands to use; default dvc / python).
set -uo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 REPO REV TARGET... (or @FILE)" >&2
  exit 2
fi
repo=$1 rev=$2
shift 2
if [ "${1:0:1}" = "@" ]; then mapfile -t targets < <(grep -v '^\s*$' "${1:1}"); else targets=("$@"); fi
# Targets name their pipeline (full/dvc.yaml:train@...); DVC runs inside that pipeline's own project.
pipeline=${targets[0]%%/dvc.yaml:*}
[ "$pipeline" = "${targets[0]}" ] && pipeline=.
local_targets=("${targets[@]/#$pipeline\//}")
DVC=${DVC:-dvc}
PYTHON=${PYTHON:-python}
work=${BENCHMARK_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/benchmark-worker.XXXXXX")}
now() { date +%s.%N; }
log() { echo "[worker $(date +%H:%M:%S)] $*" >&2; }

t0=$(now)
log "clone $repo at $rev into $work"
git clone --quiet --no-checkout "$repo" "$work" && git -C "$work" checkout --quiet --detach "$rev" || {
  log "error: cannot check out $rev of $repo"; exit 1; }
cd "$work" || exit 1
if [ -n "${BENCHMARK_DVC_REMOTE:-}" ]; then
  for project in . "$pipeline"; do
    $DVC --cd "$project" remote add --local --force --default fanout "$BENCHMARK_DVC_REMOTE" >/dev/null || exit 1
  done
fi
t1=$(now)

data=()
if [ -z "${BENCHMARK_DATA_DIR:-}" ] && [ -d data/real ]; then
  mapfile -t data < <($PYTHON scripts/fanout/plan.py data "${targets[@]}" | grep -v '^\s*$')
fi
if [ ${#data[@]} -gt 0 ]; then
  log "pull data: ${data[*]}"
  $DVC pull --quiet "${data[@]}" || { log "error: cannot pull the data of this shard"; exit 1; }
fi
t2=$(now)

log "reproduce ${#targets[@]} cell(s)"
# A job being stopped (SLURM time limit, cancelled workflow) still pushes what it finished.
interrupted=0
trap 'interrupted=1' TERM INT
$DVC --cd "$pipeline" repro --pull --allow-missing --keep-going "${local_targets[@]}" 2>&1 | tee repro.log
repro_rc=${PIPESTATUS[0]}
[ "$interrupted" = 1 ] && repro_rc=143
t3=$(now)

# Always: finished cells (trained here or restored) go to the remote with their run-cache entries.
log "push the run cache"
$DVC --cd "$pipeline" push --run-cache "${local_targets[@]}"
push_rc=$?
t4=$(now)

trained=$(grep -c "^Running stage '.*train@" repro.log)
restored=$(grep -c "is cached - skipping run" repro.log)
failed=$(grep -c "^ERROR: failed to reproduce" repro.log)
dt() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
timings=$(printf '{"cells": %d, "trained": %d, "restored": %d, "failed": %d, "clone_s": %s, "data_s": %s, "repro_s": %s, "push_s": %s, "repro_rc": %d, "push_rc": %d}' \
  "${#targets[@]}" "$trained" "$restored" "$failed" "$(dt "$t0" "$t1")" "$(dt "$t1" "$t2")" \
  "$(dt "$t2" "$t3")" "$(dt "$t3" "$t4")" "$repro_rc" "$push_rc")
log "done: $timings"
[ -n "${BENCHMARK_TIMINGS:-}" ] && echo "$timings" > "$BENCHMARK_TIMINGS"
if [ -z "${BENCHMARK_WORKDIR:-}" ] && [ "${BENCHMARK_KEEP:-0}" != 1 ]; then
  cd / && rm -rf "$work"
fi
[ "$repro_rc" -eq 0 ] && exit "$push_rc"
exit "$repro_rc"
