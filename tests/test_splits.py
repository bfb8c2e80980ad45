import numpy as np

from benchmark.train import split_indices, split_off


def labels_of(counts) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


def test_splits_partition_the_data_with_the_requested_sizes():
    labels = labels_of([60, 30, 10])
    train, val, test = split_indices(labels, 0.2, 0.1, np.random.default_rng(0))
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    assert np.array_equal(np.sort(np.r_[train, val, test]), np.arange(100))


def test_every_split_keeps_the_class_proportions():
    labels = np.random.default_rng(1).permutation(labels_of([60, 30, 10]))
    train, val, test = split_indices(labels, 0.2, 0.1, np.random.default_rng(0))
    assert np.bincount(labels[test]).tolist() == [6, 3, 1]
    assert np.bincount(labels[val]).tolist() == [12, 6, 2]
    assert np.bincount(labels[train]).tolist() == [42, 21, 7]


def test_same_seed_same_split_and_another_seed_another():
    labels = labels_of([40, 40])
    first = split_indices(labels, 0.25, 0.25, np.random.default_rng(3))
    again = split_indices(labels, 0.25, 0.25, np.random.default_rng(3))
    other = split_indices(labels, 0.25, 0.25, np.random.default_rng(4))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(np.sort(first[2]), np.sort(other[2]))


def test_a_class_too_rare_to_stratify_falls_back_to_a_plain_seeded_draw():
    labels = labels_of([20, 1])  # one sample of class 1: no stratified split exists
    kept, held_out = split_off(np.arange(21), labels, 5, np.random.default_rng(0))
    assert len(held_out) == 5 and np.array_equal(np.sort(np.r_[kept, held_out]), np.arange(21))
    kept2, held_out2 = split_off(np.arange(21), labels, 5, np.random.default_rng(0))
    assert np.array_equal(held_out, held_out2)
    # fewer held-out slots than classes: also a plain draw
    assert len(split_off(np.arange(10), labels_of([4, 3, 3]), 2, np.random.default_rng(0))[1]) == 2


def test_nothing_or_everything_held_out():
    kept, held_out = split_off(np.arange(6), labels_of([3, 3]), 0, np.random.default_rng(0))
    assert len(held_out) == 0 and sorted(kept) == list(range(6))
