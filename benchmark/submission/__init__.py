"""Submission tooling: what a method pull request holds, `check` (a method verified by re-running it, not by
trust), `verify` (committed cells re-run) and `new-method` (the scaffold)."""
