"""Experiment configs: TOML round trip, units, and one clear error per mistake."""

from __future__ import annotations

import dataclasses
import math

import pytest

from neurosig import registry
from neurosig.config import (
    DataConfig,
    Experiment,
    TrainConfig,
    Validated,
    check,
    describe,
    experiment_from_dict,
    format_quantity,
    from_dict,
    load_experiment,
    param,
    parse_quantity,
)
from neurosig.errors import ConfigError
from neurosig.registry import (
    MODELS,
    ModelSpec,
    get_model,
    model_names,
    preset_paths,
    register_model,
)

REGISTERED = ("sp-core", "bp", "fa", "dfa", "ff", "random-features")
DATASETS = ("digits", "mnist1d", "fashion-mnist", "mnist")


@dataclasses.dataclass(frozen=True)
class Neuron:
    tau: float = param(20.0, "membrane time constant", bounds=(0.0, None), unit="ms")
    v_th: float = param(-50.0, "threshold", unit="mV")
    rate: float = param(5.0, "background rate", bounds=(0.0, 1000.0), unit="Hz")


def test_every_model_is_registered_with_a_preset_on_every_dataset():
    assert set(REGISTERED) <= set(model_names())
    presets = preset_paths()
    for model in REGISTERED:
        for data in DATASETS:
            assert f"{model}-{data}" in presets
            exp = load_experiment(f"{model}-{data}")
            assert (exp.model, exp.data.name) == (model, data)


def test_every_table_entry_is_its_models_spec():
    for name in MODELS:
        assert get_model(name).name == name


def test_models_registered_at_run_time_and_shipped_names_refused(monkeypatch):
    # the double is registered in a copy of the table, so that no later test sees it
    monkeypatch.setattr(registry, "_REGISTERED", dict(registry._REGISTERED))
    spec = ModelSpec("test-config-double", Neuron, lambda *args: None, "test double", True)
    assert register_model(spec) is spec
    assert "test-config-double" in model_names() and get_model("test-config-double") is spec
    with pytest.raises(ValueError, match="'bp' is a shipped model"):
        register_model(dataclasses.replace(spec, name="bp"))
    with pytest.raises(ConfigError, match="Did you mean 'test-config-double'"):
        get_model("test-config-doubel")


@pytest.mark.parametrize("model", REGISTERED)
def test_bare_model_name_is_a_preset_with_defaults(model):
    exp = load_experiment(model)
    assert exp.params == get_model(model).config_cls()


def test_cross_field_checks_run_through_the_validated_protocol():
    @dataclasses.dataclass(frozen=True)
    class Window:
        start: float = param(0.0, "start")
        stop: float = param(1.0, "stop")

        def validate(self, where: str) -> None:
            if self.stop <= self.start:
                raise ConfigError(f"{where}: stop must come after start")

    assert isinstance(Window(), Validated) and not isinstance(Neuron(), Validated)
    check(Neuron())
    with pytest.raises(ConfigError, match="window: stop must come after start"):
        check(Window(2.0, 1.0), "window")


def test_toml_round_trip(tmp_path):
    exp = load_experiment("sp-core-mnist1d").replace(train_seed=7, model_loss="per_class")
    path = tmp_path / "exp.toml"
    path.write_text(exp.to_toml())
    assert load_experiment(path) == exp


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("20 ms", "ms", 20.0),
        ("0.02 s", "ms", 20.0),
        ("5 kHz", "Hz", 5000.0),
        ("-65 mV", "mV", -65.0),
        ("1.5e-3 s", "ms", 1.5),
        ("100 Mohm", "Mohm", 100.0),
        ("2 nA", "pA", 2000.0),
    ],
)
def test_parse_quantity(text, unit, value):
    assert parse_quantity(text, unit) == pytest.approx(value)
    assert parse_quantity(format_quantity(value, unit), unit) == pytest.approx(value)


def test_units_and_ranges_are_checked_with_the_field_named():
    assert from_dict(Neuron, {"tau": "0.01 s"}, "neuron").tau == pytest.approx(10.0)
    with pytest.raises(ConfigError, match=r"neuron.tau = '20 mV'.*voltage.*time"):
        from_dict(Neuron, {"tau": "20 mV"}, "neuron")
    with pytest.raises(ConfigError, match=r"neuron.tau = 20: give the unit.*\"20 ms\""):
        from_dict(Neuron, {"tau": 20}, "neuron")
    with pytest.raises(ConfigError, match=r"neuron.tau.*out of range"):
        from_dict(Neuron, {"tau": "-1 ms"}, "neuron")
    with pytest.raises(ConfigError, match=r"unknown unit 'furlongs'"):
        from_dict(Neuron, {"tau": "3 furlongs"}, "neuron")


@dataclasses.dataclass(frozen=True)
class Bounds:
    gain: float = param(1.0, "unbounded")
    span: float = param(1.0, "may be infinite", bounds=(0.0, math.inf))


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("gain", math.nan, False),  # no bounds is no licence for NaN
        ("gain", math.inf, False),
        ("gain", -math.inf, False),
        ("span", math.inf, True),  # its range names inf explicitly
        ("span", math.nan, False),
        ("span", -math.inf, False),
    ],
)
def test_floats_are_finite_unless_the_range_includes_that_infinity(field, value, ok):
    if ok:
        assert getattr(from_dict(Bounds, {field: value}, "b"), field) == value
    else:
        with pytest.raises(ConfigError, match=rf"b\.{field} = -?(nan|inf): must be a finite"):
            from_dict(Bounds, {field: value}, "b")


def test_described_ranges_say_which_ends_are_open():
    rows = {name: allowed for name, _, allowed, _ in describe(DataConfig)}
    assert rows["n_train"] == "[1, inf)" and rows["validation_fraction"] == "[0.0, 0.9]"
    assert dict((r[0], r[2]) for r in describe(Bounds))["span"] == "[0.0, inf]"
    assert "remap_labels" in rows


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"model": {"name": "sp-core", "hiden": [10]}},
            r"model.hiden: unknown field. Did you mean 'hidden'",
        ),
        (
            {"model": {"name": "sp-core", "loss": "topkk"}},
            r"model.loss = 'topkk': choose one of.*Did you mean 'topk'",
        ),
        ({"model": {"name": "sp-core", "lr": -1.0}}, r"model.lr = -1.0: out of range"),
        ({"model": {"name": "sp-core", "hidden": 10}}, r"model.hidden = 10: expected a list"),
        ({"model": {"name": "sp-core", "hidden": []}}, r"model.hidden = \[\]"),
        ({"model": {"name": "sp-cor"}}, r"unknown model. Did you mean 'sp-core'"),
        ({"model": {"name": "bp"}, "train": {"epochs": 0}}, r"train.epochs = 0: out of range"),
        (
            {"model": {"name": "bp"}, "train": {"epochs": "ten"}},
            r"train.epochs = 'ten': expected a whole number",
        ),
        (
            {"model": {"name": "bp"}, "trian": {}},
            r"unknown top-level key 'trian'. Did you mean 'train'",
        ),
        (
            {"model": {"name": "bp"}, "data": {"validation_fraction": 2.0}},
            r"data.validation_fraction = 2.0",
        ),
        ({"train": {}}, r"\[model\] needs a name"),
        ({"model": {"name": 3}}, r"model.name = 3: expected a model name in quotes"),
        ({"model": 3}, r"\[model\] needs a name.*\(model = 3 is neither\)"),
        ({"model": "bp", "description": 3}, r"description = 3: expected a string"),
        ({"model": {"name": "ff", "theta": math.nan}}, r"model.theta = nan: must be a finite"),
    ],
)
def test_config_errors_name_the_field(doc, message):
    with pytest.raises(ConfigError, match=message):
        experiment_from_dict(doc, "test.toml")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_experiment(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="a folder, not a TOML file"):
        load_experiment(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="binary.toml: not a text file"):
        load_experiment(binary)
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_experiment(bad)
    with pytest.raises(ConfigError, match="neither a TOML file, a preset nor a model"):
        load_experiment("no-such-thing")


def test_replace_validates():
    exp = load_experiment("bp")
    assert exp.replace(train_epochs=3).train.epochs == 3
    with pytest.raises(ConfigError, match="train.batch_size"):
        exp.replace(train_batch_size=0)


def test_defaults_are_valid():
    exp = Experiment(name="x", model="bp", params=get_model("bp").config_cls())
    assert exp.data == DataConfig() and exp.train == TrainConfig()
