"""Fan the stale cells of full/dvc.yaml out over SLURM with submitit: a job array, one GPU task per
shard, each running scripts/fanout/worker.sh; failed shards go out again as a new array (--retries);
then (--aggregate) the aggregate step.

    pip install -e ".[fanout]"
    python scripts/fanout/slurm.py --partition gpu --shards 16 --timeout-min 600 --aggregate

Run it on a login node from a checkout whose DVC remote every node can reach; set
BENCHMARK_DATA_DIR to a shared copy of the datasets to skip the per-worker `dvc pull` of data.
Logs and pickled results go to --folder (submitit's own layout).
"""

import sys

from launch import aggregate, arguments, run_shards, settle, shards, worker_task


def main() -> int:
    p = arguments(__doc__.splitlines()[0])
    p.add_argument("--partition", help="SLURM partition (required on a cluster)")
    p.add_argument("--cluster", choices=["slurm", "local"], help="submitit backend (default: SLURM when "
                   "present); local runs the array as processes here, to try a plan on one machine")
    p.add_argument("--gpus", type=int, default=1)
    p.add_argument("--cpus", type=int, default=8)
    p.add_argument("--mem-gb", type=int, default=64)
    p.add_argument("--timeout-min", type=int, default=600)
    p.add_argument("--parallel", type=int, default=16, help="array tasks running at once")
    p.add_argument("--folder", default="results/slurm/%j")
    args = p.parse_args()
    import submitit

    rev, cut = shards(args)
    if not cut:
        return aggregate(args.repo, rev, args.dvc_file) if args.aggregate else 0
    executor = submitit.AutoExecutor(folder=args.folder, cluster=args.cluster)
    if executor.cluster == "slurm" and not args.partition:
        p.error("--partition is required on SLURM")
    executor.update_parameters(timeout_min=args.timeout_min, name="benchmark-worker", gpus_per_node=args.gpus,
                               cpus_per_task=args.cpus, mem_gb=args.mem_gb, slurm_partition=args.partition,
                               slurm_array_parallelism=args.parallel)
    task = worker_task()

    def submit(pending: list[list[str]]) -> list:
        n = len(pending)
        return settle(lambda job: job.result(), executor.map_array(task, [args.repo] * n, [rev] * n, pending))

    status = run_shards(submit, cut, args.retries)
    return aggregate(args.repo, rev, args.dvc_file) if args.aggregate else status


if __name__ == "__main__":
    sys.exit(main())
