"""Independent random streams of one run, derived by hashing (numpy's SeedSequence), never by arithmetic.

A run (seed, draw) draws from separate streams, each a SeedSequence child keyed by its own name:

  split   which examples are kept, the train / validation / test partition    (seed only)
  noise   label noise, domain shifts, permutations: the task's corruptions    (seed only)
  order   the training batch order, the same for every method                 (seed, draw)
  init    torch's global generator: model initialisation                      (seed, draw)
  method  the method's own generator, `ctx.generator`                         (derived from order)

No stream is a function of another that a method could invert: a method holds `ctx.generator` and
torch's global state, and neither reveals the split or the noise (short of enumerating small seeds
and re-running the protocol, which `check` catches by permuting the held-out labels).
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

DATA_STREAMS = ("split", "noise")
RUN_STREAMS = ("order", "init")


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


def stream(name: str, *entropy: int) -> np.random.SeedSequence:
    """The named child of the run's entropy: unrelated to every other name's."""
    if any(int(e) < 0 for e in entropy):
        raise ValueError(f"seeds are non-negative integers, got {list(entropy)}")
    return np.random.SeedSequence([int(e) for e in entropy], spawn_key=(_key(name),))


def _torch_seed(seq: np.random.SeedSequence) -> int:
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))  # torch wants a 63-bit seed


def data_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(split, noise) numpy generators of a seed: the data a run sees, the same for every method."""
    return tuple(np.random.default_rng(stream(name, seed)) for name in DATA_STREAMS)


def named_rng(seed: int, name: str) -> np.random.Generator:
    """A protocol's extra stream (an OOD set's samples, say): adding one changes no other."""
    return np.random.default_rng(stream(f"set:{name}", seed))


def run_streams(seed: int, draw: int = 0) -> torch.Generator:
    """Seed torch's global generator (model init) and return the batch-order generator of a run.

    The runner's replacement for `seed_everything(seed * 1000 + draw)`: pass the result to the
    family protocol's `run` as its `generator`."""
    torch.manual_seed(init_seed(seed, draw))
    return torch.Generator().manual_seed(_torch_seed(stream("order", seed, draw)))


def init_seed(seed: int, draw: int = 0) -> int:
    """The seed `run_streams` gives torch's global generator (what `torch.initial_seed()` then says)."""
    return _torch_seed(stream("init", seed, draw))


def child_generator(generator: torch.Generator, name: str) -> torch.Generator:
    """A generator hashed from another's seed: its draws never shift the parent's, nor reveal them."""
    return torch.Generator().manual_seed(_torch_seed(stream(name, generator.initial_seed())))


def split_streams(split_seed: int) -> tuple[int, torch.Generator]:
    """(model-init seed, batch-order generator) of one sub-run (a held-out domain): separate streams."""
    return (_torch_seed(stream("init", split_seed)),
            torch.Generator().manual_seed(_torch_seed(stream("order", split_seed))))
