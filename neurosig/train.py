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

When ``out`` is given it is checked before any work (a folder, a read-only place or an
existing file end the call at once with :class:`OutputError`; an existing file is replaced
only with ``overwrite=True``), and the Result is rewritten atomically after every epoch: a
killed run keeps every finished epoch (``status = "running"``). Ctrl-C or SIGTERM writes the
finished epochs with ``status = "interrupted"`` and raises :class:`Interrupted`. A NaN or inf
loss stops the run, restores the last good epoch's parameters, writes them with
``status = "diverged"`` and raises :class:`DivergenceError`, which names the cause it found
(data out of range, a NaN or inf field, or else the learning rate). A save that fails (a full
disk) leaves the previous save intact and raises :class:`OutputError`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

from neurosig import interrupts
from neurosig.atomic import check_writable
from neurosig.build import build_model, load_experiment_data
from neurosig.config import Experiment, check
from neurosig.data import Dataset
from neurosig.errors import DivergenceError, Interrupted, OutputError, os_error_message
from neurosig.protocols import FitsTrainingSet, RecordsSpikes, TrainableModel
from neurosig.results import TrainingHistory, load_result, save_result, training_result
from neurosig.seeds import stream

__all__ = ["check_output", "divergence_cause", "evaluate", "schedule_factor", "train"]

# |x| above this after standardisation (a z-score of 10^4) is a data problem, not a
# learning-rate one: standardised features of real data rarely exceed a few tens.
LARGE_FEATURE = 1e4


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


def train(
    experiment: Experiment,
    *,
    out: str | Path | None = None,
    progress: bool = True,
    data: Dataset | None = None,
    overwrite: bool = False,
) -> xr.Dataset:
    """Train ``experiment`` and return its Result (also written to ``out`` if given).

    Parameters
    ----------
    experiment : Experiment
        Model, data and training settings (see :func:`neurosig.config.load_experiment`).
    out : path, optional
        netCDF file rewritten atomically after every epoch; checked before any work
        (:func:`check_output`).
    progress : bool
        Show a progress bar (tqdm) with the loss and validation accuracy.
    data : Dataset, optional
        Already loaded data (skips ``load_dataset``; used by benchmarks and tests).
    overwrite : bool
        Replace a file already at ``out`` (at the first save). Without it an existing file is
        refused before any work: a good Result is never lost to a new run.

    Raises
    ------
    OutputError
        ``out`` cannot be written (checked first), or a save failed (the previous save is
        intact).
    DivergenceError
        A loss became NaN or inf; the last good epoch is saved with ``status = "diverged"``.
    Interrupted
        Ctrl-C or SIGTERM; the finished epochs are saved with ``status = "interrupted"``.
    """
    check(experiment.data, "data")
    check(experiment.train, "train")
    check(experiment.params, "model")
    if out is not None:
        out = check_output(out, overwrite)
    try:
        data = data or load_experiment_data(experiment)
        model = build_model(experiment, data)
    except KeyboardInterrupt:
        raise Interrupted("interrupted before training started; nothing was written") from None
    run = _Run(experiment, model, data, out)
    try:
        run.record_initial()
        run.epochs(progress)
    except KeyboardInterrupt:
        run.interrupted()
    return run.finish()


def check_output(out: str | Path, overwrite: bool = False) -> Path:
    """``out`` if a Result can be written there, else one :class:`OutputError` naming the fix.

    Refused: a folder; a place that cannot be written (read-only, a file where a folder should
    be); an existing file, unless ``overwrite``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir() and not overwrite:
        raise OutputError(
            f"{out} already exists; give another --out, or --overwrite to replace it "
            "(nothing was trained)"
        )
    try:
        return check_writable(out)
    except OSError as err:
        raise OutputError(
            f"cannot write the Result: {os_error_message(err)} (nothing was trained)"
        ) from None


@dataclasses.dataclass
class _Run:
    """One training run: the model, its history, and the last state that finished an epoch."""

    experiment: Experiment
    model: TrainableModel
    data: Dataset
    out: Path | None
    hist: TrainingHistory = dataclasses.field(default_factory=TrainingHistory)
    last_good: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.last_good = self.model.state_dict()

    def record_initial(self) -> None:
        """The network before training: the reference of geometry analyses."""
        cfg, hist, x = self.experiment.train, self.hist, self.data.x_test
        if cfg.record_samples:
            hist.initial_activity = self.model.hidden_activity(x[: cfg.record_samples])
        if cfg.record_every_epoch and cfg.record_samples:
            hist.activity.append(hist.initial_activity)
            if isinstance(self.model, RecordsSpikes):
                hist.initial_recordings = self.model.recordings(x[: cfg.record_samples])

    @property
    def done(self) -> int:
        """Epochs finished (the accuracy is appended last: it counts them)."""
        return len(self.hist.accuracy)

    def epochs(self, progress: bool) -> None:
        """Train every epoch, appending each to the history whole, and save after each."""
        cfg, model, data, hist = self.experiment.train, self.model, self.data, self.hist
        shuffle_rng = stream(cfg.seed, "shuffle")
        update_rng = stream(cfg.seed, "update")
        n = len(data.y_train)
        train_eval = slice(None)
        if 0 < cfg.train_eval_samples < n:  # a fixed subset, drawn from its own stream
            subset = stream(cfg.seed, "train_eval").choice(n, cfg.train_eval_samples, replace=False)
            train_eval = np.sort(subset)
        bar = tqdm(
            range(1, cfg.epochs + 1),
            desc=self.experiment.name,
            unit="epoch",
            disable=None if progress else True,  # None: a bar on terminals only, clean logs
            leave=False,
        )
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
                    names = zip(model.loss_names, values, strict=True)
                    self.diverged(epoch, [k for k, v in names if not math.isfinite(v)])
                totals += values
                batches += 1
                interrupts.raise_if_requested()
            seconds = time.perf_counter() - start
            splits = (
                (data.x_train[train_eval], data.y_train[train_eval]),
                (data.x_val, data.y_val),
                (data.x_test, data.y_test),
            )
            accs = [evaluate(model, x, y, cfg.eval_batch_size) for x, y in splits]
            activity = None
            if cfg.record_every_epoch and cfg.record_samples:
                activity = model.hidden_activity(data.x_test[: cfg.record_samples])
            self.last_good = model.state_dict()
            # The epoch enters the history only now, whole; an interrupt before the accuracy
            # is appended is cut back to the previous epoch by interrupted().
            hist.loss.append(totals / max(batches, 1))
            hist.lr_factor.append(factor)
            hist.seconds.append(seconds)
            hist.samples_per_second.append(n / seconds if seconds > 0 else float("nan"))
            if activity is not None:
                hist.activity.append(activity)
            hist.accuracy.append(np.array([[a[r] for r in model.readouts] for a in accs]))
            self.save("running")
            bar.set_postfix(
                loss=f"{hist.loss[-1][-1]:.3f}", val=f"{accs[1][model.readouts[0]]:.3f}"
            )
        bar.close()

    def result(self, status: str) -> xr.Dataset:
        """The Result of the run so far: the model now, on the first recorded test samples."""
        data, model = self.data, self.model
        n_rec = min(self.experiment.train.record_samples, len(data.y_test))
        x = data.x_test[:n_rec]
        return training_result(
            self.experiment,
            data,
            model,
            self.hist,
            status=status,
            labels=data.y_test[:n_rec],
            activity=model.hidden_activity(x) if n_rec else (),
            recordings=model.recordings(x) if n_rec and isinstance(model, RecordsSpikes) else None,
        )

    def save(self, status: str) -> xr.Dataset:
        """The Result with ``status``, written to ``out`` (if any). A failed write (a full
        disk) becomes an :class:`OutputError` that says what the previous save holds."""
        ds = self.result(status)
        if self.out is None:
            return ds
        try:
            save_result(ds, self.out)
        except OSError as err:
            kept = "nothing was saved"
            if self.out.exists():
                kept = f"the previous save in {self.out} is intact"
            raise OutputError(f"cannot write the Result: {os_error_message(err)}; {kept}") from None
        return ds

    def relabel(self, status: str) -> None:
        """Give the last save a new status. It holds the last finished epoch, which is where
        :meth:`rewind` put the model: no need to run the model again (a spiking model's
        recordings take a while, and the user who pressed Ctrl-C is waiting)."""
        if self.done == 0 or self.out is None or not self.out.exists():
            self.save(status)
            return
        ds = load_result(self.out)
        if ds.sizes.get("epoch", 0) != self.done:  # the interrupt hit the epoch's own save
            self.save(status)
            return
        ds.attrs["status"] = status
        try:
            save_result(ds, self.out)
        except OSError as err:
            raise OutputError(
                f"cannot mark the Result {status}: {os_error_message(err)}; it is intact, with "
                f"status running and epochs 1-{self.done}"
            ) from None

    def finish(self) -> xr.Dataset:
        return self.save("complete")

    def rewind(self) -> None:
        """Back to the last finished epoch: its parameters, and a history of that length."""
        self.model.load_state_dict(self.last_good)
        done, hist, cfg = self.done, self.hist, self.experiment.train
        for name in ("loss", "lr_factor", "seconds", "samples_per_second"):
            del getattr(hist, name)[done:]
        del hist.activity[done + int(cfg.record_every_epoch and cfg.record_samples > 0) :]

    def interrupted(self) -> None:
        """Ctrl-C or SIGTERM: save the finished epochs as ``status = "interrupted"`` and raise
        :class:`Interrupted` saying where they are."""
        self.rewind()
        where = self.out
        if where is None or self.done == 0:
            kept = f"; {where} was not touched" if where is not None and where.exists() else ""
            raise Interrupted(f"interrupted in epoch {self.done + 1}; no epoch finished{kept}")
        self.relabel("interrupted")
        raise Interrupted(
            f"interrupted in epoch {self.done + 1}; epochs 1-{self.done} saved in {where}"
        )

    def diverged(self, epoch: int, bad: list[str]) -> None:
        """Keep the last good epoch (``status = "diverged"``) and raise a
        :class:`DivergenceError` naming the cause it found."""
        self.rewind()
        where = ""
        if self.out is not None:
            self.relabel("diverged")
            where = f"; the last good state (epoch {self.done}) is saved in {self.out}"
        raise DivergenceError(
            f"training diverged in epoch {epoch}: the loss of {', '.join(bad)} became NaN or "
            f"inf{where}. {divergence_cause(self.experiment, self.data)}"
        )


def divergence_cause(experiment: Experiment, data: Dataset) -> str:
    """What a diverged run checked, in order: the data, the configuration, the learning rate.

    Examples
    --------
    >>> from neurosig.config import command_experiment
    >>> from neurosig.data import load_dataset
    >>> exp = command_experiment("sp-core")
    >>> divergence_cause(exp, load_dataset("digits", n_train=50))[:44]
    'Checked: the training data are finite (|x| <'
    """
    x = data.x_train
    largest = float(np.max(np.abs(x))) if x.size else 0.0
    if not np.all(np.isfinite(x)):
        return (
            "Cause: the training data hold NaN or inf values; remove or impute them first "
            "(the learning rate is not the cause)"
        )
    if largest > LARGE_FEATURE:
        return (
            f"Cause: the training data reach |x| = {largest:.3g} after standardisation; "
            "rescale or clip the outlying features (the learning rate is not the cause)"
        )
    for section, cfg in (("model", experiment.params), ("train", experiment.train)):
        for f in dataclasses.fields(cfg):
            value = getattr(cfg, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                return f"Cause: {section}.{f.name} = {value}; give it a finite value"
    lr = getattr(experiment.params, "lr", None)
    now = f" (now {lr:g})" if isinstance(lr, float) else ""
    return (
        f"Checked: the training data are finite (|x| <= {largest:.3g}) and no model or train "
        f"field is NaN or inf, so the likely cause is the learning rate: lower model.lr{now}, "
        'or use a normalised loss (SP-core: model.similarity = "cosine"; rate: '
        'model.rule = "hebbian-contrastive")'
    )


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
