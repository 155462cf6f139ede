"""Named random streams: the one place that turns an experiment's root seed into generators.

Every random draw of a run comes from one of the streams below, each a
:class:`numpy.random.SeedSequence` of the root seed with its own spawn key. Two streams never
share bits, and a stream does not depend on how many draws another one made, so (for example)
a different validation split leaves the weight initialisation unchanged.

========== ==========================================================================
stream     what it draws
========== ==========================================================================
split      the validation split of the training set
train_subset  the subset of training samples kept by ``data.n_train``
test_subset   the subset of test samples kept by ``data.n_test``
init       the initial network (weights, connectivity, Dale signs, signal projection)
shuffle    the order of the training samples in every epoch
update     draws during learning (dropout, random positives, negatives, input noise)
noise      noise inside simulated networks (unit noise, input spikes)
probe      analysis probes run on a trained network (repeated trials, evaluation spikes)
train_eval the fixed subset of training samples scored after every epoch
========== ==========================================================================

Examples
--------
>>> a = stream(1, "init").standard_normal(3)
>>> b = stream(1, "shuffle").standard_normal(3)
>>> bool((a != b).all())
True
>>> bool((stream(1, "init").standard_normal(3) == a).all())
True
"""

from __future__ import annotations

import numpy as np

# name -> spawn key. The numbers are part of the file format of reproducibility: never reuse or
# renumber one (a new stream takes the next free number).
STREAMS: dict[str, int] = {
    "split": 101,
    "train_subset": 102,
    "test_subset": 103,
    "init": 104,
    "shuffle": 105,
    "update": 106,
    "noise": 107,
    "probe": 108,
    "train_eval": 109,
}


def seed_sequence(seed: int, name: str) -> np.random.SeedSequence:
    """The :class:`~numpy.random.SeedSequence` of stream ``name`` under the root ``seed``."""
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; streams: {', '.join(STREAMS)}")
    return np.random.SeedSequence(seed, spawn_key=(STREAMS[name],))


def stream(seed: int, name: str) -> np.random.Generator:
    """A fresh generator of stream ``name`` under the root ``seed`` (see the module table)."""
    return np.random.default_rng(seed_sequence(seed, name))
