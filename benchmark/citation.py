"""Citation metadata of a method: the BibTeX entry built from its title, authors, venue, year and url.

A method states its paper once, as class attributes; the entry is derived from them so the two never
disagree. `authors` is "First Last, First Last, ..." (the paper's order; "and others" ends a list
given only in part).
"""

from __future__ import annotations

import re

USES = ("extra_data", "memory", "second_network")
"""What a method may use beyond ERM's one network on the task's training data, shown on the site:
extra_data (samples outside the training set), memory (stored training samples), second_network."""

JOURNALS = ("JMLR", "PNAS", "Neural Computation", "IEEE TNNLS", "TMLR")


def surnames(authors: str) -> list[str]:
    return [name.split()[-1] for name in split_authors(authors) if name != "others"]


def split_authors(authors: str) -> list[str]:
    names = [n.strip() for n in authors.split(",") if n.strip()]
    return [("others" if n == "and others" else n) for n in names]


def bibtex_entry(title: str, authors: str, venue: str, year: int, url: str) -> str:
    names = split_authors(authors)
    first = re.sub(r"[^a-z]", "", surnames(authors)[0].lower()) if names else "anon"
    word = next((w for w in re.findall(r"[a-z]+", title.lower()) if len(w) > 3), "paper")
    fields = {"title": "{" + title + "}", "author": " and ".join(names), "year": str(year)}
    if venue.startswith("arXiv"):
        kind = "misc"
        fields["note"] = venue
    elif venue in JOURNALS:
        kind, fields["journal"] = "article", venue
    else:
        kind, fields["booktitle"] = "inproceedings", venue
    if url:
        fields["url"] = url
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@{kind}{{{first}{year}{word},\n{body}\n}}"
