"""The `no test data` line of `check`: three views of the held-out data.

  references   the trained method holds nothing of the held-out splits (benchmark/submission/tracing.py `holds`);
  noise        training is unchanged when the protocol's held-out splits are replaced by noise;
  permutation  in a fresh process whose every reachable held-out label is permuted (benchmark/submission/leaks.py),
               every loss, the weights and every output of predict and score are unchanged, and the
               method's code read none of those labels.
"""

from __future__ import annotations

from benchmark.submission.leaks import Plan, permuted_runs
from benchmark.submission.lines import FAIL, PASS, Line
from benchmark.submission.tracing import Trace, held_out_sets, holds, row_hashes, run_traced


def isolation_line(cls, tasks, specs, defaults, base, limit) -> Line:
    """Three views of the held-out data: references kept, inputs replaced, labels permuted everywhere."""
    problems, done, plans = [], {}, {}
    for t in tasks:
        training, held = held_out_sets(base[t])
        if not training or not held:
            problems.append(f"cannot verify on {t}: its protocol built {len(base[t].sets)} TensorSet(s), "
                            f"{len(training)} training and {len(held)} held out; expected both kinds")
            continue
        sets = [base[t].sets[k] for k in held]
        path = holds(base[t].method, sets)
        if path:
            problems.append(f"{t}: the trained method holds held-out data at {path}")
            continue
        poisoned = run_traced(cls, t, specs[t], defaults, limit, poison=frozenset(held))
        why = poisoned.error or base[t].difference(poisoned, metrics=False, outputs=False)
        if why:
            problems.append(f"{t}: training changed when its held-out splits were replaced by noise ({why}); "
                            "a method may use only the batches and context the protocol hands it")
            continue
        plans[t] = plan(base[t], training, held)
        done[t] = f"{t} ({len(held)} held-out splits, {sum(len(s.y) for s in sets)} rows)"
    if plans:
        for t, run in permuted_runs(cls.name, plans, defaults, limit).items():
            leak = _permuted_difference(base[t], run)
            if leak:
                problems.append(f"{t}: {leak}")
                done.pop(t)
    if problems:
        return Line("no test data", FAIL, "; ".join(problems))
    return Line("no test data", PASS, "training unchanged when held-out splits are replaced by noise; losses, "
                                      "weights and every output unchanged when every held-out label is "
                                      "permuted (splits, data sources, caches, loaders); no reference kept: "
                                      + ", ".join(done.values()))


def plan(trace, training: list[int], held: list[int]) -> Plan:
    """What the permuted world needs of the clean run: the held-out sets, the training rows' labels."""
    labels = {}
    for k in training:
        s = trace.sets[k]
        labels.update(zip(row_hashes(s.x), s.y.tolist(), strict=True))
    return Plan(set(held), set(training), labels)


def _permuted_difference(base, run: dict) -> str | None:
    """What the permuted world changed, and what the method read there; None for an honest method."""
    read = run.get("read") or []
    shown = "; ".join(read[:3]) + (f" and {len(read) - 3} more" if len(read) > 3 else "")
    if run.get("error"):
        return f"with every held-out label permuted the run failed: {run['error']}" + (
            f"; it read {shown}" if read else "")
    other = Trace(base.task, losses=run["losses"], state=run["state"],
                  outputs=[tuple(o) for o in run["outputs"]])
    why = base.difference(other, metrics=False)
    if why:
        return (f"with every held-out label permuted, {why}; " + (f"it read {shown}" if read else
                "it read no loader or held-out set, so the labels reached it another way (the call stack, "
                "the garbage collector)") + "; a method may use only the batches and context it is handed")
    if read:
        return f"read held-out labels ({shown}) though no result changed; a method may not touch them"
    return None
