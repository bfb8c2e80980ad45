"""About: protocols, metric definitions, conventions, how to reproduce a number and submit a method."""

import pandas as pd
import streamlit as st

import data
import tables
import ui

st.title("About this benchmark")
st.markdown("""
**The question:** does a regularizer or training procedure make a network more robust, and under which kind of
trouble? Every method trains the same model with the same optimizer, epochs and data as **ERM** (plain
cross-entropy; in continual learning, plain sequential fine-tuning), and is judged by its difference from ERM.
""")

st.header("Protocols")
st.markdown("""
- **Shared recipe.** Each (method, task) cell trains several seeds; a seed fixes the data split, the noise or
  shift and the initialization, so two methods on the same seed see the same data. Where the pipeline runs a
  search phase, each method (ERM included, over the shared training knobs) gets seeded random draws (draw 0 =
  the defaults), the draw kept is the one with the best *validation* score, never a test score, and the
  reported seeds are fresh ones. A results set without a search runs every method at its defaults: the
  method page names the rule per task, and the family pages then say "ERM (defaults)", not "tuned ERM".
- **Noisy labels.** Training and validation labels are corrupted (symmetric, class-pair flips or
  instance-dependent); test labels are clean. The checkpoint is the epoch with the best *noisy*-validation
  accuracy.
- **Domain generalization.** Leave one domain out; models are selected on validation splits of the training
  domains. The test-domain oracle is reported on its own switch, never mixed with it.
- **Continual learning.** Experiences arrive in order (class-, task- or domain-incremental); one model, never
  reset. After each experience the model is evaluated on every experience: the accuracy matrix R.
- **OOD detection.** Each trained model is scored by every post-hoc scorer (MSP, MaxLogit, Energy, ODIN,
  Mahalanobis, KNN, ReAct…); scorer settings are tuned on validation OOD sets, never on the test OOD sets.
""")

st.header("Metrics")
METRICS = [
    (
        "Noisy labels",
        "test_acc",
        "clean test accuracy at the best noisy-validation epoch (primary)",
        "higher",
    ),
    ("Noisy labels", "last_acc", "clean test accuracy after the last epoch", "higher"),
    (
        "Noisy labels",
        "memorization",
        "share of corrupted training samples predicted as their wrong label",
        "lower",
    ),
    (
        "Noisy labels",
        "oracle_test_acc",
        "best clean test accuracy over epochs — reads test labels, never ranked",
        "higher",
    ),
    (
        "Domain generalization",
        "test_acc",
        "held-out-domain accuracy (primary; per-domain rows too)",
        "higher",
    ),
    ("Domain generalization", "worst_domain_acc", "accuracy on the weakest held-out domain", "higher"),
    ("Continual learning", "acc", "mean_j R[T][j]: final average accuracy (primary)", "higher"),
    (
        "Continual learning",
        "forgetting",
        "mean_{j<T} (max_{j≤i<T} R[i][j] − R[T][j]) (Chaudhry et al.)",
        "lower",
    ),
    ("Continual learning", "bwt", "mean_{j<T} (R[T][j] − R[j][j]): backward transfer", "higher"),
    (
        "Continual learning",
        "fwt",
        "mean_{j>1} (R[j−1][j] − b_j), b_j = untrained accuracy: forward transfer",
        "higher",
    ),
    ("OOD detection", "auroc", "P(score of an ID input > score of an OOD input) (primary)", "higher"),
    (
        "OOD detection",
        "fpr95",
        "share of OOD inputs accepted as ID at the threshold keeping 95% of ID inputs",
        "lower",
    ),
    (
        "OOD detection",
        "aupr_in / aupr_out",
        "average precision with ID / OOD as the positive class",
        "higher",
    ),
    ("OOD detection", "id_acc", "classification accuracy on in-distribution test data", "higher"),
]
st.dataframe(pd.DataFrame(METRICS, columns=["family", "metric", "definition", "better"]), hide_index=True)

st.header("Conventions")
st.markdown("""
- **mean ± std** over seeds, std with ddof = 1. **95% CI**: Student-t interval over seeds.
- **Rank** 1 = best, per task and metric; equal means share a rank.
- **Verdict against ERM** (the first column of every leaderboard): *better*, *worse* or *not separable*, from a
  paired test against ERM over the task's seeds, Holm-adjusted across the task's methods at α = 0.05. A results
  set written before these tests existed gets an **unadjusted** verdict (the paired gain's 95% CI against 0),
  and every page says so. *Near best*: not separable from the task's best method; never shown for a method
  worse than ERM. *MDE*: the smallest difference from ERM the task's seeds detect with 80% power.
- **Pooled effect** per family: the gain over ERM relative to ERM's score, pooled over the family's tasks
  (hierarchical bootstrap CI), with its own adjusted verdict. Family-specific methods (e.g. replay) are shown
  apart, never ranked with general ones.
- **Cost ×ERM**: a method's wall time per run over ERM's on the same task.
- **Gain vs ERM** = method mean − ERM mean on the same task and metric; for lower-is-better metrics a negative
  gain is an improvement. The overview's profile flips those signs so that positive always means more robust.
- **OOD:** in-distribution is the **positive** class; a scorer gives higher scores to inputs that look ID.
- An empty `selection`, `scorer` or `domain` in the runs table means "not applicable". Failed runs stay in the
  tables with their error and count in the `failed` column, not in the mean.
""")

st.header("Reproduce a number")
rs = ui.current()
runs = rs.get("runs")
if ui.unusable(rs, "runs"):
    st.info(f"{ui.unusable(rs, 'runs')} `dvc repro` rebuilds every number.")
else:
    cells = runs.drop_duplicates(["family", "task", "method"])
    left, mid, right = st.columns(3)
    family = left.selectbox(
        "Family", sorted(cells["family"].unique()), format_func=tables.label, key="about_family", bind="query-params"
    )
    task = mid.selectbox(
        "Task", sorted(cells.loc[cells["family"] == family, "task"].unique()), key="about_task", bind="query-params"
    )
    method = right.selectbox(
        "Method", sorted(cells.loc[cells["task"] == task, "method"].unique()), key="about_method", bind="query-params"
    )
    cell = runs[(runs["task"] == task) & (runs["method"] == method)]
    rev = next((r for r in cell["git_rev"] if r), "")
    profile = next((p for p in cell["profile"] if p), "default")
    seeds = " ".join(str(s) for s in sorted(cell["seed"].unique()))
    checkout = f"git checkout {rev}\n" if rev else "# the runs carry no git revision: use the commit that wrote them\n"
    # a set inside results/ named after a pipeline directory (results/full <- full/dvc.yaml) comes from it
    pipeline = f"{rs.path.name}/dvc.yaml:" if (data.ROOT / rs.path.name / "dvc.yaml").is_file() else ""
    st.code(
        f"{checkout}pip install -e '.[pipeline]'\n"
        f"dvc repro {pipeline}train@{task}--{method}   # all seeds of this cell ({seeds})\n"
        f"dvc repro {pipeline}aggregate                 # rebuilds {rs.path.name}/*.parquet\n"
        "streamlit run site/app.py",
        language="bash",
    )
    st.caption(
        f"Without DVC: `python -m benchmark run --method {method} --task {task} --seeds '{seeds}' "
        f"--profile {profile}` then `python -m benchmark aggregate`. `dvc repro` alone rebuilds every "
        "number; the profile and seeds come from params.yaml."
    )

st.header("Submit a method")
st.markdown("""
A method enters the leaderboard as code, never as claimed numbers (the whole path: `CONTRIBUTING.md`).

1. `python -m benchmark new-method <name>` writes `methods/<name>.py` (a commented template) and its test.
2. Implement it: override only the hooks it needs (`loss`, `step`, `on_epoch_end`, `on_experience_end`,
   `score`…); declare each hyperparameter as a default plus a search space; cite the paper, state the formula
   in the docstring and the extra cost in `extra_cost` — the Method page shows exactly these. The family
   protocol owns the data, the loop and the evaluation, so a method never sees test data.
3. `python -m benchmark grid` adds its cells to `grid.yaml`; `python -m benchmark check <name>` verifies it.
4. Open a pull request with the method, its test and `grid.yaml`; the pipeline computes its numbers.
""")
