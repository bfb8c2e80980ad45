"""The method catalogue (methods.parquet): docstrings as text and formulas, hyperparameter tables."""

from __future__ import annotations

import json

import pandas as pd


def doc_blocks(doc: str) -> list[tuple[str, str]]:
    """A method docstring as ('text' | 'formula', text) blocks: indented lines are formulas."""
    blocks: list[tuple[str, list[str]]] = []
    for line in (doc or "").strip("\n").splitlines():
        kind = "formula" if line.startswith("  ") and line.strip() else "text"
        if not line.strip():
            kind = "break"
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    out = []
    for kind, lines in blocks:
        if kind == "formula":
            out.append(("formula", "\n".join(line[2:] if line.startswith("  ") else line for line in lines)))
        elif kind == "text":
            out.append(("text", " ".join(line.strip() for line in lines)))
    return out


def hparam_spec(spec: dict) -> pd.DataFrame:
    """Rows per hyperparameter: default, search space, meaning. `spec` maps name -> {default, space, doc}
    (or a bare default)."""
    rows = []
    for name, entry in spec.items():
        entry = entry if isinstance(entry, dict) else {"default": entry}
        rows.append(
            {
                "hyperparameter": name,
                "default": _short(entry.get("default")),
                "search space": str(entry.get("space", entry.get("distribution", "")) or "—"),
                "meaning": str(entry.get("doc", "")),
            }
        )
    return pd.DataFrame(rows, columns=["hyperparameter", "default", "search space", "meaning"])


def chosen_table(chosen: dict[str, dict], rules: dict[str, str], draws: dict[str, object]) -> pd.DataFrame:
    """One row per task: the draw kept, how it was chosen, then one column per hyperparameter."""
    names = list(dict.fromkeys(n for values in chosen.values() for n in values))
    rows = [
        {
            "task": task,
            "draw": _short(draws.get(task)),
            "selection rule": rules.get(task) or "—",
            **{n: _short(values.get(n)) for n in names},
        }
        for task, values in chosen.items()
    ]
    return pd.DataFrame(rows, columns=["task", "draw", "selection rule", *names])


USES = {
    "extra_data": "uses extra data",
    "memory": "keeps a memory of past samples",
    "second_network": "trains a second network",
}
_HINTS = {  # words of an older catalogue's extra_cost / doc that name what a method uses
    "extra_data": ("outlier data", "auxiliary", "extra data", "outlier exposure", "outlier set"),
    "memory": ("memory", "replay", "buffer of"),
    "second_network": ("second network", "two networks", "peer network", "teacher"),
}


def uses(entry) -> tuple[list[str], bool]:
    """(what the method uses beyond the training data and one network, declared?) from the catalogue's
    `uses` (comma list), else guessed from its extra_cost and doc text (then declared is False)."""
    if entry is not None and "uses" in entry.index:
        return [u.strip() for u in str(entry["uses"] or "").split(",") if u.strip()], True
    text = " ".join(str(entry.get(k) or "") for k in ("extra_cost", "doc")).lower() if entry is not None else ""
    return [u for u, words in _HINTS.items() if any(w in text for w in words)], False


def citation(entry) -> dict:
    """title, authors, venue, year, url, bibtex of a catalogue entry ('' where it has none)."""
    out = {
        k: str(entry.get(k) or "") if entry is not None else "" for k in ("title", "authors", "venue", "url", "bibtex")
    }
    year = entry.get("year") if entry is not None else None
    out["year"] = "" if year is None or pd.isna(year) or year == "" else str(int(float(year)))
    out["paper"] = str(entry.get("paper") or "") if entry is not None else ""
    return out


def _short(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def parse_json(text, default):
    try:
        value = json.loads(text) if isinstance(text, str) and text else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default
