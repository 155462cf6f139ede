"""Tests of the structural audit of Brian2 networks (forward-only, locality of plasticity).

The networks are built but never run, so no code is generated or compiled.
"""

import gc

import brian2
import numpy as np
import pytest
from brian2 import Network, NeuronGroup, Synapses, TimedArray, linked_var, ms
from brian2.devices.device import reinit_devices, reset_device
from brian2.utils.logger import catch_logs

from neurosig.analyses.audit import AuditReport, AuditRow, audit_brian_network

LAYERS = {"inp": 0, "hid": 1, "out": 2}

HEBBIAN = "w += eta*h_pre*(h_post - w*h_pre)"  # Oja's rule: pre, post and own weight only


@pytest.fixture(autouse=True)
def fresh_scope():
    """A clean Brian2 scope per test, with the numpy target (nothing is compiled)."""
    target = brian2.prefs.codegen.target
    # A model built earlier in this process may have left a run standalone device behind.
    reinit_devices()
    brian2.set_device("runtime")
    brian2.prefs.codegen.target = "numpy"
    brian2.start_scope()
    # The networks are never run, so Brian2 warns about "unused" objects when they are
    # garbage collected; collect them while its log is caught.
    with catch_logs():
        yield
        gc.collect()
    brian2.prefs.codegen.target = target


def _layer(name, n):
    return NeuronGroup(n, "h : 1\nI : 1", name=name)


def _forward_synapses(source, target, name, rule=HEBBIAN):
    syn = Synapses(
        source,
        target,
        "w : 1\neta : 1 (shared, constant)\nI_post = w*h_pre : 1 (summed)",
        name=name,
    )
    syn.connect()
    if rule:
        syn.run_regularly(rule, dt=1 * ms)
    return syn


def _three_layer_net(hid_model="h : 1\nI : 1"):
    inp = _layer("inp", 4)
    hid = NeuronGroup(3, hid_model, name="hid")
    out = _layer("out", 2)
    syn_hid = _forward_synapses(inp, hid, "syn_hid")
    syn_out = _forward_synapses(hid, out, "syn_out")
    return Network(inp, hid, out, syn_hid, syn_out), hid, out, syn_out


def _rows(report, check, obj):
    return [row for row in report.rows if row.check == check and row.obj == obj]


def test_forward_hebbian_network_passes_both_checks():
    net, *_ = _three_layer_net()
    report = audit_brian_network(net, LAYERS)

    assert report.ok, report.table()
    assert report.forward_only and report.local
    assert report.failures() == []
    (forward,) = _rows(report, "forward-only", "syn_out")
    assert "hid (layer 1) -> out (layer 2): forward" in forward.detail
    (plastic,) = _rows(report, "locality", "syn_hid")
    assert plastic.block == "run_regularly 'syn_hid_run_regularly'"
    assert plastic.detail == "synaptic: w; pre: h; post: h; shared: eta"


def test_list_of_objects_and_network_give_the_same_report():
    net, *_ = _three_layer_net()
    assert audit_brian_network(list(net.objects), LAYERS) == audit_brian_network(net, LAYERS)


def test_feedback_synapse_fails_forward_only():
    net, hid, out, _ = _three_layer_net()
    feedback = _forward_synapses(out, hid, "syn_feedback", rule=None)
    net.add(feedback)
    report = audit_brian_network(net, LAYERS)

    assert not report.forward_only
    assert report.local
    (failure,) = report.failures()
    assert failure.obj == "syn_feedback"
    assert "out (layer 2) -> hid (layer 1): feedback" in failure.detail


def test_summed_variable_into_earlier_layer_is_backward_flow():
    net, hid, out, syn_out = _three_layer_net("h : 1\nI : 1\ndelta : 1")
    backprop = Synapses(hid, out, "v : 1\ndelta_pre = v*h_post : 1 (summed)", name="syn_bp")
    backprop.connect()
    net.add(backprop)
    report = audit_brian_network(net, LAYERS)

    assert not report.forward_only
    (failure,) = report.failures()
    assert failure.obj == "syn_bp" and "backward flow" in failure.detail


def test_group_missing_from_layers_fails():
    net, *_ = _three_layer_net()
    report = audit_brian_network(net, {"inp": 0, "hid": 1})

    failed = {row.obj for row in report.failures()}
    assert failed == {"out", "syn_out"}
    assert "not assigned to a layer" in _rows(report, "forward-only", "out")[0].detail


def test_linked_variable_to_later_layer_is_feedback():
    net, hid, out, _ = _three_layer_net("h : 1\nI : 1\nh_out : 1 (linked)")
    hid.h_out = linked_var(out, "h", index=np.array([0, 1, 1]))
    report = audit_brian_network(net, LAYERS)

    (row,) = _rows(report, "forward-only", "hid")
    assert not row.ok
    assert "h_out links to out.h (layer 2): feedback" in row.detail


def test_rule_reading_another_layers_weights_is_weight_transport():
    """Brian2 cannot link to a Synapses variable, so the weights come in via the namespace."""
    net, hid, out, syn_out = _three_layer_net()
    # A view on the readout weights, as a script could pass to a feedback-alignment rule.
    w_out = syn_out.variables["w"].get_value()
    rule = "w += eta*h_pre*W_out"
    sneaky = Synapses(
        hid, out, "w : 1\neta : 1 (shared, constant)", name="syn_sneaky", namespace={"W_out": w_out}
    )
    sneaky.connect()
    sneaky.run_regularly(rule, dt=1 * ms)
    net.add(sneaky)
    report = audit_brian_network(net, LAYERS)

    assert report.forward_only
    assert not report.local
    (failure,) = report.failures()
    assert failure.obj == "syn_sneaky"
    assert "weight transport" in failure.detail
    assert "w of syn_out" in failure.detail


def test_brian_variable_of_other_synapses_in_namespace_is_weight_transport():
    net, hid, out, syn_out = _three_layer_net()
    sneaky = Synapses(
        hid, out, "w : 1", name="syn_sneaky", namespace={"W_out": syn_out.variables["w"]}
    )
    sneaky.connect()
    sneaky.run_regularly("w += 0.1*W_out", dt=1 * ms)
    net.add(sneaky)
    (failure,) = audit_brian_network(net, LAYERS).failures()
    assert "reads w of syn_out: weight transport" in failure.detail


def test_external_array_and_unresolved_names_are_non_local():
    net, hid, out, _ = _three_layer_net()
    rule = "w += eta*noise_table*unknown"
    syn = Synapses(
        hid,
        out,
        "w : 1\neta : 1 (shared, constant)",
        name="syn_ext",
        namespace={"noise_table": np.ones(6)},
    )
    syn.connect()
    syn.run_regularly(rule, dt=1 * ms)
    net.add(syn)
    report = audit_brian_network(net, LAYERS)

    (failure,) = report.failures()
    assert "non-local: noise_table (external array of 6 values)" in failure.detail
    assert "unresolved: unknown" in failure.detail
    # Resolving the name through a stand-in run namespace makes it a global input.
    report = audit_brian_network(net, LAYERS, run_namespace={"unknown": 0.5})
    assert "global input: unknown" in report.failures()[0].detail


def test_summary_group_link_in_run_regularly_is_shared():
    net, hid, out, _ = _three_layer_net("h : 1\nI : 1\nz : 1\nm : 1 (linked)")
    summary = NeuronGroup(1, "m : 1", name="hid_summary")
    hid.m = linked_var(summary, "m", index=np.zeros(3, dtype=int))
    stim = TimedArray(np.arange(3.0), dt=1 * ms)
    hid.run_regularly("h = clip(z - m, 0, 1) + stim(t)", dt=1 * ms)
    to_summary = Synapses(
        hid, summary, "m_post = h_pre/N_incoming : 1 (summed)", name="syn_summary"
    )
    to_summary.connect()
    net.add(summary, to_summary)
    report = audit_brian_network(net, {**LAYERS, "hid_summary": 1}, run_namespace={"stim": stim})

    assert report.ok, report.table()
    (row,) = _rows(report, "locality", "hid")
    assert row.block == "run_regularly 'hid_run_regularly'"
    assert "shared: m (linked to hid_summary.m)" in row.detail
    assert "neuron: h, z" in row.detail
    assert "functions: clip" in row.detail and "global input: stim (TimedArray)" in row.detail
    assert "same layer" in _rows(report, "forward-only", "syn_summary")[0].detail


def test_link_to_a_group_of_another_layer_is_non_local():
    net, hid, out, _ = _three_layer_net("h : 1\nI : 1\nx : 1 (linked)")
    inp = next(obj for obj in net.objects if obj.name == "inp")
    hidden2 = NeuronGroup(3, "h : 1", name="hid2")
    hid.x = linked_var(hidden2, "h")
    hid.run_regularly("h = x", dt=1 * ms)
    net.add(hidden2)
    report = audit_brian_network(net, {**LAYERS, "hid2": 1.5})
    assert inp.name == "inp"

    (row,) = _rows(report, "locality", "hid")
    assert not row.ok
    assert "non-local: x (linked to hid2.h of another layer (1.5))" in row.detail


def test_stdp_with_event_driven_traces_is_local():
    inp = NeuronGroup(4, "v : 1", threshold="v > 1", reset="v = 0", name="inp")
    hid = NeuronGroup(3, "dv/dt = -v/(10*ms) : 1", threshold="v > 1", reset="v = 0", name="hid")
    stdp = Synapses(
        inp,
        hid,
        """w : 1
        dapre/dt = -apre/taupre : 1 (event-driven)
        dapost/dt = -apost/taupre : 1 (event-driven)""",
        on_pre="v_post += w\napre += 0.01\nw = clip(w + apost, 0, 1)",
        on_post="apost -= 0.01\nw = clip(w + apre, 0, 1)",
        namespace={"taupre": 20 * ms},
        name="stdp",
    )
    stdp.connect()
    report = audit_brian_network([inp, hid, stdp], {"inp": 0, "hid": 1})

    assert report.ok, report.table()
    blocks = {row.block for row in _rows(report, "locality", "stdp")}
    assert blocks == {"equations", "on_pre", "on_post"}
    (on_pre,) = [row for row in report.rows if row.block == "on_pre"]
    assert on_pre.detail == "synaptic: apost, apre, w; post: v; functions: clip"


def test_objects_built_for_cpp_standalone_without_a_run(tmp_path):
    brian2.set_device("cpp_standalone", build_on_run=False, directory=str(tmp_path))
    try:
        brian2.start_scope()
        net, hid, out, syn_out = _three_layer_net()
        sneaky = Synapses(
            hid, out, "w : 1", name="syn_sneaky", namespace={"W_out": syn_out.variables["w"]}
        )
        sneaky.connect()
        sneaky.run_regularly("w += 0.1*W_out", dt=1 * ms)
        net.add(sneaky)
        report = audit_brian_network(net, LAYERS)
    finally:
        # Back to the runtime device, with fresh device state and default clock.
        # (imported from the module: ``brian2.devices.device`` is the current-device proxy)
        reset_device()
        reinit_devices()

    assert report.forward_only
    assert [row.obj for row in report.failures()] == ["syn_sneaky"]


def test_table_names_every_object_and_marks_failures():
    net, hid, out, _ = _three_layer_net()
    net.add(_forward_synapses(out, hid, "syn_feedback", rule=None))
    table = audit_brian_network(net, LAYERS).table()

    for name in ("inp", "hid", "out", "syn_hid", "syn_out", "syn_feedback"):
        assert name in table
    lines = table.splitlines()
    assert lines[0].split() == ["check", "object", "block", "ok", "detail"]
    assert sum("FAIL" in line for line in lines) == 1
    assert all(line == line.rstrip() for line in lines)


def test_report_summaries():
    rows = (
        AuditRow("forward-only", "a", True, ""),
        AuditRow("locality", "b", False, "non-local: x", "on_pre"),
    )
    report = AuditReport(rows)
    assert report.forward_only and not report.local and not report.ok
    assert report.failures() == [rows[1]]
    assert str(report) == report.table()
