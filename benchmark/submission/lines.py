"""One line of a `check` report: the check, PASS / FAIL / SKIP, and what it found."""

from __future__ import annotations

from dataclasses import dataclass

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class Line:
    check: str
    status: str
    text: str

    def __str__(self) -> str:
        return f"{self.status:<4}  {self.check:<13} {self.text}"
