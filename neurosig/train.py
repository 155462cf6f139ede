"""Training loop for numpy models: epochs, evaluation, checkpoints, progress, divergence guard.

``train(experiment)`` returns an ``xarray.Dataset`` (the *Result*) with, per epoch, the train,
validation and test accuracy of every readout, each part's mean training loss, the learning
rate and the throughput; at the end, every learned parameter and the hidden activity of a fixed
test subset; as attributes, the resolved configuration (TOML), the seed and the provenance.

Seeds: one root seed (``train.seed``); ``numpy.random.SeedSequence(seed).spawn(3)`` gives the
streams for initialisation, shuffling and the updates (dropout, random positives, negatives),
so each is reproducible on its own and the same seed gives bit-identical results.

When ``out`` is given the Result is rewritten atomically after every epoch: a killed run keeps
every finished epoch. A NaN or inf loss stops the run, restores the last good epoch's
parameters, writes them with ``status = "diverged"`` and raises :class:`DivergenceError`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

from neurosig.config import Experiment, check
from neurosig.data import Dataset, load_dataset
from neurosig.errors import DivergenceError
from neurosig.registry import TrainableModel, get_model
from neurosig.results import provenance, save_result

SPLITS = ("train", "validation", "test")


def learning_rate(base: float, schedule: str, epoch: int, epochs: int) -> float:
    """Learning rate for ``epoch`` (1-based): constant, or cosine decay from ``base`` to 0."""
    if schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))
    return base


def evaluate(
    model: TrainableModel, x: np.ndarray, y: np.ndarray, batch_size: int = 1000
) -> dict[str, float]:
    """Accuracy of every readout of ``model`` on (x, y)."""
    if len(y) == 0:
        return {name: float("nan") for name in model.readouts}
    correct = dict.fromkeys(model.readouts, 0)
    for start in range(0, len(y), batch_size):
        pred = model.predict(x[start : start + batch_size])
        for name in model.readouts:
            correct[name] += int((pred[name] == y[start : start + batch_size]).sum())
    return {name: c / len(y) for name, c in correct.items()}


def result_experiment(ds: xr.Dataset) -> Experiment:
    """The experiment a Result was trained from (its stored, fully resolved config)."""
    from neurosig.config import experiment_from_toml

    return experiment_from_toml(ds.attrs["config"], source="the Result's config")


def restore_model(
    ds: xr.Dataset, *, trained: bool = True, data: Dataset | None = None, **changes
) -> tuple[TrainableModel, Dataset]:
    """Rebuild the model of a Result, untrained or with its learned parameters, and its data.

    ``build_model`` draws the same initial network from the same seed, so ``trained=False``
    gives the network exactly as it was before training. ``changes`` go to
    :meth:`Experiment.replace` (e.g. ``model_encoding="poisson"``) for probes that change how
    the network is run, not its structure. Optimiser state is not stored in a Result: the
    rebuilt model keeps its fresh one, which is fine for evaluation but not for resuming.
    """
    experiment = result_experiment(ds)
    if changes:
        experiment = experiment.replace(**changes)
    data = data if data is not None else load_experiment_data(experiment)
    model = build_model(experiment, data)
    if trained:
        # a Result stores ``block.name`` as ``param_block_name``; block names may contain "_"
        # (``w_ro``), so look each of the model's own keys up rather than parsing the names
        state = model.state_dict()
        for key in state:
            stored = "param_" + key.replace(".", "_", 1)
            if stored in ds:
                state[key] = ds[stored].values
        model.load_state_dict(state)
    return model, data


@dataclass
class _History:
    """Per-epoch records, turned into the Result's variables."""

    accuracy: list[np.ndarray] = field(default_factory=list)  # (split, readout)
    loss: list[np.ndarray] = field(default_factory=list)  # (layer,)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    samples_per_second: list[float] = field(default_factory=list)
    activity: list[list[np.ndarray]] = field(default_factory=list)  # epoch -> layer -> (n, units)
    initial_activity: list[np.ndarray] = field(default_factory=list)  # layer -> (n, units)
    initial_recordings: dict = field(default_factory=dict)  # spiking models, before training


def build_model(experiment: Experiment, data: Dataset) -> TrainableModel:
    """The untrained model of ``experiment`` for ``data`` (initialised from the root seed)."""
    spec = get_model(experiment.model)
    init_seed = np.random.SeedSequence(experiment.train.seed).spawn(3)[0]
    return spec.build(
        experiment.params, data.n_features, data.n_classes, np.random.default_rng(init_seed)
    )


def load_experiment_data(experiment: Experiment) -> Dataset:
    """The data set named by ``experiment.data``."""
    d = experiment.data
    return load_dataset(
        d.name,
        validation_fraction=d.validation_fraction,
        seed=experiment.train.seed,
        standardise=d.standardise,
        n_train=d.n_train,
        n_test=d.n_test,
    )


def _result(
    experiment: Experiment, model: TrainableModel, data: Dataset, hist: _History, status: str
) -> xr.Dataset:
    epochs = np.arange(1, len(hist.lr) + 1)
    acc = np.array(hist.accuracy).reshape(len(epochs), len(SPLITS), len(model.readouts))
    primary = model.readouts[0]
    ds = xr.Dataset(
        {
            "accuracy": (
                ("epoch", "split", "readout"),
                acc,
                {"units": "1", "long_name": "fraction correct"},
            ),
            "loss": (
                ("epoch", "layer"),
                np.array(hist.loss).reshape(len(epochs), len(model.loss_names)),
                {"units": "1", "long_name": "mean training loss of each part"},
            ),
            "learning_rate": ("epoch", np.array(hist.lr), {"units": "1"}),
            "epoch_time": (
                "epoch",
                np.array(hist.seconds),
                {"units": "s", "long_name": "training time of the epoch"},
            ),
            "samples_per_second": (
                "epoch",
                np.array(hist.samples_per_second),
                {"units": "1/s", "long_name": "training throughput"},
            ),
        },
        coords={
            "epoch": epochs,
            "split": list(SPLITS),
            "readout": list(model.readouts),
            "layer": list(model.loss_names),
        },
    )
    for split in SPLITS:
        ds[f"{split}_accuracy"] = ds.accuracy.sel(split=split, readout=primary, drop=True)
        ds[f"{split}_accuracy"].attrs.update(units="1", long_name=f"{split} accuracy ({primary})")
    for key, value in model.state_dict().items():
        if key.startswith("adam."):
            continue
        block, name = key.split(".", 1)
        dims = tuple(f"{block}_{d}" for d in (("out", "in") if value.ndim == 2 else ("out",)))
        if name in ("memory", "target_memory", "slope_memory"):  # class memories (rate, LIF)
            dims = ("class", f"{block}_out")
        elif name in ("baseline", "pre_baseline"):  # running baselines of both streams (LIF)
            dims = ("stream", f"{block}_out")
        ds[f"param_{block}_{name}"] = (dims, value)
    n_rec = min(experiment.train.record_samples, len(data.y_test))
    units = getattr(model, "activity_units", "1")
    if n_rec:
        ds.coords["sample"] = np.arange(n_rec)
        ds.coords["label"] = ("sample", data.y_test[:n_rec], {"long_name": "true class"})
        for i, act in enumerate(model.hidden_activity(data.x_test[:n_rec])):
            ds[f"activity_layer{i + 1}"] = (
                ("sample", f"layer{i + 1}_unit"),
                act,
                {"units": units, "long_name": "data-stream activity"},
            )
        for i, act in enumerate(hist.initial_activity):
            ds[f"initial_activity_layer{i + 1}"] = (
                ("sample", f"layer{i + 1}_unit"),
                act,
                {"units": units, "long_name": "data-stream activity before training"},
            )
        if hist.activity:  # epoch 0 = before training
            ds.coords["record_epoch"] = np.arange(len(hist.activity))
        for i in range(len(hist.activity[0]) if hist.activity else 0):
            ds[f"activity_history_layer{i + 1}"] = (
                ("record_epoch", "sample", f"layer{i + 1}_unit"),
                np.stack([a[i] for a in hist.activity]),
                {
                    "units": "1",
                    "long_name": "data-stream activity before training (record_epoch 0) and "
                    "after each epoch",
                },
            )
    if n_rec and hasattr(model, "recordings"):
        # spike trains and membrane potentials of the first recorded samples (ragged layout:
        # one dimension per layer's spikes); before training too if it was recorded
        for prefix, rec in (
            ("", model.recordings(data.x_test[:n_rec])),
            ("initial_", hist.initial_recordings),
        ):
            for name, (dims, values, attrs) in rec.items():
                dims = tuple(
                    f"initial_{d}" if d.startswith("spike_") and prefix else d for d in dims
                )
                ds[prefix + name] = (dims, values, attrs)
    ds.attrs.update(provenance())
    ds.attrs.update(
        name=experiment.name,
        model=experiment.model,
        dataset=data.name,
        data_source=data.source,
        seed=experiment.train.seed,
        config=experiment.to_toml(),
        status=status,
        target=getattr(model, "target", "numpy"),
        primary_readout=primary,
        feature_shape=str(tuple(data.feature_shape)),
    )
    return ds


def train(
    experiment: Experiment,
    *,
    out: str | Path | None = None,
    progress: bool = True,
    data: Dataset | None = None,
) -> xr.Dataset:
    """Train ``experiment`` and return its Result (also written to ``out`` if given).

    Parameters
    ----------
    experiment : Experiment
        Model, data and training settings (see :func:`neurosig.config.load_experiment`).
    out : path, optional
        netCDF file rewritten atomically after every epoch.
    progress : bool
        Show a progress bar (tqdm) with the loss and validation accuracy.
    data : Dataset, optional
        Already loaded data (skips ``load_dataset``; used by benchmarks and tests).
    """
    check(experiment.data, "data")
    check(experiment.train, "train")
    check(experiment.params, "model")
    data = data or load_experiment_data(experiment)
    cfg = experiment.train
    model = build_model(experiment, data)
    _, shuffle_seed, update_seed = np.random.SeedSequence(cfg.seed).spawn(3)
    shuffle_rng = np.random.default_rng(shuffle_seed)
    update_rng = np.random.default_rng(update_seed)
    base_lr = getattr(experiment.params, "lr", None)
    hist = _History()
    last_good = model.state_dict()
    n = len(data.y_train)
    train_eval = slice(None)
    if 0 < cfg.train_eval_samples < n:  # a fixed subset, drawn from its own seed
        subset_rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(4)[3])
        train_eval = np.sort(subset_rng.choice(n, cfg.train_eval_samples, replace=False))

    bar = tqdm(
        range(1, cfg.epochs + 1),
        desc=experiment.name,
        unit="epoch",
        disable=None if progress else True,  # None: a bar on terminals only, clean logs
        leave=False,
    )
    if cfg.record_samples:  # the network before training: the reference of geometry analyses
        hist.initial_activity = model.hidden_activity(data.x_test[: cfg.record_samples])
    if cfg.record_every_epoch and cfg.record_samples:
        hist.activity.append(hist.initial_activity)
        if hasattr(model, "recordings"):
            hist.initial_recordings = model.recordings(data.x_test[: cfg.record_samples])
    for epoch in bar:
        lr = learning_rate(base_lr, cfg.lr_schedule, epoch, cfg.epochs) if base_lr else 0.0
        if base_lr:
            model.set_learning_rate(lr)
        order = shuffle_rng.permutation(n)
        totals = np.zeros(len(model.loss_names))
        batches = 0
        start = time.perf_counter()
        for b in range(0, n, cfg.batch_size):
            idx = order[b : b + cfg.batch_size]
            losses = model.train_batch(data.x_train[idx], data.y_train[idx], update_rng)
            values = np.array([losses[k] for k in model.loss_names])
            if not np.all(np.isfinite(values)):
                bad = [
                    k for k, v in zip(model.loss_names, values, strict=True) if not math.isfinite(v)
                ]
                _diverged(experiment, model, data, hist, last_good, out, epoch, bad)
            totals += values
            batches += 1
        seconds = time.perf_counter() - start
        hist.loss.append(totals / max(batches, 1))
        hist.lr.append(lr)
        hist.seconds.append(seconds)
        hist.samples_per_second.append(n / seconds if seconds > 0 else float("nan"))
        splits = (
            (data.x_train[train_eval], data.y_train[train_eval]),
            (data.x_val, data.y_val),
            (data.x_test, data.y_test),
        )
        accs = [evaluate(model, x, y, cfg.eval_batch_size) for x, y in splits]
        hist.accuracy.append(np.array([[a[r] for r in model.readouts] for a in accs]))
        if cfg.record_every_epoch and cfg.record_samples:
            hist.activity.append(model.hidden_activity(data.x_test[: cfg.record_samples]))
        last_good = model.state_dict()
        if out is not None:
            save_result(_result(experiment, model, data, hist, "running"), out)
        bar.set_postfix(loss=f"{hist.loss[-1][-1]:.3f}", val=f"{accs[1][model.readouts[0]]:.3f}")
    ds = _result(experiment, model, data, hist, "complete")
    if out is not None:
        save_result(ds, out)
    return ds


def _diverged(
    experiment: Experiment,
    model: TrainableModel,
    data: Dataset,
    hist: _History,
    last_good: dict[str, np.ndarray],
    out: str | Path | None,
    epoch: int,
    bad: list[str],
) -> None:
    model.load_state_dict(last_good)
    where = ""
    if out is not None:
        save_result(_result(experiment, model, data, hist, "diverged"), out)
        where = f"; the last good state (epoch {epoch - 1}) is saved in {out}"
    raise DivergenceError(
        f"training diverged in epoch {epoch}: the loss of {', '.join(bad)} became NaN or inf"
        f"{where}. Lower the learning rate (model.lr), or use a normalised loss (SP-core: "
        'model.similarity = "cosine"; rate: model.rule = "hebbian-contrastive").'
    )
