"""Fan the stale cells of full/dvc.yaml out over a Ray cluster: one task per shard, one GPU each,
each running scripts/fanout/worker.sh; failed shards are submitted again (--retries); then
(--aggregate) the aggregate step.

    pip install -e ".[fanout]"
    python scripts/fanout/ray_launch.py --address auto --shards 16 --aggregate
    python scripts/fanout/ray_launch.py --address local --gpus 0 --shards 2   # try a plan on this machine

Every node needs git, dvc and this project's Python environment, and reach to the DVC remote.
"""

import sys

from launch import aggregate, arguments, run_shards, settle, shards, worker_task


def main() -> int:
    p = arguments(__doc__.splitlines()[0])
    p.add_argument("--address", default="auto", help="Ray cluster address; 'local' starts a private Ray "
                   "instance on this machine (its CPUs; RAY_TMPDIR moves its session folder)")
    p.add_argument("--gpus", type=float, default=1, help="GPUs per shard (0 on CPU)")
    p.add_argument("--cpus", type=float, default=1, help="CPUs per shard")
    args = p.parse_args()
    import ray

    rev, cut = shards(args)
    status = 0
    if cut:
        # 'local' starts a new Ray instance even if one runs here already; the launcher needs no dashboard
        # of its own (the flag is ignored when connecting to a cluster).
        ray.init(address=args.address, include_dashboard=False)
        # Ray's own retries stay off: run_shards retries a lost task and a failed worker.sh alike.
        remote = ray.remote(num_gpus=args.gpus, num_cpus=args.cpus, max_retries=0)(worker_task())

        def submit(pending: list[list[str]]) -> list:
            return settle(ray.get, [remote.remote(args.repo, rev, targets) for targets in pending])

        status = run_shards(submit, cut, args.retries)
        ray.shutdown()
    return aggregate(args.repo, rev, args.dvc_file) if args.aggregate else status


if __name__ == "__main__":
    sys.exit(main())
