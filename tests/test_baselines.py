"""Baselines (BP, FA, DFA, Forward-Forward, random features): gradients, determinism, learning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurosig.config import check, from_dict
from neurosig.errors import ConfigError
from neurosig.models import baselines
from neurosig.models.baselines import (
    Backprop,
    DirectFeedbackAlignment,
    FeedbackAlignment,
    ForwardForward,
    ForwardForwardConfig,
    MLPConfig,
    RandomFeatures,
    wrong_labels,
)
from neurosig.registry import get_model

NAMES = ("bp", "fa", "dfa", "ff", "random-features")
EPS = 1e-6
N_IN, N_CLASSES = 5, 3


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def tiny(cls, seed=0, **changes):
    """A 5-4-3-3 float64 network of class ``cls``."""
    config_cls = ForwardForwardConfig if cls is ForwardForward else MLPConfig
    config = config_cls(hidden=(4, 3), dtype="float64", **changes)
    return cls(config, N_IN, N_CLASSES, np.random.default_rng(seed))


@pytest.fixture
def batch():
    rng = np.random.default_rng(42)
    return rng.standard_normal((6, N_IN)), np.array([0, 1, 2, 0, 1, 2])


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)


def finite_difference(model, x, y, loss_name, block_name, seed=7):
    """Central differences of ``losses[loss_name]`` w.r.t. every parameter of one block."""
    out = {}
    for key, p in model.blocks[block_name].params.items():
        fd = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + EPS
            up = model.gradients(x, y, np.random.default_rng(seed))[0][loss_name]
            p[idx] = old - EPS
            down = model.gradients(x, y, np.random.default_rng(seed))[0][loss_name]
            p[idx] = old
            fd[idx] = (up - down) / (2 * EPS)
        out[key] = fd
    return out


def assert_matches_fd(model, x, y, loss_name, block_names, seed=7):
    _, grads = model.gradients(x, y, np.random.default_rng(seed))
    for name in block_names:
        fd = finite_difference(model, x, y, loss_name, name, seed)
        for key in ("W", "b"):
            err = relative_error(grads[name][key], fd[key])
            assert err < 1e-6, f"{name}.{key}: relative error {err:.2e}"


def build(name, seed=0, **changes):
    spec = get_model(name)
    config = spec.config_cls(**{"hidden": (8, 8), **changes})
    check(config)
    return spec.build(config, 10, 3, np.random.default_rng(seed))


def assert_states_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), key


# --------------------------------------------------------------------------------------------
# Gradient checks (float64, central differences)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu"])
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_bp_gradient_is_exact(batch, activation, norm):
    model = tiny(Backprop, activation=activation, norm=norm)
    assert_matches_fd(model, *batch, "output", ["layer1", "layer2", "output"])


def test_bp_gradient_with_dropout_mask_is_exact(batch):
    # The same rng gives the same masks, so the loss is a fixed function of the weights.
    model = tiny(Backprop, dropout=0.3)
    assert_matches_fd(model, *batch, "output", ["layer1", "layer2", "output"])


def test_fa_last_layer_exact_hidden_layers_not(batch):
    model = tiny(FeedbackAlignment, activation="tanh")
    assert_matches_fd(model, *batch, "output", ["output"])
    _, grads = model.gradients(*batch, np.random.default_rng(7))
    fd = finite_difference(model, *batch, "output", "layer1")
    assert relative_error(grads["layer1"]["W"], fd["W"]) > 1e-2  # B really replaces W


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_fa_with_weight_transport_is_backprop(batch, norm):
    model = tiny(FeedbackAlignment, activation="tanh", norm=norm)
    for name, matrix in model.feedback.items():
        matrix[...] = model.blocks[name].W
    assert_matches_fd(model, *batch, "output", ["layer1", "layer2", "output"])


def test_fa_starts_from_backprop_weights():
    bp, fa = tiny(Backprop), tiny(FeedbackAlignment)
    for name in bp.blocks:
        assert np.array_equal(bp.blocks[name].W, fa.blocks[name].W)
    assert {k: v.shape for k, v in fa.feedback.items()} == {"layer2": (3, 4), "output": (3, 3)}


def test_dfa_last_layer_exact(batch):
    model = tiny(DirectFeedbackAlignment, activation="tanh")
    assert_matches_fd(model, *batch, "output", ["output"])
    assert {k: v.shape for k, v in model.feedback.items()} == {"layer1": (3, 4), "layer2": (3, 3)}


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_dfa_last_hidden_layer_with_output_weights_is_backprop(batch, norm):
    model = tiny(DirectFeedbackAlignment, activation="leaky_relu", norm=norm)
    model.feedback["layer2"][...] = model.blocks["output"].W
    assert_matches_fd(model, *batch, "output", ["layer2", "output"])


def test_random_features_trains_only_the_readout(batch):
    model = tiny(RandomFeatures, activation="tanh")
    assert_matches_fd(model, *batch, "readout", ["readout"])
    before = model.state_dict()
    model.train_batch(*batch, np.random.default_rng(0))
    after = model.state_dict()
    for key in ("layer1.W", "layer1.b", "layer2.W", "layer2.b"):
        assert np.array_equal(before[key], after[key])
    assert not np.array_equal(before["readout.W"], after["readout.W"])


@pytest.mark.parametrize("kind", ["mean_squares", "sum_squares"])
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_ff_layer_update_is_gradient_of_its_own_loss(batch, kind, norm):
    model = tiny(ForwardForward, goodness=kind, norm=norm, theta=0.5, dropout=0.2)
    for name in ("layer1", "layer2"):
        assert_matches_fd(model, *batch, name, [name])
    assert_matches_fd(model, *batch, "readout", ["readout"])


def test_ff_loss_at_threshold():
    g = np.array([2.0, 2.0])
    loss, d_pos, d_neg = baselines.ff_loss(g, g, theta=2.0)
    assert loss == pytest.approx(2 * np.log(2))
    assert np.allclose(d_pos, -0.25) and np.allclose(d_neg, 0.25)


# --------------------------------------------------------------------------------------------
# Forward-Forward negative data and readouts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_wrong_labels_never_true_and_cover_other_classes(n_classes):
    rng = np.random.default_rng(0)
    y = rng.integers(0, n_classes, 5000)
    y_neg = wrong_labels(y, n_classes, rng)
    assert not np.any(y_neg == y)
    for c in range(n_classes):
        assert set(y_neg[y == c]) == set(range(n_classes)) - {c}
    again = wrong_labels(y, n_classes, np.random.default_rng(1))
    assert np.array_equal(again, wrong_labels(y, n_classes, np.random.default_rng(1)))
    # Uniform over the C - 1 wrong classes: each offset count is Binomial(5000, 1/(C-1));
    # 5 standard deviations give a false-failure rate below 1e-5 per offset.
    counts = np.bincount((y_neg - y) % n_classes, minlength=n_classes)[1:]
    p = 1 / (n_classes - 1)
    assert np.all(np.abs(counts - 5000 * p) <= 5 * np.sqrt(5000 * p * (1 - p)))


def test_ff_trains_on_wrong_labels(batch, monkeypatch):
    seen = []

    def recording(y, n_classes, rng):
        y_neg = wrong_labels(y, n_classes, rng)
        seen.append((np.array(y), y_neg))
        return y_neg

    monkeypatch.setattr(baselines, "wrong_labels", recording)
    model = tiny(ForwardForward)
    for seed in range(20):
        model.train_batch(*batch, np.random.default_rng(seed))
    assert len(seen) == 20
    assert all(not np.any(y == y_neg) for y, y_neg in seen)


def test_ff_readout_layers():
    deep = ForwardForward(ForwardForwardConfig(hidden=(4, 5, 6)), 3, 2, np.random.default_rng(0))
    assert deep.readout_layers == ("layer2", "layer3")
    assert deep.blocks["readout"].n_in == 11
    assert deep.loss_names == ("layer1", "layer2", "layer3", "readout")
    one = ForwardForward(ForwardForwardConfig(hidden=(4,)), 3, 2, np.random.default_rng(0))
    assert one.readout_layers == ("layer1",)
    every = ForwardForward(
        ForwardForwardConfig(hidden=(4, 5), predict_skip_first=False),
        3,
        2,
        np.random.default_rng(0),
    )
    assert every.readout_layers == ("layer1", "layer2")


# --------------------------------------------------------------------------------------------
# Protocol, determinism, checkpoints
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_protocol(name):
    model = build(name, dropout=0.5)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 10)), rng.integers(0, 3, 7)
    losses = model.train_batch(x, y, rng)
    assert tuple(losses) == model.loss_names
    assert all(isinstance(v, float) and np.isfinite(v) for v in losses.values())
    predictions = model.predict(x)
    assert tuple(predictions) == model.readouts
    for labels in predictions.values():
        assert labels.shape == (7,) and np.issubdtype(labels.dtype, np.integer)
    activity = model.hidden_activity(x)
    assert [a.shape for a in activity] == [(7, 8), (7, 8)]
    for a, b in zip(activity, model.hidden_activity(x), strict=True):
        assert np.array_equal(a, b)  # evaluation mode: no dropout
    assert all(a.dtype == np.float32 for a in activity)
    state = model.state_dict()
    assert all(v.dtype == np.float32 for k, v in state.items() if not k.endswith(".t"))
    # neurosig.train stores every non-"adam." array under dims "<block>_out", "<block>_in".
    sizes = {}
    for key, value in state.items():
        if not key.startswith("adam."):
            block = key.split(".", 1)[0]
            for dim, size in zip(("out", "in"), value.shape, strict=False):
                assert sizes.setdefault(f"{block}_{dim}", size) == size, key
    assert get_model(name).forward_only == (name in ("ff", "random-features"))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_is_bit_identical(name):
    states = []
    for _ in range(2):
        model = build(name, seed=3, dropout=0.2)
        rng = np.random.default_rng(11)
        for _ in range(3):
            x, y = rng.standard_normal((16, 10)), rng.integers(0, 3, 16)
            model.train_batch(x, y, rng)
        states.append(model.state_dict())
    assert_states_equal(*states)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(name):
    rng = np.random.default_rng(5)
    data = [(rng.standard_normal((16, 10)), rng.integers(0, 3, 16)) for _ in range(4)]
    original = build(name, seed=0, dropout=0.1)
    for x, y in data[:2]:
        original.train_batch(x, y, np.random.default_rng(0))
    state = original.state_dict()
    kept = {k: v.copy() for k, v in state.items()}
    copy = build(name, seed=1, dropout=0.1)
    copy.load_state_dict(state)
    assert_states_equal(copy.state_dict(), state)
    for x, y in data[2:]:
        assert original.train_batch(x, y, np.random.default_rng(0)) == copy.train_batch(
            x, y, np.random.default_rng(0)
        )
    assert_states_equal(original.state_dict(), copy.state_dict())
    assert_states_equal(state, kept)  # a state dict holds copies, not views of the weights


def test_load_state_dict_refuses_a_foreign_state():
    with pytest.raises(ValueError, match="missing"):
        build("bp").load_state_dict(build("dfa").state_dict())
    with pytest.raises(ValueError, match="shape"):
        build("bp").load_state_dict(build("bp", hidden=(8, 9)).state_dict())


def test_schedule_factor_zero_freezes_weights(batch):
    model = tiny(Backprop)
    model.set_schedule_factor(0.0)
    before = model.state_dict()
    model.train_batch(*batch, np.random.default_rng(0))
    after = model.state_dict()
    assert np.array_equal(before["layer1.W"], after["layer1.W"])
    assert all(opt.lr == 0.0 for opt in model.optimisers.values())


def test_same_seed_same_initial_architecture():
    weights = {name: build(name).state_dict() for name in ("bp", "fa", "dfa", "random-features")}
    for name in ("fa", "dfa", "random-features"):
        for key in ("layer1.W", "layer2.b"):
            assert np.array_equal(weights["bp"][key], weights[name][key])
    for name in ("fa", "dfa"):
        assert np.array_equal(weights["bp"]["output.W"], weights[name]["output.W"])
    assert np.array_equal(weights["bp"]["output.W"], weights["random-features"]["readout.W"])


def test_config_validation():
    with pytest.raises(ConfigError, match="goodness"):
        from_dict(ForwardForwardConfig, {"goodness": "energy"}, "model")
    with pytest.raises(ConfigError, match="hidden"):
        from_dict(MLPConfig, {"hidden": []}, "model")
    with pytest.raises(ConfigError, match="hidden"):
        from_dict(MLPConfig, {"hidden": [0]}, "model")
    assert all(f.metadata["doc"] for f in dataclasses.fields(ForwardForwardConfig))


# --------------------------------------------------------------------------------------------
# Learning smoke test
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    """Three Gaussian blobs in 10-D: 300 training and 300 test samples."""
    rng = np.random.default_rng(0)
    centres = 2.0 * rng.standard_normal((3, 10))
    y = rng.integers(0, 3, 600)
    x = centres[y] + rng.standard_normal((600, 10))
    return x[:300], y[:300], x[300:], y[300:]


@pytest.mark.parametrize(
    ("name", "changes", "epochs", "floor"),
    [
        ("bp", {}, 5, 0.8),
        ("fa", {}, 5, 0.8),
        ("dfa", {}, 5, 0.8),
        ("random-features", {}, 5, 0.8),
        # Unit-L2 inputs to layer 2 need sqrt(n)-times larger weights than unit-RMS inputs to
        # reach a mean-square goodness of theta; with the defaults FF learns too slowly here.
        ("ff", {"length_norm": "rms", "lr": 1e-2}, 5, 0.6),
        ("ff", {"goodness": "sum_squares"}, 10, 0.6),
    ],
)
def test_learns_separable_blobs(blobs, name, changes, epochs, floor):
    x, y, x_test, y_test = blobs
    model = build(name, **{"hidden": (32, 32), "lr": 3e-3, **changes})
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 25):
            idx = order[start : start + 25]
            model.train_batch(x[idx], y[idx], rng)
    for readout, labels in model.predict(x_test).items():
        accuracy = (labels == y_test).mean()
        assert accuracy > floor, f"{name} {readout}: {accuracy:.2f}"
