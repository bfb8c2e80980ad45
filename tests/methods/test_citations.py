"""Every registered method states its paper in full (title, authors, venue, year, link, BibTeX, what it uses
beyond ERM), the BibTeX entry parses, and the short `paper` string agrees with the fields."""

import re

import pytest

from benchmark.citation import USES, bibtex_entry, surnames
from benchmark.registry import METHODS


def parse_bibtex(text: str) -> tuple[str, str, dict[str, str]]:
    """@type{key, field = {value}, ...}: braces balanced, every field braced; raises ValueError otherwise."""
    head = re.match(r"\s*@(\w+)\s*\{\s*([^,\s{}]+)\s*,", text)
    if not head:
        raise ValueError(f"no '@type{{key,' head in {text[:40]!r}")
    fields, i = {}, head.end()
    while True:
        m = re.compile(r"\s*(\w+)\s*=\s*\{").match(text, i)
        if not m:
            break
        depth, j = 1, m.end()
        while depth:
            if j >= len(text):
                raise ValueError(f"unbalanced braces in field {m.group(1)}")
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        fields[m.group(1).lower()] = text[m.end():j - 1]
        i = re.compile(r"\s*,?").match(text, j).end()
    if not re.fullmatch(r"\s*\}\s*", text[i:]):
        raise ValueError(f"unparsed text after the fields: {text[i:i + 40]!r}")
    return head.group(1).lower(), head.group(2), fields


def test_the_parser_rejects_broken_entries():
    good = "@misc{a2020b,\n  title = {{T}},\n  year = {2020}\n}"
    assert parse_bibtex(good) == ("misc", "a2020b", {"title": "{T}", "year": "2020"})
    for bad in ["@misc{a2020b, title = {{T}, year = {2020}}", "misc{a, title = {T}}", "@misc{a, title = T}"]:
        with pytest.raises(ValueError):
            parse_bibtex(bad)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_states_its_paper_in_full(name):
    cls = METHODS.get(name)
    where = cls.source_file
    for field in ("title", "authors", "venue"):
        assert isinstance(getattr(cls, field), str) and getattr(cls, field).strip(), f"{where}: set `{field}`"
    assert isinstance(cls.year, int) and 1950 <= cls.year <= 2030, f"{where}: `year` {cls.year!r}"
    assert cls.url == "" or re.fullmatch(r"https://(arxiv\.org/abs/\d{4}\.\d{4,5}|doi\.org/10\.\S+|\S+)",
                                         cls.url), f"{where}: `url` {cls.url!r}"
    assert set(cls.uses) <= set(USES) and isinstance(cls.uses, tuple), f"{where}: `uses` {cls.uses!r}"

    kind, _key, fields = parse_bibtex(cls.bibtex)
    assert kind in {"article", "inproceedings", "misc"}
    assert fields["title"].strip("{}") == cls.title
    assert fields["year"] == str(cls.year)
    assert surnames(cls.authors)[0] in fields["author"]

    # the short citation names the first author (both for two authors) and the year
    assert str(cls.year) in cls.paper, f"{where}: paper {cls.paper!r} lacks year {cls.year}"
    shown = surnames(cls.authors)
    expected = shown[:2] if len(shown) == 2 else shown[:1]
    for surname in expected:
        assert surname in cls.paper, f"{where}: paper {cls.paper!r} does not name {surname}"
    if "'" in cls.paper:  # a quoted title must be the title
        assert cls.title in cls.paper


def test_generated_entries_follow_the_venue():
    assert bibtex_entry("A B", "Ann Lee, Bo Chen", "JMLR", 2014, "").startswith("@article{lee2014")
    assert "note = {arXiv:1}" in bibtex_entry("A B", "Ann Lee", "arXiv:1", 2014, "")
    entry = bibtex_entry("Deep Things", "Ann Lee, and others", "ICML", 2020, "https://x.org")
    assert parse_bibtex(entry)[2]["author"] == "Ann Lee and others"
    assert parse_bibtex(entry)[2]["booktitle"] == "ICML"


def test_memory_and_second_network_are_declared_where_used():
    # methods that keep training samples or a second model say so, for the site to flag them
    for name, use in [("replay", "memory"), ("agem", "memory"), ("der", "memory"), ("gdumb", "memory"),
                      ("coteaching", "second_network"), ("lwf", "second_network"),
                      ("rehearsal_free", "second_network")]:
        assert use in METHODS.get(name).uses, name
