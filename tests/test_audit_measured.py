"""The measured audit of numpy models: shipped models, and cheaters it must catch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from neurosig.analyses.audit_measured import (
    declaration_disagreements,
    measure_update_reads,
    measured_report,
)
from neurosig.models.baselines import ForwardForward, ForwardForwardConfig
from neurosig.models.reference import SPCore, SPCoreConfig
from neurosig.protocols import MeasurableUpdates
from neurosig.registry import get_model

SP_LOSSES = ("per_class", "max_rand", "max_all", "topk")
SHIPPED = [("sp-core", {"loss": loss}) for loss in SP_LOSSES] + [
    ("sp-core", {"loss": "max_rand", "signal": "fixed", "dropout": 0.2}),
    ("bp", {}),
    ("fa", {}),
    ("dfa", {}),
    ("ff", {}),
    ("random-features", {}),
]


def build(name, **fields):
    spec = get_model(name)
    config = spec.config_cls(hidden=(8, 8), **fields)
    return spec.build(config, 4, 3, np.random.default_rng(0))


def rows(report, check):
    return {row.obj: row for row in report.rows if row.check == check}


# ----------------------------------------------------------------------------------------
# Shipped models
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fields"), SHIPPED)
def test_measured_reads_agree_with_the_declarations(name, fields):
    model = build(name, **fields)
    assert isinstance(model, MeasurableUpdates)
    reads = measure_update_reads(model)
    assert declaration_disagreements(model, reads) == []
    report = measured_report(model)
    assert rows(report, "declaration")["network"].ok


@pytest.mark.parametrize(("name", "ok"), [("bp", False), ("fa", False), ("dfa", False)])
def test_error_feedback_rules_read_later_layers(name, ok):
    report = measured_report(build(name))
    assert report.ok is ok and not report.forward_only
    forward = rows(report, "forward-only")
    assert not forward["layer1"].ok and not forward["layer2"].ok and forward["output"].ok
    assert "output" in forward["layer1"].detail
    assert report.weight_transport_free is (name != "bp")
    if name == "bp":
        assert rows(report, "locality")["layer1"].problems == ("weight transport",)
    reads = measure_update_reads(build(name))
    assert [b.label for b in reads.blocks] == ["feedback", "feedback", "direct"]
    assert not reads.label_enters_stream


@pytest.mark.parametrize(("name", "fields"), [s for s in SHIPPED if s[0] in ("sp-core", "ff")])
def test_forward_only_rules_pass(name, fields):
    report = measured_report(build(name, **fields))
    assert report.ok and report.weight_transport_free, report.table()
    assert "enters the forward stream" in rows(report, "label path")["network"].detail


def test_random_features_pass():
    report = measured_report(build("random-features"))
    assert report.ok, report.table()
    assert set(rows(report, "locality")) == {"readout"}  # the hidden layers are frozen


def test_per_class_delivers_the_label_to_every_layer_and_the_other_losses_do_not():
    per_class = measure_update_reads(build("sp-core", loss="per_class", signal="learned"))
    assert per_class.label_direct_layers == ("signal", "layer1", "layer2")
    fixed = measure_update_reads(build("sp-core", loss="per_class", signal="fixed"))
    assert fixed.label_direct_layers == ("layer1", "layer2")  # a fixed projection learns nothing
    report = measured_report(build("sp-core", signal="learned"))
    assert report.label_direct_layers == (1.0, 2.0)  # the label projection is layer 0
    label_row = rows(report, "label path")["network"]
    assert label_row.ok and "direct label delivery to signal, layer1, layer2" in label_row.detail
    for loss in SP_LOSSES[1:]:
        reads = measure_update_reads(build("sp-core", loss=loss))
        assert reads.label_direct_layers == ()
        assert reads["layer2"].label == "stream" and reads["readout"].label == "direct"


def test_the_measurement_leaves_the_model_unchanged():
    model = build("sp-core", dropout=0.2)
    before = copy.deepcopy(model.state_dict())
    measured_report(model)
    after = model.state_dict()
    assert all(np.array_equal(before[key], after[key]) for key in before)


def test_a_non_model_is_refused():
    with pytest.raises(TypeError, match="MeasurableUpdates"):
        measure_update_reads(object())


# ----------------------------------------------------------------------------------------
# Cheaters: each subclasses a shipped model and keeps its (now false) declaration
# ----------------------------------------------------------------------------------------

NUDGE = 1e-3


def nudge(grads, block, value):
    grads[block]["b"] = grads[block]["b"] + NUDGE * np.float32(value)


class WeightPeek(SPCore):
    """Layer 1's update secretly reads layer 2's weights."""

    def gradients(self, x, y, rng):
        losses, grads = super().gradients(x, y, rng)
        nudge(grads, "layer1", np.tanh(self.blocks["layer2"].W).mean())
        return losses, grads


class ErrorPeek(SPCore):
    """Layer 1's update reads the readout's output error, DFA-style."""

    def gradients(self, x, y, rng):
        losses, grads = super().gradients(x, y, rng)
        logits = self.blocks["readout"].forward(self.hidden_activity(x)[-1])[0]
        error = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        error[np.arange(len(y)), y] -= 1
        nudge(grads, "layer1", np.abs(error).mean())
        return losses, grads


class LabelPeek(SPCore):
    """Layer 1 reads the label itself under max_rand, which declares the stream only."""

    def gradients(self, x, y, rng):
        losses, grads = super().gradients(x, y, rng)
        nudge(grads, "layer1", np.mean(y))
        return losses, grads


class HiddenPeek(ForwardForward):
    """Layer 1 reads layer 2's weights through nan_to_num, so that NaN never shows."""

    def gradients(self, x, y, rng):
        losses, grads = super().gradients(x, y, rng)
        nudge(grads, "layer1", np.tanh(np.nan_to_num(self.blocks["layer2"].W)).mean())
        return losses, grads


class ComparisonPeek(SPCore):
    """Layer 1 reads only a comparison of layer 2's activity (NaN compares False)."""

    def gradients(self, x, y, rng):
        losses, grads = super().gradients(x, y, rng)
        positive = (self.hidden_activity(x)[1] > 0.1).mean()
        nudge(grads, "layer1", positive)
        return losses, grads


class CarryOver(SPCore):
    """Layer 1 keeps layer 2's gradient from one step and reads it at the next."""

    memo = 0.0

    def gradients(self, x, y, rng):
        losses, grads = super().gradients(x, y, rng)
        nudge(grads, "layer1", self.memo)
        self.memo = float(np.tanh(grads["layer2"]["W"]).mean())
        return losses, grads


class OptimiserPeek(SPCore):
    """Layer 1's update reads layer 2's Adam moments."""

    def gradients(self, x, y, rng):
        losses, grads = super().gradients(x, y, rng)
        nudge(grads, "layer1", np.tanh(self.optimisers["layer2"].m["W"]).sum() + 1)
        return losses, grads


def cheater(cls, **fields):
    config_cls = ForwardForwardConfig if issubclass(cls, ForwardForward) else SPCoreConfig
    return cls(config_cls(hidden=(8, 8), **fields), 4, 3, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("cls", "read", "fails"),
    [
        (WeightPeek, ("layer2", "weights"), "locality"),
        (HiddenPeek, ("layer2", "weights"), "locality"),
        (ErrorPeek, ("readout", "activity"), "forward-only"),
        (ComparisonPeek, ("layer2", "activity"), "forward-only"),
        (CarryOver, ("layer2", "state"), "forward-only"),
        (OptimiserPeek, ("layer2", "optimiser"), "locality"),
    ],
)
def test_a_cheater_reading_a_later_layer_is_caught(cls, read, fails):
    model = cheater(cls)
    reads = measure_update_reads(model)
    assert read in reads["layer1"].reads
    assert "layer2" in reads["layer1"].later or "readout" in reads["layer1"].later
    report = measured_report(model)
    assert not report.ok and not report.forward_only
    assert not rows(report, fails)["layer1"].ok
    assert not rows(report, "declaration")["network"].ok  # it declares otherwise
    assert rows(report, "forward-only")["layer2"].ok  # the honest blocks stay clean


def test_a_cheater_reading_the_label_in_a_hidden_layer_is_caught():
    model = cheater(LabelPeek, loss="max_rand")
    reads = measure_update_reads(model)
    assert reads["layer1"].label == "direct" and reads["layer2"].label == "stream"
    assert reads.label_direct_layers == ("layer1",)
    disagreements = declaration_disagreements(model, reads)
    assert disagreements == ["layer1: declared label 'stream', measured 'direct'"]
    report = measured_report(model)
    assert report.ok  # forward-only and local: the label row and the declaration row tell
    assert report.label_direct_layers == (1.0,)
    assert not rows(report, "declaration")["network"].ok
    assert "direct label delivery to layer1" in rows(report, "label path")["network"].detail
