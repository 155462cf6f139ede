"""The LIF model's cortical regime (its default): Dale's law from the input on, the background
shared by both streams, homeostasis, the recorded E and I input (numpy target, tiny nets)."""

from __future__ import annotations

import numpy as np

from neurosig.analyses.activity import ei_balance
from neurosig.models.lif import LIFConfig, build_lif
from neurosig.models.lif_network import input_signs

TINY = dict(hidden=(12,), chunk=6, presentation=20.0, dt=0.5, target="standalone")


def _blobs(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.standard_normal((3, 4))[y] * 2 + 0.3 * rng.standard_normal((n, 4)), y


def test_every_feature_excites_and_inhibits_and_learning_keeps_the_signs():
    cfg = LIFConfig(**TINY, input_copies=5)
    model = build_lif(cfg, 4, 3, np.random.default_rng(0))
    sign0 = model.state["layer0.sgn"].reshape(4, 5)  # feature-major input units
    assert (sign0[:, :4] == 1).all() and (sign0[:, 4] == -1).all()
    x, y = _blobs()
    for _ in range(3):
        model.train_batch(x, y, np.random.default_rng(1))
    st = model.st
    for name, pre, _ in st.projections:
        i, _ = st.conn[name]
        w, sign = model.state[f"{name}.w"], model.state[f"{pre}.sgn"][i]
        assert (w * sign >= 0).all(), name  # no weight crossed zero
        assert (w != 0).any()
    # with one unit per feature, whole features are excitatory or inhibitory
    one = input_signs(LIFConfig(input_copies=1), 10)["layer0.sgn"]
    np.testing.assert_array_equal(one, [1] * 8 + [-1] * 2)


def test_the_background_is_the_same_noise_in_both_streams():
    # no input spikes in either stream: only the background drives the layer, so the filtered
    # target potential the class memory stores equals the data potential, sample by sample
    cfg = LIFConfig(
        **TINY, input_offset=0.0, input_gain=0.0, baseline=0.0, memory_rate=1.0, lr=0.0,
        target_rate=0.0,
    )  # fmt: skip
    model = build_lif(cfg, 4, 3, np.random.default_rng(0))
    x, y = _blobs()
    out = model.run_chunk(x, y, np.random.default_rng(2), learn=True)
    a = out["potential"][0]
    assert np.abs(a).max() > 0.1  # the background moves the potential (mV-scaled)
    last = {c: np.flatnonzero(y == c)[-1] for c in range(3)}
    for c, s in last.items():
        np.testing.assert_allclose(model.state["layer1.m"][c], a[s], rtol=1e-9, atol=1e-12)
    # and the background differs between samples (it is noise, not a fixed offset)
    assert not np.allclose(a[0], a[3])


def test_homeostasis_moves_the_rates_towards_the_set_point():
    x, y = _blobs(n=6)
    rates = {}
    for target in (2.0, 80.0):
        cfg = LIFConfig(**TINY, target_rate=target, homeostasis=0.2, lr=0.0)
        model = build_lif(cfg, 4, 3, np.random.default_rng(0))
        for k in range(6):
            model.train_batch(x, y, np.random.default_rng(k))
        rates[target] = np.mean(model.hidden_activity(x)[0])
    assert rates[2.0] < 20.0 < rates[80.0], rates


def test_recorded_excitatory_and_inhibitory_input_have_their_signs_and_balance():
    cfg = LIFConfig(**TINY, trace_units=4)
    model = build_lif(cfg, 4, 3, np.random.default_rng(0))
    x, _ = _blobs()
    rec = model.recordings(x).layer(1)
    e, i = rec.exc_input, rec.inh_input
    steps = round(cfg.presentation / 1.0)  # INPUT_RECORD_DT = 1 ms
    assert e.values.shape == i.values.shape == (len(x), 4, steps)
    assert e.dt == i.dt == 1e-3 and e.units == "mV"
    assert (e.values >= 0).all() and (i.values <= 0).all()
    assert e.values.mean() > 1.0 and i.values.mean() < -1.0  # both pathways are active
    import xarray as xr

    dims = ("sample", "unit", "time")
    b = ei_balance(xr.DataArray(e.values, dims=dims), xr.DataArray(i.values, dims=dims))
    assert np.isfinite(b.balance_index.values).all()
    assert (np.abs(b.balance_index.values) < 1).all()  # neither input dominates alone


def test_current_synapses_record_no_separate_inputs():
    cfg = LIFConfig(**TINY, trace_units=2, synapse="current")
    model = build_lif(cfg, 4, 3, np.random.default_rng(0))
    rec = model.recordings(_blobs()[0]).layer(1)
    assert rec.traces is not None and rec.exc_input is None and rec.inh_input is None
