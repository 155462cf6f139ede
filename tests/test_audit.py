"""Tests of the structural audit of Brian2 networks (forward-only, locality of plasticity).

The networks are built but never run, so no code is generated or compiled.
"""

import gc

import brian2
import numpy as np
import pytest
from brian2 import Network, NeuronGroup, Synapses, TimedArray, linked_var, ms
from brian2.devices.device import reinit_devices, reset_device
from brian2.groups.subgroup import Subgroup
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


def _net_with_a_rule_reading_other_weights():
    """The three-layer net plus synapses whose rule reads syn_out's weights (namespace)."""
    net, hid, out, syn_out = _three_layer_net()
    sneaky = Synapses(
        hid, out, "w : 1", name="syn_sneaky", namespace={"W_out": syn_out.variables["w"]}
    )
    sneaky.connect()
    sneaky.run_regularly("w += 0.1*W_out", dt=1 * ms)
    net.add(sneaky)
    return net


def test_brian_variable_of_other_synapses_in_namespace_is_weight_transport():
    net = _net_with_a_rule_reading_other_weights()
    (failure,) = audit_brian_network(net, LAYERS).failures()
    assert "reads w of syn_out: weight transport" in failure.detail


def test_undeclared_external_array_and_unresolved_names_fail():
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

    (locality,) = [row for row in report.failures() if row.check == "locality"]
    assert "unknown origin: noise_table (array of 6 not declared in stimuli=)" in locality.detail
    assert "unresolved: unknown" in locality.detail
    (forward,) = [row for row in report.failures() if row.check == "forward-only"]
    assert forward.obj == "syn_ext" and forward.problems == ("unknown origin",)
    assert "unknown cannot be resolved" in forward.detail
    # Declaring the array and resolving the name through a stand-in run namespace.
    report = audit_brian_network(
        net, LAYERS, run_namespace={"unknown": 0.5}, stimuli={"noise_table": 0}
    )
    assert report.ok, report.table()
    assert "global input: noise_table (array of 6, enters at layer 0), unknown" in report.table()


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
    layers = {**LAYERS, "hid_summary": 1}
    report = audit_brian_network(net, layers, run_namespace={"stim": stim}, stimuli={"stim": 0})

    assert report.ok, report.table()
    (row,) = _rows(report, "locality", "hid")
    assert row.block == "run_regularly 'hid_run_regularly'"
    assert "shared: m (linked to hid_summary.m)" in row.detail
    assert "neuron: h, z" in row.detail
    assert "functions: clip" in row.detail
    assert "global input: stim (TimedArray, enters at layer 0)" in row.detail
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
    (on_pre,) = [row for row in _rows(report, "locality", "stdp") if row.block == "on_pre"]
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


# ----------------------------------------------------------------------------------------
# Attacks: networks that move layer-2 information into layer 1's weights
# ----------------------------------------------------------------------------------------
#
# Each attack is a small three-layer network. ``hid``'s plasticity rule reads only its own
# synapse, its pre- and postsynaptic neurons (``delta_post``); the attack smuggles the output
# layer's error (``y - h`` of ``out``) into ``delta``. The test proves the attack is real by
# running the network (numpy target) for two output targets ``y`` and comparing ``hid``'s
# incoming weights, and checks that the audit fails.

LAYER1_RULE = "w += 0.1*h_pre*delta_post"


def _base(y, out_threshold=None):
    """inp -> hid -> out with a layer-1 rule reading ``delta``; ``out.y`` = ``y``."""
    inp = NeuronGroup(4, "h : 1", name="inp")
    inp.h = 1
    hid = NeuronGroup(3, "h : 1\ndelta : 1", name="hid")
    hid.h = 0.5
    out = NeuronGroup(2, "h : 1\ny : 1\nerr = y - h : 1", threshold=out_threshold, name="out")
    out.h, out.y = 0.2, y
    syn_hid = Synapses(inp, hid, "w : 1", name="syn_hid")
    syn_hid.connect()
    syn_hid.run_regularly(LAYER1_RULE, dt=1 * ms, order=1)
    syn_out = Synapses(hid, out, "w : 1", name="syn_out")
    syn_out.connect()
    syn_out.w = 0.5
    return [inp, hid, out, syn_hid, syn_out], hid, out, syn_hid


def _attack_report_and_weights(build, layers=LAYERS, **audit_kw):
    """(audit report of the attack network, layer-1 weights after a run for y = 0 and 1)."""
    weights, report = [], None
    for y in (0.0, 1.0):
        brian2.start_scope()
        objects, syn_hid = build(y)
        net = Network(*objects)
        if report is None:
            report = audit_brian_network(net, layers, **audit_kw)
        net.run(3 * ms)
        weights.append(np.array(syn_hid.w[:]))
        del net, objects, syn_hid
        gc.collect()
    return report, weights


def _assert_attack_caught(report, weights, problem):
    assert not np.allclose(weights[0], weights[1]), "the attack does not reach layer 1"
    assert not report.ok and not report.forward_only, report.table()
    assert any(problem in row.problems for row in report.failures()), report.table()


def _attack_a(y):
    """A: a forward Synapses' run_regularly writes the presynaptic delta."""
    objects, hid, out, syn_hid = _base(y)
    back = Synapses(hid, out, "v : 1", name="syn_back")
    back.connect()
    back.v = 1
    back.run_regularly("delta_pre = v*(h_post - y_post)", dt=1 * ms)
    return [*objects, back], syn_hid


def _attack_b(y):
    """B: the same through an on_post pathway."""
    objects, hid, out, syn_hid = _base(y, out_threshold="True")
    back = Synapses(hid, out, "w2 : 1", on_post="delta_pre += w2*err_post", name="syn_back")
    back.connect()
    back.w2 = 1
    return [*objects, back], syn_hid


def _attack_c(y):
    """C: a driver writes the backpropagated error into a TimedArray."""
    objects, hid, out, syn_hid = _base(y)
    error = np.asarray(out.y[:] - out.h[:]).mean()
    table = TimedArray(np.full((4, 3), error), dt=1 * ms, name="err_table")
    hid.namespace["err_table"] = table
    hid.run_regularly("delta = err_table(t, i)", dt=1 * ms)
    return objects, syn_hid


def _attack_d(y):
    """D: a NetworkOperation doing backprop on layer 1's weights."""
    objects, hid, out, syn_hid = _base(y)

    @brian2.network_operation(dt=1 * ms)
    def backprop():
        syn_hid.w_ = syn_hid.w_[:] + 0.1 * float(np.mean(out.y_[:] - out.h_[:]))

    return [*objects, backprop], syn_hid


def _attack_e(y):
    """E: a one-unit summary of the output layer, read through the namespace."""
    objects, hid, out, syn_hid = _base(y)
    summary = NeuronGroup(1, "s : 1", name="out_summary")
    sums = Synapses(out, summary, "s_post = y_pre - h_pre : 1 (summed)", name="out_sums")
    sums.connect()
    syn_hid.namespace["S"] = summary.variables["s"]
    syn_hid.run_regularly("w += 0.1*h_pre*S", dt=1 * ms, order=2)
    return [*objects, summary, sums], syn_hid


@pytest.mark.parametrize(
    ("attack", "problem"),
    [
        (_attack_a, "backward flow"),
        (_attack_b, "backward flow"),
        (_attack_c, "unknown origin"),
        (_attack_d, "unanalysable"),
        (_attack_e, "backward flow"),
    ],
    ids=[
        "A-run-regularly-pre",
        "B-on-post-pre",
        "C-timed-array",
        "D-network-operation",
        "E-summary-namespace",
    ],
)
def test_attacks_of_the_review_are_caught(attack, problem):
    layers = {**LAYERS, "out_summary": 2}
    report, weights = _attack_report_and_weights(attack, layers)
    _assert_attack_caught(report, weights, problem)


def test_backward_flow_is_reported_with_its_path():
    report, _ = _attack_report_and_weights(_attack_a)
    (row,) = [row for row in report.failures() if row.obj == "syn_back"]
    assert "out.y (layer 2) -> hid.delta (layer 1) [syn_back: run_regularly" in row.detail
    (weights,) = [row for row in report.failures() if row.obj == "syn_hid"]
    assert "w carries later information" in weights.detail


def test_a_declared_timed_array_of_a_later_layer_is_still_backward():
    report, _ = _attack_report_and_weights(_attack_c, stimuli={"err_table": 2})
    assert not report.forward_only
    assert "stimulus err_table (layer 2) -> hid.delta (layer 1)" in report.table()
    report, _ = _attack_report_and_weights(_attack_c, stimuli={"err_table": 0})
    assert report.ok  # declared as data: the audit trusts the declaration


def _attack_subexpression(y):
    """A subexpression of a forward Synapses hides the read of the output layer."""
    objects, hid, out, syn_hid = _base(y)
    back = Synapses(hid, out, "gap = y_post - h_post : 1", name="syn_back")
    back.connect()
    back.run_regularly("delta_pre = gap", dt=1 * ms)
    return [*objects, back], syn_hid


def _attack_python_function(y):
    """A Python function closing over the output layer's state."""
    objects, hid, out, syn_hid = _base(y)
    state = out.variables["y"].get_value()

    @brian2.check_units(i=1, result=1)
    def target_of(i):
        return state[np.asarray(i) % 2]

    hid.namespace["target_of"] = target_of
    hid.run_regularly("delta = target_of(i)", dt=1 * ms)
    return objects, syn_hid


def _attack_unlisted_relay(y):
    """A one-unit group left out of the layers relays the output error to layer 1."""
    objects, hid, out, syn_hid = _base(y)
    relay = NeuronGroup(1, "s : 1", name="relay")
    sums = Synapses(out, relay, "s_post = y_pre - h_pre : 1 (summed)", name="relay_sums")
    sums.connect()
    hid.namespace["S"] = relay.variables["s"]
    hid.run_regularly("delta = S", dt=1 * ms)
    return [*objects, relay, sums], syn_hid


def _attack_subgroup_target(y):
    """Spikes of the output layer drive a Subgroup of layer 1, listed as a later layer."""
    objects, hid, out, syn_hid = _base(y, out_threshold="True")
    part = Subgroup(hid, 0, 2, name="hid_part")
    back = Synapses(out, part, on_pre="delta_post += y_pre", name="syn_part")
    back.connect()
    return [*objects, back], syn_hid


@pytest.mark.parametrize(
    "attack",
    [_attack_subexpression, _attack_python_function, _attack_unlisted_relay],
    ids=["subexpression", "python-function", "unlisted-one-unit-relay"],
)
def test_further_attacks_are_caught_and_real(attack):
    report, weights = _attack_report_and_weights(attack)
    assert not np.allclose(weights[0], weights[1]), "the attack does not reach layer 1"
    assert not report.ok, report.table()


def test_subgroup_of_an_earlier_layer_listed_as_later_is_caught():
    report, weights = _attack_report_and_weights(_attack_subgroup_target, {**LAYERS, "hid_part": 3})
    assert not np.allclose(weights[0], weights[1])
    (row,) = [row for row in report.failures() if row.obj == "syn_part"]
    assert "hid_part is listed as layer 3, but its variables belong to hid (layer 1)" in row.detail
    assert "out.y (layer 2) -> hid.delta (layer 1)" in row.detail


def test_summed_variable_into_pre_group_is_backward_flow():
    inp = NeuronGroup(4, "h : 1", name="inp")
    hid = NeuronGroup(3, "h : 1\ndelta : 1", name="hid")
    out = NeuronGroup(2, "h : 1\ny : 1", name="out")
    back = Synapses(hid, out, "v : 1\ndelta_pre = v*(y_post - h_post) : 1 (summed)", name="b")
    back.connect()
    syn_hid = Synapses(inp, hid, "w : 1", name="syn_hid")
    syn_hid.connect()
    syn_hid.run_regularly(LAYER1_RULE, dt=1 * ms)
    report = audit_brian_network([inp, hid, out, back, syn_hid], LAYERS)
    assert not report.forward_only
    assert "out.y (layer 2) -> hid.delta (layer 1) [b: summed delta_pre]" in report.table()


def test_unknown_objects_subclasses_and_patched_methods_fail():
    class Sneaky(NeuronGroup):
        def before_run(self, run_namespace):  # could copy any state anywhere
            super().before_run(run_namespace)

    net, hid, out, _ = _three_layer_net()
    extra = Sneaky(1, "x : 1", name="sneaky")
    net.add(extra)
    report = audit_brian_network(net, {**LAYERS, "sneaky": 1})
    (row,) = report.failures()
    assert row.obj == "sneaky" and row.problems == ("unanalysable",)

    net, hid, out, _ = _three_layer_net()
    hid.before_run = lambda run_namespace: None
    (row,) = audit_brian_network(net, LAYERS).failures()
    assert "methods replaced on the instance (before_run)" in row.detail

    report = audit_brian_network([*_three_layer_net()[0].objects, object()], LAYERS)
    assert any("object object" in row.detail for row in report.failures())


def test_linked_variable_into_later_layer_used_by_the_rule_is_backward_flow():
    inp = NeuronGroup(4, "h : 1", name="inp")
    hid = NeuronGroup(3, "h : 1\ndelta : 1\nyo : 1 (linked)", name="hid")
    out = NeuronGroup(2, "h : 1\ny : 1", name="out")
    hid.yo = linked_var(out, "y", index=np.array([0, 1, 1]))
    hid.run_regularly("delta = yo", dt=1 * ms)
    syn_hid = Synapses(inp, hid, "w : 1", name="syn_hid")
    syn_hid.connect()
    syn_hid.run_regularly(LAYER1_RULE, dt=1 * ms)
    report = audit_brian_network([inp, hid, out, syn_hid], LAYERS)
    (row,) = _rows(report, "forward-only", "hid")
    assert "out.y (layer 2) -> hid.delta (layer 1)" in row.detail


def test_honest_inputs_monitors_and_pure_functions_pass():
    @brian2.check_units(x=1, result=1)
    def squash(x):
        return np.tanh(x)

    net, hid, out, _ = _three_layer_net()
    inp = next(obj for obj in net.objects if obj.name == "inp")
    stim = TimedArray(np.ones((3, 4)), dt=1 * ms, name="stim")
    inp.namespace.update(stim=stim, squash=squash)
    inp.run_regularly("h = squash(stim(t, i))", dt=1 * ms)
    spikes = brian2.SpikeGeneratorGroup(2, [0, 1], [1, 2] * ms, name="cue")
    cue = Synapses(spikes, hid, on_pre="I_post += 0.1", name="syn_cue")
    cue.connect()
    net.add(spikes, cue, brian2.StateMonitor(out, "h", record=True, name="mon"))
    layers = {**LAYERS, "cue": 0}
    report = audit_brian_network(net, layers, stimuli={"stim": 0, "cue": 0})
    assert report.ok, report.table()
    undeclared = audit_brian_network(net, layers, stimuli={"cue": 0})
    assert not undeclared.ok
    assert "stim (TimedArray not declared in stimuli=)" in undeclared.table()
    no_cue = audit_brian_network(net, layers, stimuli={"stim": 0})
    assert "declare it in stimuli=" in _rows(no_cue, "forward-only", "cue")[0].detail


# ----------------------------------------------------------------------------------------
# Temporal locality: phases and the longest interval between combined factors
# ----------------------------------------------------------------------------------------


def _memory_net(update_every, memory_every=5 * ms, n_labels=4):
    """A label group, a hidden layer remembering a label-gated target, a plastic synapse.

    The onsets (the reset of ``h``) come every 5 ms; the update reads the class memory.
    """
    label = NeuronGroup(n_labels, "y : 1\nh : 1", name="inp")
    hid = NeuronGroup(3, "h : 1\nI : 1\nm : 1\ny : 1 (linked)", name="hid")
    hid.y = linked_var(label, "y", index=np.zeros(3, dtype=int))
    hid.run_regularly("m += y*(h - m)", dt=memory_every, name="hid_memory")
    hid.run_regularly("h = 0", dt=5 * ms, name="hid_onset")
    out = _layer("out", 2)
    syn = _forward_synapses(label, hid, "syn_hid", rule=None)
    syn.run_regularly("w += eta*y_pre*m_post", dt=update_every, name="syn_hid_update")
    plain = _forward_synapses(hid, out, "syn_out", rule=None)
    plain.run_regularly("w += eta*h_pre*h_post", dt=update_every, name="syn_out_update")
    return Network(label, hid, out, syn, plain)


def test_class_memory_spans_one_presentation_per_label_unit():
    report = audit_brian_network(_memory_net(5 * ms), LAYERS)

    assert report.phases == 1
    # m is refreshed when its class (1 of 4 label units) is shown: every 4 x 5 ms on average
    assert report.longest_interval == pytest.approx(0.020)
    (row,) = _rows(report, "temporal", "syn_hid")
    assert "every 5 ms (1 presentation)" in row.detail
    assert "class memories m (1 of 4 label units" in row.detail
    (plain,) = _rows(report, "temporal", "syn_out")
    assert "combines factors up to 5 ms apart" in plain.detail
    assert "phases: 1 (onsets every 5 ms)" in _rows(report, "temporal", "network")[0].detail
    assert report.ok  # temporal rows inform; they never fail


def test_an_update_every_two_onsets_needs_two_phases():
    report = audit_brian_network(_memory_net(10 * ms, memory_every=10 * ms), LAYERS)

    assert report.phases == 2
    assert report.longest_interval == pytest.approx(4 * 0.010)
    (row,) = _rows(report, "temporal", "syn_out")
    assert "every 10 ms (2 presentations)" in row.detail


def test_presentation_can_be_given():
    report = audit_brian_network(_memory_net(10 * ms), LAYERS, presentation=0.010)
    assert report.phases == 1


def test_continuous_and_event_driven_updates_combine_live_factors():
    report = audit_brian_network(_three_layer_net()[0], LAYERS)
    assert report.phases == 1
    assert report.longest_interval == pytest.approx(1e-3)  # the run_regularly period

    inp = NeuronGroup(4, "v : 1", threshold="v > 1", reset="v = 0", name="inp")
    hid = NeuronGroup(3, "v : 1", threshold="v > 1", reset="v = 0", name="hid")
    syn = Synapses(inp, hid, "w : 1", on_pre="w += 0.01*v_post", name="stdp")
    syn.connect()
    report = audit_brian_network([inp, hid, syn], {"inp": 0, "hid": 1})
    (row,) = _rows(report, "temporal", "stdp")
    assert row.detail.startswith("at every presynaptic event")
    assert report.longest_interval == pytest.approx(float(brian2.defaultclock.dt))


def test_weight_transport_is_reported_separately_from_feedback():
    net = _net_with_a_rule_reading_other_weights()
    report = audit_brian_network(net, LAYERS)
    assert report.forward_only and not report.weight_transport_free
    (failure,) = report.failures()
    assert failure.problems == ("weight transport",)

    net, hid, out, _ = _three_layer_net()
    net.add(_forward_synapses(out, hid, "syn_feedback", rule=None))
    report = audit_brian_network(net, LAYERS)
    assert report.weight_transport_free and not report.forward_only


# ----------------------------------------------------------------------------------------
# audit_model: the Brian2 families (built, never run) and the numpy declarations
# ----------------------------------------------------------------------------------------

RATE_SMALL = dict(hidden=(5, 4), chunk=3, presentation=3.0, dt=1.0, tau=2.0)
LIF_SMALL = dict(hidden=(6, 5), chunk=4, presentation=10.0, dt=0.5, branch_every=2)


def _audit_brian_model(family, **fields):
    from neurosig.analyses.audit import audit_model
    from neurosig.models.lif import LIFConfig, build_lif
    from neurosig.models.rate import RateConfig, build_rate

    if family == "rate":
        model = build_rate(RateConfig(**{**RATE_SMALL, **fields}), 6, 3, np.random.default_rng(0))
    else:
        model = build_lif(LIFConfig(**{**LIF_SMALL, **fields}), 6, 3, np.random.default_rng(0))
    return audit_model(model)


@pytest.mark.parametrize("family", ["rate", "lif"])
def test_two_compartments_need_one_phase_and_the_phase_mode_two(family):
    compartments = _audit_brian_model(family)
    phases = _audit_brian_model(family, mode="phases")
    assert compartments.ok and phases.ok, phases.table()
    assert (compartments.phases, phases.phases) == (1, 2)
    assert compartments.forward_only and compartments.local
    assert compartments.weight_transport_free


def test_rate_longest_interval_is_the_documented_value():
    # no class memory is read (mse, no anti-collapse): one presentation (3 ms), two in phases
    mse = dict(rule="hebbian-mse", anti_collapse="none", target_branch="presented")
    assert _audit_brian_model("rate", **mse).longest_interval == pytest.approx(3e-3)
    assert _audit_brian_model("rate", **mse, mode="phases").longest_interval == pytest.approx(6e-3)
    # per-step updates of live factors: one time step
    step = _audit_brian_model("rate", **mse, update="step")
    assert step.longest_interval == pytest.approx(1e-3)
    # the contrastive rule reads the class memories (3 classes): 3 samples
    report = _audit_brian_model("rate", mode="phases")
    assert report.longest_interval == pytest.approx(3 * 6e-3)
    (row,) = _rows(report, "temporal", "w1")
    assert "class memories m0..m2 (1 of 3 label units" in row.detail
    assert "latches I_d, h_d" in row.detail


@pytest.mark.parametrize("family", ["rate", "lif"])
def test_label_path_row_says_the_label_reaches_every_layer_directly(family):
    report = _audit_brian_model(family)
    (row,) = [row for row in report.rows if row.check == "label path"]
    assert row.ok and report.ok and report.forward_only
    assert report.label_direct_layers == (1.0, 2.0, 3.0)  # both hidden layers and readout
    assert "enters at stimulus lab (layer 0), label (layer 0)" in row.detail
    assert "direct to layers 1, 2, 3" in row.detail
    assert "1: layer1, summary1" in row.detail and "2: layer2, summary2" in row.detail


def test_label_through_the_forward_stream_is_not_direct():
    label = NeuronGroup(3, "y : 1", name="label")
    inp = NeuronGroup(4, "h : 1\nI : 1", name="inp")
    to_inp = Synapses(label, inp, "c : 1\nI_post = c*y_pre : 1 (summed)", name="signal")
    to_inp.connect()
    net, hid, out, _ = _three_layer_net()
    objects = [obj for obj in net.objects if obj.name != "inp"]
    syn_hid = next(obj for obj in objects if obj.name == "syn_hid")
    objects.remove(syn_hid)
    forward = _forward_synapses(inp, hid, "syn_in")
    layers = {**LAYERS, "label": 0}
    report = audit_brian_network([label, inp, to_inp, forward, *objects], layers, label=["label"])
    assert report.label_direct_layers == ()
    assert "only through the forward stream" in report.table()

    hid_with_label = NeuronGroup(3, "h : 1\nI : 1\nyl : 1 (linked)", name="hid2")
    hid_with_label.yl = linked_var(label, "y", index=np.array([0, 1, 2]))
    hid_with_label.run_regularly("h = yl", dt=1 * ms)
    layers["hid2"] = 1
    report = audit_brian_network(
        [label, inp, to_inp, forward, hid_with_label, *objects], layers, label=["label"]
    )
    assert report.label_direct_layers == (1.0,) and report.ok
    assert "1: hid2 (e.g. hid2.h <- label.y)" in report.table()


def _audit_numpy(name):
    from neurosig.analyses.audit import audit_model
    from neurosig.registry import get_model

    spec = get_model(name)
    return audit_model(spec.build(spec.config_cls(hidden=(8, 8)), 4, 3, np.random.default_rng(0)))


def test_backprop_reads_later_weights_through_a_feedback_pathway():
    report = _audit_numpy("bp")
    assert not report.forward_only and not report.local and not report.weight_transport_free
    assert report.phases == 2 and np.isnan(report.longest_interval)
    failed = {(row.check, row.obj): row for row in report.failures()}
    assert set(failed) == {
        (c, b) for c in ("forward-only", "locality") for b in ("layer1", "layer2")
    }
    assert failed["forward-only", "layer1"].problems == ("feedback pathway",)
    assert "weights of layer2" in failed["locality", "layer1"].detail
    assert failed["locality", "layer1"].problems == ("weight transport",)


@pytest.mark.parametrize("name", ["fa", "dfa"])
def test_feedback_alignment_needs_a_feedback_pathway_but_no_weight_transport(name):
    report = _audit_numpy(name)
    assert not report.forward_only
    assert report.local and report.weight_transport_free
    assert all("feedback pathway" in row.detail for row in report.failures())
    assert "feedback_layer" in report.table()


@pytest.mark.parametrize(("name", "phases"), [("sp-core", 1), ("ff", 2), ("random-features", 1)])
def test_forward_only_rules_pass(name, phases):
    report = _audit_numpy(name)
    assert report.ok and report.weight_transport_free, report.table()
    assert report.phases == phases


def test_every_registered_numpy_model_declares_its_updates():
    from neurosig.registry import MODELS

    for name in set(MODELS) - {"rate", "lif"}:  # shipped ones: tests register doubles too
        report = _audit_numpy(name)
        assert any(row.check == "locality" for row in report.rows), name


# ----------------------------------------------------------------------------------------
# neurosig audit
# ----------------------------------------------------------------------------------------


def test_cli_audit_exit_codes(capsys, tmp_path):
    from neurosig.cli import main

    assert main(["audit", "rate-sigprop-digits"]) == 0
    out = capsys.readouterr().out
    assert "check" in out and "temporal" in out and "forward-only: yes" in out

    assert main(["audit", "bp-digits"]) == 1
    out = capsys.readouterr().out
    assert "weight transport" in out and "FAIL" in out

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[model]\nname = "bp"\nhiden = [3]\n')
    assert main(["audit", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("neurosig: error:")
