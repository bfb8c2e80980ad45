"""Metrics, computed from a model's actual outputs: one module per family's needs."""

LOWER_IS_BETTER = frozenset({"memorization", "forgetting", "fpr95", "ece", "nll", "brier"})
"""Metrics where smaller is better; every other metric is higher-is-better (ranks use this)."""

DIAGNOSTICS = frozenset({"hessian_top_eig", "feature_effective_rank", "spectral_norm_product"})
"""Per-run measurements of the trained model (benchmark/diagnostics.py): columns to read, never ranked."""


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


UNIT_INTERVAL = frozenset({"acc", "test_acc", "last_acc", "val_acc", "oracle_test_acc", "worst_domain_acc",
                           "id_acc", "shifted_acc", "memorization", "auroc", "aupr_in", "aupr_out", "fpr95",
                           "ece"})
"""Metrics that are shares or areas: a value outside [0, 1] is a bug, never a result."""
SIGNED_UNIT = frozenset({"bwt", "fwt", "forgetting"})
"""Differences of accuracies: inside [-1, 1]."""


def metric_problem(metrics) -> str | None:
    """Why a run's metrics cannot be scored (a non-finite or out-of-range value), or None."""
    import math

    for m in metrics:
        value = float(m.value)
        where = f"metric '{m.metric}'" + (f" ({m.selection})" if m.selection else "") + \
            (f" scorer {m.scorer}" if m.scorer else "") + (f" on {m.domain}" if m.domain else "")
        if not math.isfinite(value):
            return f"non-finite value {value} of {where} at evaluation"
        low = 0.0 if m.metric in UNIT_INTERVAL else -1.0 if m.metric in SIGNED_UNIT else None
        if low is not None and not (low - 1e-9 <= value <= 1.0 + 1e-9):
            return f"{where} = {value:.6g} lies outside [{low:g}, 1]"
    return None
