"""`verify` across CPU vendors: MKL pins its AVX2 branch on Intel CPUs only, so a cell recorded on another
vendor is judged by the means of its primary metric over the final seeds, not value by value."""

from benchmark.records import run_key
from benchmark.submission.verify import moved_means, other_vendor, vendor

INTEL, AMD = "Intel(R) Xeon(R) Processor @ 2.80GHz", "AMD EPYC"


def run(seed: int, acc: float, cpu: str = INTEL, phase: str = "final") -> dict:
    metrics = [{"metric": "acc", "selection": "final", "scorer": "", "domain": "", "value": acc},
               {"metric": "bwt", "selection": "final", "scorer": "", "domain": "", "value": -acc}]
    return {"phase": phase, "seed": seed, "hparam_draw": 0, "status": "ok", "primary": "acc", "metrics": metrics,
            "provenance": {"cpu": cpu}}


def rerun_of(values: list[float]) -> dict[tuple, dict]:
    return {run_key(r): r for r in (run(s, v, AMD) for s, v in enumerate(values))}


def test_vendors_are_told_apart_by_the_cpu_name():
    assert vendor(INTEL) == "Intel" and vendor("AMD Ryzen 7 7840U") == vendor(AMD) == "AMD"
    assert other_vendor([run(0, 0.5), run(1, 0.5, AMD)], AMD) == "AMD+Intel"
    assert other_vendor([run(0, 0.5, AMD)], "AMD EPYC 9654") is None


def test_a_cell_passes_when_its_means_stay_within_noise_and_fails_when_they_move():
    recorded = [run(s, v) for s, v in enumerate([0.50, 0.60, 0.55, 0.45, 0.52])]  # sd 0.056, se of a diff 0.036
    wobbly = [0.53, 0.57, 0.52, 0.48, 0.55]  # each run moved, the mean by +0.006
    assert moved_means(recorded, rerun_of(wobbly)) == []
    shifted = [v + 0.2 for v in wobbly]
    assert moved_means(recorded, rerun_of(shifted)) == ["acc/final: mean over 5 seeds 0.524 recorded, 0.73 now"]


def test_only_final_runs_of_the_primary_metric_count():
    recorded = [run(s, 0.5 + s / 100) for s in range(4)] + [run(100, 0.1, phase="search")]
    rerun = rerun_of([0.5 + s / 100 for s in range(4)])
    rerun[("search", 100, 0)] = run(100, 0.9, AMD, phase="search")
    assert moved_means(recorded, rerun) == []
