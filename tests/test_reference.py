"""SP-core: gradients against finite differences, locality, determinism, learning."""

from __future__ import annotations

import numpy as np
import pytest

from neurosig.models.reference import SPCore, SPCoreConfig
from neurosig.sigprop import RULES, positive_weights

N_IN, N_CLASSES = 5, 3
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def small_net(**kw) -> SPCore:
    # the learned label projection: its gradient is checked too (the default is "fixed")
    kw.setdefault("signal", "learned")
    cfg = SPCoreConfig(hidden=(4, 3), activation="tanh", dtype="float64", **kw)
    return SPCore(cfg, N_IN, N_CLASSES, np.random.default_rng(1))


def batch() -> np.ndarray:
    return np.random.default_rng(2).normal(size=(len(Y), N_IN))


def losses_and_grads(net: SPCore, x: np.ndarray):
    # a fresh generator per call: the same random positives in every evaluation
    return net.gradients(x, Y, np.random.default_rng(3))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(("similarity", "norm"), [("dot", "none"), ("cosine", "layer")])
def test_every_layer_gradient_matches_finite_differences(rule, similarity, norm):
    net = small_net(
        loss=rule,
        similarity=similarity,
        norm=norm,
        topk=2,
        temperature=0.5 if similarity == "cosine" else 1.0,
    )
    x = batch()
    _, grads = losses_and_grads(net, x)
    eps = 1e-6
    for name, block in net.blocks.items():
        for key, param in block.params.items():
            numeric = np.zeros_like(param)
            for idx in np.ndindex(param.shape):
                old = param[idx]
                param[idx] = old + eps
                up = losses_and_grads(net, x)[0][name]
                param[idx] = old - eps
                down = losses_and_grads(net, x)[0][name]
                param[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            analytic = grads[name][key]
            err = np.abs(analytic - numeric).max() / max(np.abs(numeric).max(), 1e-8)
            assert err < 1e-6, f"{rule} {similarity}: {name}.{key} relative error {err:.2e}"


@pytest.mark.parametrize("rule", RULES)
def test_update_of_a_layer_reads_nothing_from_later_layers(rule):
    """Poison every later layer with NaN: earlier layers' updates must not change at all."""
    x = batch()
    net = small_net(loss=rule)
    _, reference = losses_and_grads(net, x)
    names = list(net.blocks)
    for cut in range(len(names) - 1):
        poisoned = small_net(loss=rule)
        for later in names[cut + 1 :]:
            for p in poisoned.blocks[later].params.values():
                p[...] = np.nan
        _, grads = losses_and_grads(poisoned, x)
        for name in names[: cut + 1]:
            for key in reference[name]:
                np.testing.assert_array_equal(grads[name][key], reference[name][key])


def test_fixed_signal_is_not_trained():
    net = small_net(signal="fixed")
    before = net.signal.W.copy()
    net.train_batch(batch(), Y, np.random.default_rng(0))
    np.testing.assert_array_equal(net.signal.W, before)
    assert "signal" not in net.loss_names


def test_positive_weights_rules():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 0, 1, 1, 2])
    k = (labels[:, None] == labels[None, :]).astype(float)
    same = k.astype(bool)
    q_all = positive_weights(k, "max_all", rng)
    np.testing.assert_array_equal(q_all, k)
    for _ in range(20):
        q = positive_weights(k, "max_rand", rng)
        assert (q.sum(axis=1) == 1).all() and same[q.astype(bool)].all()
    q = positive_weights(k, "topk", rng, topk=2)
    assert np.diag(q).all(), "a sample's own target is always a positive"
    np.testing.assert_array_equal(q.sum(axis=1), [2, 2, 2, 2, 2, 1])
    assert same[q.astype(bool)].all(), "topk never takes another class"


def test_max_rand_draws_among_ties():
    k = np.ones((4, 4))
    picks = {
        int(positive_weights(k, "max_rand", np.random.default_rng(s))[0].argmax())
        for s in range(30)
    }
    assert len(picks) > 1, "the authors' code always picks the first; neurosig draws at random"


def test_training_is_deterministic_and_state_round_trips():
    x = np.random.default_rng(5).normal(size=(64, N_IN))
    y = np.arange(64) % N_CLASSES

    def run():
        net = SPCore(
            SPCoreConfig(hidden=(16, 16), dropout=0.2), N_IN, N_CLASSES, np.random.default_rng(0)
        )
        rng = np.random.default_rng(1)
        for _ in range(3):
            net.train_batch(x, y, rng)
        return net

    a, b = run(), run()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key])
    fresh = SPCore(
        SPCoreConfig(hidden=(16, 16), dropout=0.2), N_IN, N_CLASSES, np.random.default_rng(9)
    )
    fresh.load_state_dict(sa)
    rng_a, rng_f = np.random.default_rng(7), np.random.default_rng(7)
    a.train_batch(x, y, rng_a)
    fresh.train_batch(x, y, rng_f)
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)


@pytest.mark.parametrize("rule", RULES)
def test_learns_separable_blobs(rule):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3, size=(N_CLASSES, 10))
    y = rng.integers(0, N_CLASSES, 600)
    x = centres[y] + rng.normal(size=(600, 10))
    net = SPCore(SPCoreConfig(hidden=(32, 32), loss=rule, lr=3e-3), 10, N_CLASSES, rng)
    for _ in range(5):
        for b in range(0, 600, 50):
            net.train_batch(x[b : b + 50], y[b : b + 50], rng)
    pred = net.predict(x)
    assert (pred["linear"] == y).mean() > 0.9
    assert (pred["target"] == y).mean() > 0.8
