"""The CPU kernel path a run takes, pinned so that committed numbers reproduce on another machine.

PyTorch, MKL and oneDNN pick their kernels by the CPU's instruction set, and kernels of different width sum
in a different order: the same seed then gives other numbers on another CPU (or on this one, with other
environment settings). The workers that train the embedded grid cap every library at AVX2 — present on every
x86-64 server and laptop of the last decade — and use one thread, so the path is the same on any such
machine. The cap must be in the environment before torch is imported, which is why only fresh worker
processes (benchmark/workers.py) apply it. `BENCHMARK_KERNEL=native` lifts it (faster on AVX-512 machines,
but the numbers then belong to that CPU). docs/reproducibility.md says what reproduces where.
"""

from __future__ import annotations

import os
import platform
from functools import cache

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's own vectorised kernels
    "MKL_CBWR": "AVX2",  # MKL's conditional numerical reproducibility: the AVX2 code path, any vendor
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions)
}
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
KEYS = tuple(PINNED) + tuple(THREADS)


def worker_env() -> dict[str, str]:
    """The environment a training worker starts with: the pinned path unless BENCHMARK_KERNEL=native."""
    mode = os.environ.get("BENCHMARK_KERNEL", "pinned")
    if mode not in ("pinned", "native"):
        from benchmark.errors import BenchmarkError

        raise BenchmarkError(f"BENCHMARK_KERNEL={mode!r}: expected pinned or native")
    pinned = PINNED if mode == "pinned" and platform.machine().lower() in ("x86_64", "amd64") else {}
    return {**pinned, **THREADS}


def in_effect() -> dict[str, str]:
    """The kernel settings of this process, for a run's fingerprint and provenance."""
    return {k: os.environ[k] for k in PINNED if k in os.environ}


@cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
