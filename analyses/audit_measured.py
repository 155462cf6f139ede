"""Audit of a numpy model by measurement: what each block's update actually depends on.

A numpy model (``sp-core``, ``bp``, ``fa``, ``dfa``, ``ff``, ``random-features``) computes its
updates in Python, where no equation can be inspected. This module finds what each update
reads by perturbing one part of a copy of the model at a time and watching which blocks'
updates change (a causal, black-box measurement; the model's declarations,
``update_reads()``, are only checked against it).

For every trained block ``i`` (the update: its gradient for one batch and the change of its
parameters over one training step, optimiser included) and every other block ``j``:

* **activity** of ``j``: ``j``'s output and the values its forward pass keeps are spoiled,
  its weights are not;
* **weights** of ``j``: its parameters are spoiled while its forward pass keeps computing from
  the clean ones, so the activity is unchanged and only a direct read of the weights shows;
* **optimiser** of ``j``: its optimiser state (Adam moments) is spoiled;
* **state** of a later block ``j > i``: its parameters and optimiser state are spoiled in
  place and the update is followed over two training steps, so that a block that keeps
  something of a later block from one step and reads it at the next is caught too (an
  earlier block's state legitimately reaches ``i`` at the second step, as its input);
* **fixed arrays** (feedback matrices) are spoiled one at a time.

Each part is spoiled twice: with NaN (any read propagates it) and with large finite noise
(a read hidden behind ``np.nan_to_num`` or a comparison still changes the result). The update
of block ``i`` *reads* the part if it is not bit-identical to the unperturbed update (the
computation is otherwise deterministic: same copy, same batch, same random stream).

Verdicts: block ``i`` is **forward-only** if it reads nothing of a later block ``j > i``
(forward order of :meth:`~neurosig.protocols.MeasurableUpdates.block_names`); it is **local**
if it reads no other block's weights (*weight transport*) and no other block's optimiser
state (*non-local*). Earlier blocks' activity is its input, and fixed arrays are listed
without failing (a fixed feedback matrix is a pathway, not another layer's weights).

The **label path** is measured at the model's one declared entry point
(:meth:`~neurosig.protocols.MeasurableUpdates.label_entry`): with the entry pinned to what
the true labels give, the rest of the model is handed other labels; a block whose update
changes reads the label *directly* (e.g. as a loss target), a block that changes only when
the entry is not pinned receives it *through the forward stream*. A direct read by a block
that also reads later blocks is attributed to their error (*feedback*). Direct delivery is
reported, never failed.

Example
-------
>>> import numpy as np
>>> from neurosig.models.reference import SPCore, SPCoreConfig
>>> model = SPCore(SPCoreConfig(hidden=(8, 8)), 4, 3, np.random.default_rng(0))
>>> report = measured_report(model)
>>> report.ok
True
>>> measure_update_reads(model).label_direct_layers  # loss = "per_class"
('signal', 'layer1', 'layer2')
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosig.analyses.audit import AuditReport, AuditRow
from neurosig.protocols import DeclaresUpdateReads, MeasurableUpdates

__all__ = [
    "BlockReads",
    "MeasuredReads",
    "declaration_disagreements",
    "measure_update_reads",
    "measured_report",
    "measured_rows",
]

FORWARD = "forward-only"
LOCALITY = "locality"
TEMPORAL = "temporal"
LABEL_PATH = "label path"
DECLARATION = "declaration"

ASPECTS = ("activity", "weights", "optimiser", "state")
POISONS = ("nan", "noise")
NOISE_SCALE = 1e3  # finite noise: far larger than any weight or activity of a trained model
STATE_STEPS = 2  # a second step shows what a block carried over from the first

Updates = dict[str, np.ndarray]


@dataclass(frozen=True)
class BlockReads:
    """What the update of one trained block was measured to read.

    Attributes
    ----------
    block : str
        The block, e.g. ``"layer1"``.
    reads : tuple of (str, str)
        ``(part, aspect)`` of every other block part it reads: aspect ``"activity"``,
        ``"weights"``, ``"optimiser"`` or ``"state"`` (of a later block) of a block, or
        ``"fixed"`` for a fixed array.
    later : tuple of str
        Later blocks it reads anything of (forward-only violations).
    label : str
        ``"none"``, ``"stream"``, ``"direct"`` or ``"feedback"`` (see the module notes).
    """

    block: str
    reads: tuple[tuple[str, str], ...]
    later: tuple[str, ...]
    label: str

    def parts(self, aspect: str) -> tuple[str, ...]:
        """The parts it reads in ``aspect`` (``"weights"``, ``"activity"`` ...)."""
        return tuple(part for part, kind in self.reads if kind == aspect)

    @property
    def weights_of(self) -> tuple[str, ...]:
        """Other blocks whose weights it reads: weight transport."""
        return self.parts("weights")

    @property
    def optimiser_of(self) -> tuple[str, ...]:
        """Other blocks whose optimiser state it reads: non-local."""
        return self.parts("optimiser")


@dataclass(frozen=True)
class MeasuredReads:
    """The measured reads of every trained block, in forward order.

    Attributes
    ----------
    blocks : tuple of BlockReads
    order : tuple of str
        Every block of the model in forward order (trained or not).
    label_enters_stream : bool
        Whether the model's label entry was used by the update (the label enters the forward
        stream); False when only losses read it.
    """

    blocks: tuple[BlockReads, ...]
    order: tuple[str, ...]
    label_enters_stream: bool

    def __getitem__(self, block: str) -> BlockReads:
        return next(entry for entry in self.blocks if entry.block == block)

    @property
    def label_direct_layers(self) -> tuple[str, ...]:
        """Blocks below the last one (the output or readout, where a supervised loss is
        expected) that read the label directly rather than through the forward stream."""
        return tuple(
            b.block for b in self.blocks if b.label == "direct" and b.block != self.order[-1]
        )


# ----------------------------------------------------------------------------------------
# Perturbations of a copy of the model
# ----------------------------------------------------------------------------------------


def _spoiled(array: np.ndarray, poison: str, rng: np.random.Generator) -> np.ndarray:
    """A spoiled copy of ``array``: NaN, or the array plus large finite noise."""
    if poison == "nan":
        return np.full_like(array, np.nan)
    noise = NOISE_SCALE * (1 + np.abs(array)) * rng.standard_normal(array.shape)
    return (array + noise).astype(array.dtype)


def _spoil_in_place(arrays: dict[str, np.ndarray], poison: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for array in arrays.values():
        array[...] = np.abs(_spoiled(array, poison, rng))  # |.|: moments v stay non-negative


def _spoil_weights(model: MeasurableUpdates, name: str, poison: str, seed: int) -> None:
    """Spoil block ``name``'s parameters in place; its forward pass keeps the clean ones."""
    unit = model.block(name)
    clean = copy.deepcopy(unit)
    unit.forward = clean.forward  # the activity stays what the clean weights give
    rng = np.random.default_rng(seed)
    for array in unit.params.values():
        array[...] = _spoiled(array, poison, rng)


def _spoil_activity(model: MeasurableUpdates, name: str, poison: str, seed: int) -> None:
    """Spoil what block ``name``'s forward pass returns: its output and what it keeps."""
    unit = model.block(name)
    forward = unit.forward
    rng = np.random.default_rng(seed)

    def spoiled_forward(*args: Any, **kwargs: Any) -> tuple[np.ndarray, Any]:
        out, cache = forward(*args, **kwargs)
        kept = {
            field.name: _spoiled(value, poison, rng)
            for field in dataclasses.fields(cache)
            if field.name != "x" and isinstance(value := getattr(cache, field.name), np.ndarray)
        }
        return _spoiled(out, poison, rng), dataclasses.replace(cache, **kept)

    unit.forward = spoiled_forward


def _spoil(model: MeasurableUpdates, part: str, aspect: str, poison: str, seed: int) -> None:
    if aspect == "weights":
        _spoil_weights(model, part, poison, seed)
    elif aspect == "activity":
        _spoil_activity(model, part, poison, seed)
    elif aspect == "optimiser":
        _spoil_in_place(model.optimiser_state(part), poison, seed)
    elif aspect == "state":
        _spoil_in_place(model.optimiser_state(part), poison, seed)
        rng = np.random.default_rng(seed)
        for array in model.block(part).params.values():
            array[...] = _spoiled(array, poison, rng)
    else:  # a fixed array
        _spoil_in_place({part: model.fixed_arrays()[part]}, poison, seed)


def _pin_label_entry(model: MeasurableUpdates, y_true: np.ndarray, y_other: np.ndarray) -> None:
    """The entry gives what the true labels give when it is handed ``y_other``."""
    entry = model.label_entry

    def pinned(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        same = np.shape(labels) == y_other.shape and np.array_equal(labels, y_other)
        return entry(y_true if same else labels, rng)

    model.label_entry = pinned


# ----------------------------------------------------------------------------------------
# Running one update
# ----------------------------------------------------------------------------------------


def _flat(arrays: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(arrays[key]).astype(np.float64) for key in sorted(arrays)])


def _updates(
    model: MeasurableUpdates,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    change: Callable[[MeasurableUpdates], None] | None = None,
    steps: int = 1,
) -> Updates:
    """Every trained block's update on a changed copy: its gradient for the batch, then its
    parameters' change over ``steps`` training steps on it (optimiser included)."""
    grad_copy, train_copy = copy.deepcopy(model), copy.deepcopy(model)
    if change is not None:
        change(grad_copy)
        change(train_copy)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, grads = grad_copy.gradients(x, y, np.random.default_rng(seed))
        before = {name: _flat(train_copy.block(name).params) for name in grads}
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            train_copy.train_batch(x, y, rng)
    return {
        name: np.concatenate(
            [_flat(grads[name]), _flat(train_copy.block(name).params) - before[name]]
        )
        for name in grads
    }


def _changed(base: Updates, other: Updates) -> set[str]:
    """The blocks whose update is not bit-identical to the unperturbed one."""
    return {
        name
        for name, update in base.items()
        if name not in other
        or other[name].shape != update.shape
        or not np.array_equal(other[name], update)
    }


def _probe_batch(model: MeasurableUpdates, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four samples of every class (so that every class has positives), standard normal."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.tile(np.arange(model.n_classes), 4))
    return rng.standard_normal((len(y), model.n_features)), y


def _other_labels(y: np.ndarray, n_classes: int, seed: int) -> list[np.ndarray]:
    """Label vectors that differ from ``y`` in every sample: shifted by one, and random."""
    shift = np.random.default_rng(seed).integers(1, n_classes, size=len(y))
    return [(y + 1) % n_classes, (y + shift) % n_classes]


# ----------------------------------------------------------------------------------------
# The measurement
# ----------------------------------------------------------------------------------------


def measure_update_reads(
    model: MeasurableUpdates,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    seed: int = 0,
) -> MeasuredReads:
    """Measure what every trained block's update reads (see the module notes).

    Parameters
    ----------
    model : MeasurableUpdates
        The model; it is never changed (every measurement runs on a deep copy).
    x, y : arrays, optional
        The batch. By default four standard-normal samples of every class.
    seed : int
        Seeds the random stream of every update (the same in every run) and the noise.

    Returns
    -------
    MeasuredReads
        One :class:`BlockReads` per trained block.

    Examples
    --------
    >>> from neurosig.models.baselines import Backprop, MLPConfig
    >>> bp = Backprop(MLPConfig(hidden=(8,)), 4, 3, np.random.default_rng(0))
    >>> reads = measure_update_reads(bp)
    >>> reads["layer1"].later, reads["layer1"].weights_of, reads["layer1"].label
    (('output',), ('output',), 'feedback')
    """
    if not isinstance(model, MeasurableUpdates):
        raise TypeError(f"cannot measure a {type(model).__name__}: not a MeasurableUpdates")
    if x is None or y is None:
        x, y = _probe_batch(model, seed)
    y = np.asarray(y)
    order = model.block_names()
    base = {steps: _updates(model, x, y, seed, steps=steps) for steps in (1, STATE_STEPS)}
    parts = [(name, aspect) for name in order for aspect in ASPECTS]
    parts += [(name, "fixed") for name in model.fixed_arrays()]
    reads: dict[str, list[tuple[str, str]]] = {name: [] for name in base[1]}
    for k, (part, aspect) in enumerate(parts):
        steps = STATE_STEPS if aspect == "state" else 1
        readers: set[str] = set()
        for poison in POISONS:

            def change(m: MeasurableUpdates, p=part, a=aspect, q=poison, s=seed + k) -> None:
                _spoil(m, p, a, q, s)

            readers |= _changed(base[steps], _updates(model, x, y, seed, change, steps))
            if aspect == "state":
                readers -= _carried_on(
                    order, part, _changed(base[1], _updates(model, x, y, seed, change))
                )
        for name in readers - {part}:
            reads[name].append((part, aspect))
    entered, direct, reached = _label_reads(model, x, y, seed, base[1])
    blocks = []
    for name in (n for n in order if n in base[1]):
        later = tuple(
            p for p in order[order.index(name) + 1 :] if any(r[0] == p for r in reads[name])
        )
        label = "none"
        if name in direct:
            label = "feedback" if later else "direct"
        elif name in reached:
            label = "stream"
        blocks.append(BlockReads(name, tuple(reads[name]), later, label))
    return MeasuredReads(tuple(blocks), order, entered)


def _carried_on(order: tuple[str, ...], part: str, first_step: set[str]) -> set[str]:
    """Blocks whose change at the second step under a spoiled later ``part`` need not be
    their own read: ``part`` itself and every block at or after it (an earlier block's state
    is their input), and every block after one that already changed at the first step (its
    changed weights are their input at the second)."""
    rank = {name: k for k, name in enumerate(order)}
    first = min((rank[name] for name in first_step), default=len(order))
    return {name for name in order if rank[name] >= rank[part] or rank[name] > first}


def _label_reads(
    model: MeasurableUpdates, x: np.ndarray, y: np.ndarray, seed: int, base: Updates
) -> tuple[bool, set[str], set[str]]:
    """(whether the label entry is used, blocks reading the label directly, blocks whose
    update depends on the label at all)."""
    calls: list[int] = []

    def count(m: MeasurableUpdates) -> None:
        entry = m.label_entry

        def counted(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
            out = entry(labels, rng)
            calls.append(out is not None)
            return out

        m.label_entry = counted

    _updates(model, x, y, seed, count)
    direct: set[str] = set()
    reached: set[str] = set()
    for other in _other_labels(y, model.n_classes, seed):

        def pin(m: MeasurableUpdates, labels=other) -> None:
            _pin_label_entry(m, y, labels)

        direct |= _changed(base, _updates(model, x, other, seed, pin))
        reached |= _changed(base, _updates(model, x, other, seed))
    return any(calls), direct, reached | direct


# ----------------------------------------------------------------------------------------
# Rows and report
# ----------------------------------------------------------------------------------------


def _describe(entry: BlockReads) -> str:
    """``"layer2: activity, weights; output: activity"``: what it reads, by part."""
    by_part: dict[str, list[str]] = {}
    for part, aspect in entry.reads:
        by_part.setdefault(part, []).append(aspect)
    return "; ".join(f"{part}: {', '.join(aspects)}" for part, aspects in by_part.items())


def _block_rows(entry: BlockReads, params: str) -> list[AuditRow]:
    where = f"update of {params} (measured)"
    if entry.later:
        later = "; ".join(
            f"{part}: {', '.join(a for p, a in entry.reads if p == part)}" for part in entry.later
        )
        forward = AuditRow(
            FORWARD,
            entry.block,
            False,
            f"feedback pathway: reads later blocks: {later}",
            where,
            ("feedback pathway",),
        )
    else:
        forward = AuditRow(FORWARD, entry.block, True, "reads nothing of a later block", where)
    problems = ("weight transport",) * bool(entry.weights_of) + ("non-local",) * bool(
        entry.optimiser_of
    )
    parts = []
    if entry.weights_of:
        parts.append(f"weight transport: weights of {', '.join(entry.weights_of)}")
    if entry.optimiser_of:
        parts.append(f"non-local: optimiser state of {', '.join(entry.optimiser_of)}")
    earlier = [p for p in entry.parts("activity") if p not in entry.later]
    if earlier:
        parts.append(f"pre: activity of {', '.join(earlier)}")
    if entry.parts("fixed"):
        parts.append(f"fixed: {', '.join(entry.parts('fixed'))}")
    detail = "; ".join(parts) or "its own parameters and the data only"
    return [forward, AuditRow(LOCALITY, entry.block, not problems, detail, where, problems)]


def _label_row(reads: MeasuredReads) -> AuditRow:
    routes = {
        route: [b.block for b in reads.blocks if b.label == route]
        for route in ("direct", "stream", "feedback")
    }
    parts = [
        "enters the forward stream at the label entry"
        if reads.label_enters_stream
        else "does not enter the forward stream (only losses read it)"
    ]
    names = {
        "direct": "read directly by",
        "stream": "through the forward stream to",
        "feedback": "through later blocks' error to",
    }
    parts += [f"{names[route]}: {', '.join(blocks)}" for route, blocks in routes.items() if blocks]
    if reads.label_direct_layers:
        parts.append(f"direct label delivery to {', '.join(reads.label_direct_layers)}")
    return AuditRow(LABEL_PATH, "network", True, "; ".join(parts), "measured")


def declaration_disagreements(model: DeclaresUpdateReads, reads: MeasuredReads) -> list[str]:
    """Where the model's ``update_reads()`` declaration contradicts the measurement.

    Compared per block: the later blocks read (``later``), the blocks whose weights are read
    (``weights_of``), the label route (``label``), and that no optimiser state of another
    block is read; and that the declared blocks are the trained ones.

    Returns
    -------
    list of str
        One sentence per disagreement; empty when they agree.
    """
    declared = {entry.block: entry for entry in model.update_reads()}
    measured = {entry.block: entry for entry in reads.blocks}
    out = []
    if set(declared) != set(measured):
        out.append(f"declared blocks {sorted(declared)}, trained blocks {sorted(measured)}")
    for name in sorted(set(declared) & set(measured)):
        said, found = declared[name], measured[name]
        for field in ("later", "weights_of", "label"):
            want, got = getattr(said, field), getattr(found, field)
            if (set(want) if field != "label" else want) != (set(got) if field != "label" else got):
                out.append(f"{name}: declared {field} {want!r}, measured {got!r}")
        if found.optimiser_of:
            out.append(f"{name}: reads optimiser state of {', '.join(found.optimiser_of)}")
    return out


def measured_rows(model: MeasurableUpdates, reads: MeasuredReads) -> list[AuditRow]:
    """Forward-only rows, then locality rows (one per trained block), the label path row and,
    for a model that declares its reads, the declaration row."""
    rows = [
        _block_rows(entry, ", ".join(model.block(entry.block).params)) for entry in reads.blocks
    ]
    rows_out = [pair[0] for pair in rows] + [pair[1] for pair in rows] + [_label_row(reads)]
    if isinstance(model, DeclaresUpdateReads):
        wrong = declaration_disagreements(model, reads)
        detail = "; ".join(wrong) or "update_reads() agrees with the measurement"
        problems = ("declaration",) if wrong else ()
        rows_out.append(
            AuditRow(DECLARATION, "network", not wrong, detail, "update_reads()", problems)
        )
    return rows_out


def measured_report(
    model: MeasurableUpdates,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    seed: int = 0,
) -> AuditReport:
    """The audit of a numpy model, measured (:func:`measure_update_reads`).

    Returns
    -------
    AuditReport
        Forward-only and locality rows per trained block, the label path row, the
        declaration row (when the model declares its reads) and a temporal row: ``phases``
        is the model's declared ``presentation_phases`` (1 if it declares none) and
        ``longest_interval`` is ``nan`` (discrete time); ``label_direct_layers`` are the
        hidden layers (index >= 1) that read the label directly.
    """
    reads = measure_update_reads(model, x, y, seed)
    rows = measured_rows(model, reads)
    phases, reason = 1, "one forward pass"
    if isinstance(model, DeclaresUpdateReads):
        phases, reason = int(model.presentation_phases), model.phases_reason
    detail = (
        f"phases: {phases} (declared: {reason}); longest interval between combined factors: "
        "not applicable (discrete time)"
    )
    rows.append(AuditRow(TEMPORAL, "network", True, detail))
    layers = tuple(model.block_layer(name) for name in reads.label_direct_layers)
    direct = tuple(layer for layer in layers if layer >= 1)
    return AuditReport(tuple(rows), phases, float("nan"), label_direct_layers=direct)
