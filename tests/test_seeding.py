"""A run's random streams are SeedSequence children: independent, and none computable from another."""

import numpy as np
import torch

from benchmark.seeding import child_generator, data_streams, run_streams, split_streams


def draws(generator: torch.Generator, n: int = 8) -> list[int]:
    return torch.randint(0, 2**31, (n,), generator=generator).tolist()


def test_a_run_gets_the_same_batch_order_and_init_every_time():
    a, init_a = draws(run_streams(3, 1)), torch.randn(4)
    b, init_b = draws(run_streams(3, 1)), torch.randn(4)
    assert a == b and torch.equal(init_a, init_b)  # every method of a seed sees ERM's batches
    assert draws(run_streams(3, 2)) != a and draws(run_streams(4, 1)) != a


def test_the_split_and_the_noise_are_separate_streams_of_the_seed_alone():
    split, noise = data_streams(5)
    again_split, _ = data_streams(5)
    assert np.array_equal(split.permutation(50), again_split.permutation(50))
    assert not np.array_equal(data_streams(5)[0].permutation(50), noise.permutation(50))


def test_what_a_method_holds_is_no_arithmetic_of_the_seed():
    seeds = [child_generator(run_streams(s, 0), "method").initial_seed() for s in range(4)]
    steps = np.diff(seeds)
    assert len(set(seeds)) == 4 and len(set(steps.tolist())) == 3  # not seed * k + c
    order = run_streams(0, 0)
    assert child_generator(order, "method").initial_seed() not in (order.initial_seed(),
                                                                   order.initial_seed() + 1_000_003)
    init_seed, generator = split_streams(12345)
    assert init_seed != generator.initial_seed()
