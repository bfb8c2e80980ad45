"""Registries filled by decorators, and discovery of every module in `methods/`.

A duplicate name fails at import and names both files; an unknown name fails
listing the known ones; a hyperparameter default outside its own search space
fails at registration.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from benchmark import FAMILIES, ROOT
from benchmark.errors import BenchmarkError
from benchmark.hparams import TRAINING_KNOBS

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._files: dict[str, str] = {}

    def add(self, name: str, item: T, source: str) -> None:
        if name in self._items and self._files[name] != source:
            raise BenchmarkError(
                f"duplicate {self.kind} name '{name}': registered in {self._files[name]} and in {source}"
            )
        if name in self._items and self._items[name] is not item:
            first, second = (getattr(i, "__qualname__", repr(i)) for i in (self._items[name], item))
            raise BenchmarkError(f"{source}: {self.kind} name '{name}' registered twice in one file ({first} "
                                 f"and {second}); expected one {self.kind} per name")
        self._items[name] = item
        self._files[name] = source

    def get(self, name: str) -> T:
        self.load()
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise BenchmarkError(f"unknown {self.kind} '{name}'; known {self.kind}s: {known}")
        return self._items[name]

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def source(self, name: str) -> str:
        return self._files[name]

    def load(self) -> None:
        """Hook for registries whose members live in modules discovered on first use."""


class MethodRegistry(Registry):
    def __init__(self, directory: Path):
        super().__init__("method")
        self.directory = directory
        self._loaded = False

    def load(self) -> None:
        if not self._loaded:
            self._loaded = True
            discover(self.directory, "methods")


def _relative(path: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def discover(directory: Path, package: str) -> None:
    """Import every module in `directory` (no import list to maintain)."""
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"{package}.{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except (BenchmarkError, KeyboardInterrupt):
            sys.modules.pop(name, None)
            raise
        except BaseException as exc:  # SystemExit too: a module's exit must not end every command unexplained
            sys.modules.pop(name, None)
            raise BenchmarkError(f"{_relative(path)}: failed to import: {type(exc).__name__}: {exc}") from exc


METHODS = MethodRegistry(ROOT / "methods")
METHOD_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
"""What a method's name may be: it is a file name, a DVC stage name's part and a column value."""


def register_method(name: str) -> Callable[[type], type]:
    """Class decorator: `@register_method("erm")`."""

    def decorate(cls: type) -> type:
        source = _relative(inspect.getfile(cls))
        if not isinstance(name, str) or not METHOD_NAME.match(name):
            raise BenchmarkError(f"{source}: @register_method({name!r}): expected a name of lowercase letters, "
                                 "digits and underscores, starting with a letter (the file's name)")
        unknown = set(cls.families) - set(FAMILIES)
        if unknown:
            raise BenchmarkError(f"{source}: method '{name}' declares unknown families {sorted(unknown)}; "
                                 f"expected a subset of {list(FAMILIES)}")
        shared = sorted(set(cls.hparams) & set(TRAINING_KNOBS))
        if shared:
            raise BenchmarkError(f"{source}: method '{name}' hyperparameter '{shared[0]}': the name of a training "
                                 f"knob every method is searched over ({', '.join(TRAINING_KNOBS)}); "
                                 "expected another name")
        for hp_name, hp in cls.hparams.items():
            if not hp.space.contains(hp.default):
                raise BenchmarkError(
                    f"{source}: method '{name}' hyperparameter '{hp_name}': default {hp.default!r} "
                    f"lies outside its search space {hp.space}"
                )
        cls.name = name
        cls.source_file = source
        METHODS.add(name, cls, source)
        return cls

    return decorate
