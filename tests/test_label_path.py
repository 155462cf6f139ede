"""``label_path``: the label read by every layer ("direct") or only at the front ("stream").

With ``"stream"`` each layer identifies the presented class from its own live target stream
(the slot of its nearest class memory, a free slot for a novel target) and the target readout
maps slots to classes with a count table; see docs/learning-rules.md, "Label path".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurosig.analyses.audit import audit_model
from neurosig.data import load_dataset
from neurosig.models.lif import CURRENT_DRIVEN, LIFConfig, build_lif
from neurosig.models.rate import RateConfig, build_rate
from neurosig.models.rate_network import equations_text
from neurosig.models.rate_reference import _Run

RATE_SMALL = dict(hidden=(5, 4), chunk=3, presentation=3.0, dt=1.0, tau=2.0)
LIF_SMALL = dict(hidden=(6, 5), chunk=4, presentation=10.0, dt=0.5, branch_every=2)


def _build(family: str, **fields):
    if family == "rate":
        return build_rate(RateConfig(**{**RATE_SMALL, **fields}), 6, 3, np.random.default_rng(0))
    return build_lif(LIFConfig(**{**LIF_SMALL, **fields}), 6, 3, np.random.default_rng(0))


# --------------------------------------------------------------------------------------------
# The audit: which layers read the label
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["rate", "lif"])
def test_direct_label_reaches_every_layer(family):
    report = audit_model(_build(family, label_path="direct"))
    assert report.label_direct_layers == (1.0, 2.0, 3.0)  # both hidden layers and readout


@pytest.mark.parametrize(
    ("family", "fields"),
    [
        ("rate", {}),
        ("rate", dict(mode="phases", signal="learned")),
        ("rate", dict(rule="hebbian-mse", anti_collapse="normalise")),
        ("lif", {}),
        ("lif", dict(mode="phases", loss="mse")),
    ],
)
def test_stream_label_reaches_only_the_readout(family, fields):
    report = audit_model(_build(family, label_path="stream", **fields))
    (row,) = [row for row in report.rows if row.check == "label path"]
    assert report.ok and report.forward_only and report.local, report.table()
    assert report.label_direct_layers == (3.0,), row.detail  # the readout (layer L + 1) only
    assert "summary" not in row.detail and "layer1" not in row.detail


def test_stream_summary_groups_choose_a_slot_and_read_no_label():
    text = equations_text(RateConfig(label_path="stream"))
    assert "act = live(t)*int(Stt > 1e-12)" in text
    assert "novel = int(best < novelty)*int(free >= 0)" in text
    assert "y0 = act*int(slot == 0)" in text
    direct = equations_text(RateConfig())
    assert "live(t)" not in direct and "slot" not in direct


# --------------------------------------------------------------------------------------------
# The rule (numpy reference) and Brian2 against it
# --------------------------------------------------------------------------------------------


def _run_for_choice(novelty: float = 0.9) -> _Run:
    cfg = RateConfig(**RATE_SMALL, label_path="stream", novelty=novelty, target="reference")
    model = build_rate(cfg, 6, 3, np.random.default_rng(0))
    run = _Run(model.st, model.state, _chunk_stub(model), 0.0, 0.0)
    run.live_now = 1.0
    return run


def _chunk_stub(model):
    from neurosig.models.rate_network import make_chunk

    return make_chunk(model.st, np.zeros((1, 6)), np.array([0]), None)


def test_the_choice_takes_the_nearest_used_slot_or_the_lowest_free_one():
    run = _run_for_choice()
    a, b = np.array([1.0, 0.0, 0.0, 1.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0, 0.0])

    def present(target):
        z = run.choose(1, target)
        run.m[1] += z[:, None] * (target[None, :] - run.m[1])  # the memory write that follows
        return z

    np.testing.assert_array_equal(present(a), [1, 0, 0])  # first target: slot 0
    np.testing.assert_array_equal(present(b), [0, 1, 0])  # orthogonal: novel, lowest free slot
    np.testing.assert_array_equal(present(a + 0.05 * b), [1, 0, 0])  # near a: slot 0
    np.testing.assert_array_equal(present(b + 0.05 * a), [0, 1, 0])
    np.testing.assert_array_equal(run.used[1], [1, 1, 0])
    c = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(present(c), [0, 0, 1])
    np.testing.assert_array_equal(present(a + 0.8 * b), [1, 0, 0])  # novel, none free: nearest
    run.live_now = 0.0  # no target shown (evaluation, padding): nothing chosen, nothing used
    np.testing.assert_array_equal(run.choose(2, a[:4]), [0, 0, 0])
    assert not run.used[2].any()
    run.live_now = 1.0  # a silent target stream chooses nothing either
    np.testing.assert_array_equal(run.choose(2, np.zeros(4)), [0, 0, 0])


def _train_rate(cfg: RateConfig, n_batches: int = 2, seed: int = 1):
    rng = np.random.default_rng(seed)
    model = build_rate(cfg, 6, 3, rng)
    x = rng.standard_normal((7 * n_batches, 6))
    y = rng.integers(0, 3, 7 * n_batches)
    update_rng = np.random.default_rng(5)
    losses = [model.train_batch(x[i : i + 7], y[i : i + 7], update_rng) for i in range(0, 14, 7)]
    return model, losses, model.predict(x)


def _assert_same(a, b, tol=1e-9):
    sa, sb = a[0].state_dict(), b[0].state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_allclose(sa[key], sb[key], rtol=0, atol=tol, err_msg=key)
    for la, lb in zip(a[1], b[1], strict=True):
        for key in la:
            assert la[key] == pytest.approx(lb[key], abs=tol)
    for key in a[2]:
        np.testing.assert_array_equal(a[2][key], b[2][key])


# the stream variants of tests/test_rate.py's "stream" and "stream-biology" (the fast tier): the
# phase mode with a learned S (label memories), per-step updates and the mse rule
STREAM_VARIANTS = {
    "phases-learned-signal": dict(mode="phases", signal="learned", delay=1.0, presentation=4.0),
    "per-step": dict(update="step", activation="softplus"),
    "mse-negatives": dict(rule="hebbian-mse"),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", STREAM_VARIANTS)
def test_brian2_matches_the_reference_for_stream_variants(variant):
    cfg = RateConfig(
        **{**RATE_SMALL, **STREAM_VARIANTS[variant]}, label_path="stream", target="reference"
    )
    _assert_same(_train_rate(cfg), _train_rate(dataclasses.replace(cfg, target="numpy")))


@pytest.mark.slow
def test_standalone_matches_the_reference_for_stream():
    cfg = RateConfig(**RATE_SMALL, label_path="stream", target="reference")
    _assert_same(_train_rate(cfg), _train_rate(dataclasses.replace(cfg, target="standalone")))


def test_stream_state_round_trips_through_the_state_dict():
    model = _train_rate(RateConfig(**RATE_SMALL, label_path="stream", target="reference"))[0]
    sd = model.state_dict()
    assert {"summary0.slot_used", "summary2.slot_used", "readout.slot_counts"} <= set(sd)
    assert sd["readout.slot_counts"].sum() == 14  # one count per training presentation
    other = build_rate(model.cfg, 6, 3, np.random.default_rng(3))
    other.load_state_dict(sd)
    for key, value in model.state.items():
        np.testing.assert_array_equal(other.state[key], value, err_msg=key)
    direct = build_rate(RateConfig(**RATE_SMALL), 6, 3, np.random.default_rng(0))
    assert not any("slot" in key for key in direct.state_dict())


# --------------------------------------------------------------------------------------------
# Learning without the label in the hidden layers
# --------------------------------------------------------------------------------------------


def _is_permutation(table: np.ndarray) -> bool:
    return sorted(table.argmax(axis=1).tolist()) == list(range(len(table)))


def test_rate_stream_learns_an_easy_task_and_gives_every_class_its_own_slot(npz_data):
    data = load_dataset(f"npz:{npz_data}")
    cfg = RateConfig(hidden=(32, 32), chunk=64, label_path="stream", target="reference")
    model = build_rate(cfg, data.x_train.shape[1], data.n_classes, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for _ in range(3):
        order = rng.permutation(len(data.y_train))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            model.train_batch(data.x_train[batch], data.y_train[batch], rng)
    table = model.state["readout.cnt"]  # slot x class
    assert _is_permutation(table), table
    assert table.max(axis=1).sum() >= 0.95 * table.sum(), table  # each slot keeps one class
    for layer in range(len(cfg.hidden) + 1):
        np.testing.assert_array_equal(model.state[f"summary{layer}.used"], 1.0)
    for split in ("val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        accuracy = {k: float((v == y).mean()) for k, v in model.predict(x).items()}
        assert accuracy["target"] >= 0.85 and accuracy["delta"] >= 0.85, (split, accuracy)


def test_lif_stream_fits_a_separable_batch():
    """Classes interleaved from the first sample: with the running baselines, a class repeated
    before any other is seen has degenerate centred targets and may take extra slots
    (docs/learning-rules.md, "Label path")."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 6)) * 2
    y = np.tile(np.arange(3), 4)
    x = centers[y] + 0.3 * rng.standard_normal((12, 6))
    # the current-driven form, noise-free targets: with the cortical default (Poisson input and
    # background) this test fails, not yet diagnosed; the stream path is not claimed there
    cfg = LIFConfig(
        hidden=(8,), chunk=12, presentation=20.0, dt=0.5, label_path="stream", target="standalone",
        **CURRENT_DRIVEN,
    )  # fmt: skip
    model = build_lif(cfg, 6, 3, np.random.default_rng(1))
    update_rng = np.random.default_rng(5)
    for _ in range(8):
        model.train_batch(x, y, update_rng)
    assert model.state["readout.cnt"].sum() == 8 * 12
    assert _is_permutation(model.state["readout.cnt"]), model.state["readout.cnt"]
    assert (model.predict(x)["target"] == y).mean() >= 11 / 12
