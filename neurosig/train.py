"""Training loop for numpy models: epochs, evaluation, checkpoints, progress, divergence guard.

``train(experiment)`` returns an ``xarray.Dataset`` (the *Result*, assembled by
:func:`neurosig.results.training_result`, which documents its schema) with, per epoch, the
train, validation and test accuracy of every readout, each part's mean training loss, the
learning-rate schedule factor and the throughput; at the end, every learned parameter and the
hidden activity of a fixed test subset; as attributes, the resolved configuration (TOML), the
seed and the provenance.

Seeds: one root seed (``train.seed``) and the named streams of :mod:`neurosig.seeds`:
``"init"`` draws the initial network (:func:`neurosig.build.build_model`), ``"shuffle"`` the
order of the training samples in every epoch, ``"update"`` the draws during learning (dropout,
random positives, negatives) and ``"train_eval"`` the fixed subset of training samples scored
after every epoch. Each stream is reproducible on its own, and the same seed gives
bit-identical results.

Learning-rate schedule: every epoch the model's rates are scaled by
:func:`schedule_factor` (``model.set_schedule_factor``); the Result stores the factor.

When ``out`` is given the Result is rewritten atomically after every epoch: a killed run keeps
every finished epoch. A NaN or inf loss stops the run, restores the last good epoch's
parameters, writes them with ``status = "diverged"`` and raises :class:`DivergenceError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

from neurosig.build import build_model, load_experiment_data
from neurosig.config import Experiment, check
from neurosig.data import Dataset
from neurosig.errors import DivergenceError
from neurosig.protocols import FitsTrainingSet, RecordsSpikes, TrainableModel
from neurosig.results import TrainingHistory, save_result, training_result
from neurosig.seeds import stream

__all__ = ["evaluate", "schedule_factor", "train"]


def schedule_factor(schedule: str, epoch: int, epochs: int) -> float:
    """Learning-rate factor of ``epoch`` (1-based): 1 (constant), or cosine decay towards 0.

    Examples
    --------
    >>> schedule_factor("constant", 3, 10)
    1.0
    >>> [round(schedule_factor("cosine", e, 4), 3) for e in (1, 2, 3, 4)]
    [1.0, 0.854, 0.5, 0.146]
    """
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))
    return 1.0


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


def _result(
    experiment: Experiment,
    model: TrainableModel,
    data: Dataset,
    hist: TrainingHistory,
    status: str,
) -> xr.Dataset:
    """The Result of the run so far: the model now, on the first recorded test samples."""
    n_rec = min(experiment.train.record_samples, len(data.y_test))
    x = data.x_test[:n_rec]
    return training_result(
        experiment,
        data,
        model,
        hist,
        status=status,
        labels=data.y_test[:n_rec],
        activity=model.hidden_activity(x) if n_rec else (),
        recordings=model.recordings(x) if n_rec and isinstance(model, RecordsSpikes) else None,
    )


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
    shuffle_rng = stream(cfg.seed, "shuffle")
    update_rng = stream(cfg.seed, "update")
    hist = TrainingHistory()
    last_good = model.state_dict()
    n = len(data.y_train)
    train_eval = slice(None)
    if 0 < cfg.train_eval_samples < n:  # a fixed subset, drawn from its own stream
        subset = stream(cfg.seed, "train_eval").choice(n, cfg.train_eval_samples, replace=False)
        train_eval = np.sort(subset)

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
        if isinstance(model, RecordsSpikes):
            hist.initial_recordings = model.recordings(data.x_test[: cfg.record_samples])
    for epoch in bar:
        factor = schedule_factor(cfg.lr_schedule, epoch, cfg.epochs)
        model.set_schedule_factor(factor)
        order = shuffle_rng.permutation(n)
        totals = np.zeros(len(model.loss_names))
        batches = 0
        start = time.perf_counter()
        for losses in _updates(model, data, order, cfg.batch_size, update_rng):
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
        hist.lr_factor.append(factor)
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


def _updates(
    model: TrainableModel,
    data: Dataset,
    order: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
) -> Iterator[dict[str, float]]:
    """The epoch's updates, each yielding its losses: one per mini-batch in ``order``, or one
    fit on the whole training set for a model that fits it (:class:`FitsTrainingSet`)."""
    if isinstance(model, FitsTrainingSet):
        yield model.fit_training_set(data.x_train, data.y_train, rng)
        return
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        yield model.train_batch(data.x_train[idx], data.y_train[idx], rng)


def _diverged(
    experiment: Experiment,
    model: TrainableModel,
    data: Dataset,
    hist: TrainingHistory,
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
