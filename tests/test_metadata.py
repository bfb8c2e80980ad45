"""The licence and citation files agree with the package metadata."""

import tomllib

import yaml

from benchmark import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_license_file_is_the_license_pyproject_declares():
    assert PROJECT["license"]["text"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_the_citation_file_names_this_version_and_license():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == PROJECT["version"] and cff["license"] == PROJECT["license"]["text"]
    assert cff["title"] and cff["message"] and all(a.get("name") or a.get("family-names") for a in cff["authors"])
