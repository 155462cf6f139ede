"""The Brian2 rate model: Brian2 vs the hand-written integrator, targets, audits, training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurosig.analyses.audit import audit_brian_network
from neurosig.cli import main
from neurosig.config import Experiment, TrainConfig, check, experiment_from_dict
from neurosig.errors import ConfigError, DivergenceError
from neurosig.models.rate import RateConfig, build_rate
from neurosig.models.rate_network import build_brian, equations_text, make_structure
from neurosig.train import train

SMALL = dict(hidden=(5, 4), chunk=3, presentation=3.0, dt=1.0, tau=2.0)

VARIANTS = {
    "default": {},
    "phases": dict(mode="phases"),
    "presented-target": dict(target_branch="presented"),
    "no-target-branch": dict(target_branch="none"),
    "mse-negatives": dict(rule="hebbian-mse"),
    "mse-normalise": dict(rule="hebbian-mse", anti_collapse="normalise"),
    "mse-none": dict(rule="hebbian-mse", anti_collapse="none"),
    "per-step": dict(update="step", activation="softplus"),
    "biology": dict(
        signal="learned",
        delay=1.0,
        presentation=4.0,
        dale=True,
        w_max=0.5,
        weight_decay=0.01,
        unit_noise=0.1,
        input_noise=0.1,
        p_connect=0.7,
        activation="sigmoid",
    ),
    "phases-biology": dict(
        mode="phases",
        delay=1.0,
        presentation=4.0,
        unit_noise=0.1,
        dale=True,
        signal="learned",
        reset=False,
    ),
}

# label_path = "stream": each layer picks its class slot from its own target stream
# (tests/test_label_path.py has the rule, the audit and the other stream variants)
VARIANTS["stream"] = dict(label_path="stream")
VARIANTS["stream-biology"] = dict(VARIANTS["biology"], label_path="stream")


def _train(cfg: RateConfig, n_batches: int = 2, seed: int = 1):
    rng = np.random.default_rng(seed)
    model = build_rate(cfg, 6, 3, rng)
    x = rng.standard_normal((7 * n_batches, 6))
    y = rng.integers(0, 3, 7 * n_batches)
    update_rng = np.random.default_rng(5)
    losses = [
        model.train_batch(x[i : i + 7], y[i : i + 7], update_rng) for i in range(0, len(y), 7)
    ]
    return model, losses, model.predict(x), model.hidden_activity(x)


def _assert_same(a, b, tol=1e-9):
    sa, sb = a[0].state_dict(), b[0].state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_allclose(sa[key], sb[key], rtol=0, atol=tol, err_msg=key)
    for la, lb in zip(a[1], b[1], strict=True):
        for key in la:
            assert la[key] == pytest.approx(lb[key], abs=tol)
    for ha, hb in zip(a[3], b[3], strict=True):
        np.testing.assert_allclose(ha, hb, rtol=0, atol=tol)


# variants that only switch a branch of code the others already run: slow tier (suite time)
_SLOW_VARIANTS = ("presented-target", "no-target-branch", "mse-normalise", "mse-none")


@pytest.mark.parametrize(
    "variant",
    [pytest.param(v, marks=pytest.mark.slow) if v in _SLOW_VARIANTS else v for v in VARIANTS],
)
def test_standalone_matches_the_handwritten_integrator(variant):
    """The default target, C++ standalone, against the numpy oracle, variant by variant (the
    compiled programs are cached: a warm suite relinks them; the runtime numpy target rebuilds
    its code at every run, which made this test several times slower on it)."""
    cfg = RateConfig(**{**SMALL, **VARIANTS[variant]}, target="reference")
    ref = _train(cfg)
    brian = _train(dataclasses.replace(cfg, target="standalone"))
    _assert_same(ref, brian)
    # fewer samples than a chunk: the integrator stops after them, Brian2 runs the padding
    x = np.random.default_rng(2).standard_normal((2, 6))
    (ref_acts, ref_ro), (acts, ro) = ref[0].evaluate(x), brian[0].evaluate(x)
    for a, b in zip([*ref_acts, ref_ro], [*acts, ro], strict=True):
        assert a.shape[0] == 2
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    trained = ref[0].state_dict()["w1.weight"]
    untrained = build_rate(cfg, 6, 3, np.random.default_rng(1)).state_dict()["w1.weight"]
    assert np.isfinite(trained).all()
    assert np.abs(trained - untrained).max() > 1e-6  # both back ends learned, not just agreed


@pytest.mark.parametrize("variant", ["default", pytest.param("biology", marks=pytest.mark.slow)])
def test_brian2_numpy_target_matches_the_handwritten_integrator(variant):
    """One batch (three chunks, the last one partial, weights carried between them): Brian2's
    runtime numpy target generates its code anew at every run, about 2 s each."""
    cfg = RateConfig(**{**SMALL, **VARIANTS[variant]}, target="reference")
    numpy = dataclasses.replace(cfg, target="numpy")
    _assert_same(_train(cfg, n_batches=1), _train(numpy, n_batches=1))


@pytest.mark.slow
def test_cython_matches_standalone():
    cfg = RateConfig(**SMALL, target="standalone")
    _assert_same(_train(cfg), _train(dataclasses.replace(cfg, target="cython")))


def test_phase_mode_with_reset_computes_the_same_updates_as_two_compartments():
    a = _train(RateConfig(**SMALL, target="reference"))
    b = _train(RateConfig(**SMALL, mode="phases", target="reference"))
    _assert_same(a, b, tol=1e-12)


def test_results_do_not_depend_on_the_chunk_size():
    a = _train(RateConfig(**SMALL, target="reference"))
    b = _train(RateConfig(**{**SMALL, "chunk": 7}, target="reference"))
    _assert_same(a, b, tol=1e-12)


def test_learning_changes_the_weights_and_noise_is_reproducible():
    cfg = RateConfig(**SMALL, unit_noise=0.2, input_noise=0.2, target="reference")
    a, b = _train(cfg), _train(cfg)
    _assert_same(a, b, tol=0)
    untrained = build_rate(cfg, 6, 3, np.random.default_rng(1))
    diff = a[0].state_dict()["w1.weight"] - untrained.state_dict()["w1.weight"]
    assert np.abs(diff).max() > 1e-6


def _separable_blobs(n_per_class: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 6)) * 2
    y = np.repeat(np.arange(3), n_per_class)
    return centers[y] + 0.3 * rng.standard_normal((len(y), 6)), y


def test_learning_lowers_every_layer_loss_and_fits_a_separable_batch():
    """Repeated passes over one batch: each layer's sigprop loss falls and the batch is fitted.

    A rule with the wrong sign, a missing factor or updates that never reach the weights fails.
    """
    x, y = _separable_blobs()
    # the rule's sign and factors, at a small rate without input noise (the defaults' lr 0.05
    # and input noise 0.3 make 15 passes over 12 samples too noisy to show a steady fall)
    cfg = RateConfig(
        hidden=(8, 6), chunk=12, presentation=3.0, dt=1.0, tau=2.0, lr=0.01, input_noise=0.0,
        target="reference",
    )  # fmt: skip
    model = build_rate(cfg, 6, 3, np.random.default_rng(1))
    rng = np.random.default_rng(5)
    losses = [model.train_batch(x, y, rng) for _ in range(15)]
    for layer in ("layer1", "layer2", "readout"):
        first, last = losses[0][layer], np.mean([loss[layer] for loss in losses[-3:]])
        assert last < 0.6 * first, f"{layer}: loss {first:.3f} -> {last:.3f}"
    assert (model.predict(x)["target"] == y).mean() == 1.0


def _brian_objects(cfg: RateConfig):
    import brian2

    brian2.start_scope()
    brian2.set_device("runtime")
    st = make_structure(cfg, 6, 3, np.random.default_rng(0), chunk=2)
    return build_brian(st).objects


@pytest.mark.parametrize("variant", ["default", "phases", "mse-negatives", "biology"])
def test_built_network_is_forward_only_and_every_update_is_local(variant):
    cfg = RateConfig(**{**SMALL, **VARIANTS[variant]})
    model = build_rate(cfg, 6, 3, np.random.default_rng(0))
    report = audit_brian_network(
        _brian_objects(cfg).values(),
        model.layer_of(),
        stimuli=model.stimuli(),
        label=model.label_inputs(),
    )
    assert report.forward_only, report.table()
    assert report.local, report.table()
    plastic = [r for r in report.rows if r.check == "locality" and "w1" in r.obj]
    assert plastic and all(r.ok for r in plastic)


def test_audit_catches_a_feedback_synapse():
    import brian2

    cfg = RateConfig(**SMALL)
    objects = _brian_objects(cfg)
    back = brian2.Synapses(objects["layer2"], objects["layer1"], "w : 1", name="feedback")
    back.connect()
    model = build_rate(cfg, 6, 3, np.random.default_rng(0))
    report = audit_brian_network(
        [*objects.values(), back],
        model.layer_of(),
        stimuli=model.stimuli(),
        label=model.label_inputs(),
    )
    assert not report.forward_only
    assert [r.obj for r in report.failures()] == ["feedback"]


def test_equations_are_readable_text():
    text = equations_text(RateConfig())
    assert "dh/dt = (clip((I_h + b), 0, inf) - h)/tau" in text
    assert "w += -lr_post*(e_h_post*h_pre + ec0_post*m0_pre" in text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"presentation": 2.5}, "presentation = 2.5 ms is not a whole number of time steps"),
        ({"delay": 10.0}, "the input needs 30 ms to reach the readout"),
        ({"update": "step", "mode": "phases"}, 'update = "step" needs mode = "compartments"'),
        ({"hidden": ()}, "give at least one hidden layer"),
    ],
)
def test_bad_combinations_are_clear_errors(fields, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        check(RateConfig(**fields), "model")


def test_units_are_checked_in_toml(capsys, tmp_path):
    toml = tmp_path / "bad.toml"
    toml.write_text('name = "x"\n[model]\nname = "rate"\ntau = "10 mV"\n[data]\nname = "digits"\n')
    assert main(["validate", str(toml)]) == 2
    err = capsys.readouterr().err
    assert "model.tau" in err and "time" in err
    exp = experiment_from_dict(
        {"name": "x", "model": {"name": "rate", "tau": "0.02 s"}, "data": {"name": "digits"}}
    )
    assert exp.params.tau == pytest.approx(20.0)


def test_divergence_stops_with_a_clear_message(tmp_path, npz_data):
    cfg = RateConfig(
        hidden=(8,),
        chunk=50,
        presentation=2.0,
        dt=1.0,
        tau=1.0,
        lr=10.0,
        readout_lr=2.0,
        rule="hebbian-mse",
        anti_collapse="none",
        target="reference",
    )
    exp = Experiment(
        name="boom",
        model="rate",
        params=cfg,
        data=experiment_from_dict(
            {"name": "x", "model": {"name": "rate"}, "data": {"name": f"npz:{npz_data}"}}
        ).data,
        train=TrainConfig(epochs=3, batch_size=50),
    )
    with pytest.raises(DivergenceError, match="diverged"):
        with np.errstate(all="ignore"):
            train(exp, out=tmp_path / "r.nc", progress=False)
    assert (tmp_path / "r.nc").exists()


def test_cli_trains_the_rate_model_in_standalone_mode(tmp_path, npz_data, capsys):
    from neurosig import load_result

    out = tmp_path / "r.nc"
    code = main(
        [
            "train",
            "rate",
            "--dataset",
            f"npz:{npz_data}",
            "--epochs",
            "2",
            "--seed",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    ds = load_result(out)
    assert ds.attrs["target"] == "standalone" and ds.attrs["model"] == "rate"
    assert ds.sizes["epoch"] == 2
    assert ds.test_accuracy.values[-1] > 0.8  # three separable blobs
    assert ds.param_w1_weight.dims == ("w1_out", "w1_in")
    assert ds.param_layer2_memory.dims == ("class", "layer2_out")
    assert "activity_layer1" in ds


def test_presets_validate():
    from neurosig.config import load_experiment

    for name in ("rate-sigprop-digits", "rate-sigprop-mnist1d", "rate-sigprop-fashion-mnist"):
        exp = load_experiment(name)
        assert exp.model == "rate"
        check(exp.params, "model")
