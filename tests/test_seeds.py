"""Named random streams (neurosig.seeds) and the data set's use of them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurosig import data, seeds
from neurosig.data import load_dataset

ROOT_SEEDS = (0, 1, 12345, 2**32 - 1)


def first_draws(seed: int, name: str) -> np.ndarray:
    return seeds.stream(seed, name).integers(0, 2**63, 8)


@pytest.mark.parametrize("seed", ROOT_SEEDS)
def test_the_streams_of_one_root_seed_all_differ(seed) -> None:
    draws = {name: first_draws(seed, name) for name in seeds.STREAMS}
    for a, b in itertools.combinations(draws, 2):
        assert not np.array_equal(draws[a], draws[b]), (a, b)


@pytest.mark.parametrize("seed", ROOT_SEEDS)
def test_a_stream_is_reproducible_and_fresh_each_time(seed) -> None:
    for name in seeds.STREAMS:
        np.testing.assert_array_equal(first_draws(seed, name), first_draws(seed, name))


def test_spawn_keys_are_unique_and_unknown_names_are_refused() -> None:
    assert len(set(seeds.STREAMS.values())) == len(seeds.STREAMS)
    with pytest.raises(KeyError, match="unknown random stream 'splt'"):
        seeds.stream(0, "splt")


@pytest.mark.parametrize("seed", ROOT_SEEDS)
def test_the_split_draws_differ_from_the_initialisation_and_from_spawn(seed) -> None:
    """The data streams are none of the old ``SeedSequence(seed).spawn(n)`` children: the first
    one drew both the validation split and the initial weights of a run."""
    old = [
        np.random.default_rng(s).integers(0, 2**63, 8)
        for s in np.random.SeedSequence(seed).spawn(4)
    ]
    for name in ("split", "train_subset", "test_subset"):
        draws = first_draws(seed, name)
        assert not np.array_equal(draws, first_draws(seed, "init"))
        assert not any(np.array_equal(draws, o) for o in old), name


def test_load_dataset_draws_its_subsets_from_the_data_streams(monkeypatch) -> None:
    asked, stream = [], seeds.stream

    def recording_stream(seed, name):
        asked.append((seed, name))
        return stream(seed, name)

    monkeypatch.setattr(data.seeds, "stream", recording_stream)
    load_dataset("digits", seed=7, n_train=300, n_test=100)
    assert sorted(asked) == [(7, "split"), (7, "test_subset"), (7, "train_subset")]


def test_the_validation_split_is_the_split_streams_and_not_the_initialisations() -> None:
    raw = data._load_raw("digits")
    n_val = round(0.1 * len(raw.y_train))
    ds = load_dataset("digits", seed=7, standardise=False)

    def validation(rng):
        return raw.x_train[data._stratified_partition(raw.y_train, n_val, rng)[0]]

    np.testing.assert_array_equal(ds.x_val, validation(seeds.stream(7, "split")))
    init = validation(seeds.stream(7, "init"))
    old = validation(np.random.default_rng(np.random.SeedSequence(7).spawn(3)[0]))
    assert not np.array_equal(ds.x_val, init) and not np.array_equal(ds.x_val, old)


def test_the_test_subset_does_not_change_the_training_set() -> None:
    full = load_dataset("digits", seed=3, n_train=200)
    fewer = load_dataset("digits", seed=3, n_train=200, n_test=50)
    np.testing.assert_array_equal(full.x_train, fewer.x_train)
    np.testing.assert_array_equal(full.x_val, fewer.x_val)
