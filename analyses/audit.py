"""Structural audit of a learning rule: forward-only, local, and how far apart in time.

Signal propagation claims two things about a network that a Brian2 script can silently break
(criteria 11 and 12 of the plausibility card):

* **forward-only**: information flows from earlier layers to later ones only. Every ``Synapses``
  object must go from a layer to the same or a later layer, and a ``NeuronGroup`` may not read
  a later layer's state through a linked variable.
* **locality**: every plasticity update uses only what is available at the synapse (its own
  variables, the pre- and postsynaptic neurons' variables), shared scalars (learning rates,
  per-layer summaries) and global inputs (constants, ``TimedArray`` stimuli). Reading another
  object's weights is *weight transport*, the biologically implausible ingredient of
  backpropagation that signal propagation avoids.

The audit only inspects structure: names, equations and code strings of the objects, and the
owners of their variables. It never runs the network and never reads a state variable's value
(except, under the runtime device, to recognise an external array as another object's
weights; the temporal audit reads the clocks' time steps), so it works for networks built under
``cpp_standalone`` with ``build_on_run=False``.

Layers are given by the caller as a mapping from group name to layer index: input and label
groups are layer 0, hidden layers 1..L, the readout L+1, and size-1 "summary" groups carry the
index of the layer they summarise.

Temporal locality (criterion 13) is derived from the same structure: how many presentation
phases a learning cycle needs and the longest interval between the factors one weight update
combines (definitions in :func:`audit_brian_network`).

:func:`audit_model` audits any neurosig model: a Brian2 family (``rate``, ``lif``) from its
network, built and never run; a numpy model (``sp-core``, ``bp``, ``fa``, ``dfa``, ``ff``,
``random-features``) from its declaration of what each update reads (``update_reads()``, next
to the model's code). ``neurosig audit MODEL_OR_TOML`` prints the table.

Example
-------
>>> report = audit_brian_network(net, {"inp": 0, "hid": 1, "out": 2})  # doctest: +SKIP
>>> print(report.table())  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from brian2 import Network, NeuronGroup, PoissonGroup, SpikeGeneratorGroup, Synapses
from brian2.core.functions import Function
from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS, DEFAULT_UNITS
from brian2.core.variables import Subexpression, Variable, VariableView
from brian2.groups.group import CodeRunner
from brian2.groups.neurongroup import Resetter, StateUpdater, Thresholder
from brian2.groups.subgroup import Subgroup
from brian2.input.timedarray import TimedArray
from brian2.parsing.statements import parse_statement
from brian2.synapses.synapses import SummedVariableUpdater, SynapticPathway
from brian2.utils.stringtools import get_identifiers

from neurosig.protocols import BrianNetworkModel, DeclaresUpdateReads

__all__ = ["AuditReport", "AuditRow", "audit_brian_network", "audit_model"]

FORWARD = "forward-only"
LOCALITY = "locality"
TEMPORAL = "temporal"

# Groups of neurons that can be the end of a synapse and therefore need a layer.
_NEURON_LIKE = (NeuronGroup, PoissonGroup, SpikeGeneratorGroup)

# Variables Brian2 defines for every group or synapse; reading them is always local.
_BUILTIN_NAMES = frozenset(
    {"t", "dt", "t_in_timesteps", "i", "j", "N", "N_incoming", "N_outgoing", "lastupdate"}
)

# Categories an identifier can fall into. The allowed ones first, in the order the detail
# column lists them, then the ones that make a locality row fail.
_ALLOWED = (
    "synaptic",
    "pre",
    "post",
    "neuron",
    "shared",
    "global input",
    "functions",
    "constants",
    "builtins",
)
_FORBIDDEN = ("weight transport", "non-local", "unresolved")


@dataclass(frozen=True)
class AuditRow:
    """One verdict of the audit.

    Attributes
    ----------
    check : str
        ``"forward-only"``, ``"locality"`` or ``"temporal"`` (temporal rows inform and never
        fail).
    obj : str
        Name of the object the verdict is about (a ``Synapses`` or ``NeuronGroup``; for a
        ``run_regularly`` block, the object that owns it; for a numpy model, the parameter
        block, e.g. ``"layer1"``; ``"network"`` for a summary row).
    ok : bool
        Whether the check passed.
    detail : str
        Human-readable reason, e.g. ``"hid (layer 1) -> out (layer 2): forward"`` or
        ``"synaptic: w; pre: h; post: h; shared: eta"``.
    block : str, optional
        For locality and temporal rows, which code block of ``obj`` was inspected
        (``"equations"``, ``"on_pre"``, ``"run_regularly 'syn_run_regularly'"``, ...).
    problems : tuple of str, optional
        The categories that made the row fail (``"weight transport"``, ``"non-local"``,
        ``"unresolved"``, ``"feedback"``, ``"feedback pathway"``); empty for a passing row.
    """

    check: str
    obj: str
    ok: bool
    detail: str
    block: str = ""
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditReport:
    """All rows of an audit, with summary verdicts.

    Attributes
    ----------
    rows : tuple of AuditRow
        Forward-only rows first (groups, then synapses), then locality rows, then temporal
        rows (one per weight update and a ``"network"`` summary).
    phases : int
        Presentation phases one learning cycle needs: 1 when data and target are present at
        the same time (two compartments, or one pass), 2 when they are shown one after the
        other (see :func:`audit_brian_network` for how it is derived).
    longest_interval : float
        Longest interval, in seconds, between the factors that one weight update combines
        (see :func:`audit_brian_network`); ``nan`` for discrete-time (numpy) models, where
        it does not apply.
    """

    rows: tuple[AuditRow, ...]
    phases: int = 1
    longest_interval: float = float("nan")

    @property
    def forward_only(self) -> bool:
        """True if every forward-only row passed."""
        return all(row.ok for row in self.rows if row.check == FORWARD)

    @property
    def local(self) -> bool:
        """True if every locality row passed."""
        return all(row.ok for row in self.rows if row.check == LOCALITY)

    @property
    def weight_transport_free(self) -> bool:
        """True if no update reads another object's (another layer's) weights."""
        return not any("weight transport" in row.problems for row in self.rows)

    @property
    def ok(self) -> bool:
        """True if the network is both forward-only and local."""
        return self.forward_only and self.local

    def failures(self) -> list[AuditRow]:
        """The rows that failed, in report order."""
        return [row for row in self.rows if not row.ok]

    def table(self) -> str:
        """Plain-text table with aligned columns, for printing in a terminal."""
        header = ("check", "object", "block", "ok", "detail")
        lines = [header] + [
            (row.check, row.obj, row.block, "ok" if row.ok else "FAIL", row.detail)
            for row in self.rows
        ]
        # The last column is not padded, so long details do not leave trailing spaces.
        widths = [max(len(line[col]) for line in lines) for col in range(len(header) - 1)]
        rendered = []
        for line in lines:
            cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
            rendered.append("  ".join([*cells, line[-1]]).rstrip())
        rule = "  ".join("-" * width for width in widths) + "  " + "-" * len("detail")
        rendered.insert(1, rule)
        return "\n".join(rendered)

    def __str__(self) -> str:
        return self.table()


def audit_brian_network(
    objects: Network | Iterable[object],
    layer_of: Mapping[str, float],
    *,
    run_namespace: Mapping[str, object] | None = None,
    presentation: float | None = None,
) -> AuditReport:
    """Check that a Brian2 network is forward-only and that its plasticity is local.

    Parameters
    ----------
    objects : brian2.Network or iterable of Brian2 objects
        The network, or its objects (e.g. ``list(net.objects)`` or ``brian2.collect()``).
        Objects other than neuron groups, ``Synapses`` and code runners (monitors, clocks)
        are ignored. Code runners such as ``run_regularly`` blocks are audited as part of
        the group that owns them.
    layer_of : mapping of str to float
        Layer index of each neuron group, by name. Input and label groups are layer 0,
        hidden layers 1..L, the readout L+1; a size-1 summary group has the index of the
        layer it summarises. Subgroups may be listed by their own name or inherit their
        parent's layer.
    run_namespace : mapping, optional
        Stand-in for the namespace that ``Network.run`` would use to resolve external names
        (constants, ``TimedArray`` inputs). Names resolved neither by an object's own
        ``namespace`` nor by this mapping make a locality row fail as "unresolved": the
        audit does not guess what a script's local variables will hold at run time.
    presentation : float, optional
        How long one stimulus (one phase) is shown, in seconds. By default it is derived
        from the network (see Notes).

    Returns
    -------
    AuditReport
        One forward-only row per neuron group and per ``Synapses``; one locality row per
        ``Synapses`` code block that writes a synaptic variable (a plasticity update) and
        per neuron-group code block (equations, reset, ``run_regularly``); one temporal row
        per weight update and a summary row, with ``phases`` and ``longest_interval``.

    Notes
    -----
    Temporal locality is derived from the clocks and code of the built network; nothing is
    declared by the model.

    * *Weight update*: a code block of a ``Synapses`` object that writes one of its own
      variables. Its *period* ``P`` is its clock's time step (a ``run_regularly`` block), or
      the simulation step for differential equations and ``on_pre``/``on_post`` pathways.
    * *Onset period* ``T_on`` (the presentation, unless ``presentation`` is given): the
      shortest clock period longer than the simulation step among all code blocks (stimulus
      switches, onset resets, phase latches); failing that, the shortest such ``dt`` of a
      ``TimedArray`` the network reads.
    * ``phases = round(P_min / T_on)`` (at least 1), with ``P_min`` the shortest weight-update
      period: the number of presentations in the fastest learning cycle. Two compartments
      learning once per presentation give 1, a data phase then a target phase 2.
    * The *interval* of a weight update is the longest time between two moments whose
      activity enters the factors it multiplies. A periodic update combines what its factors
      accumulated since its previous run: ``P`` (one presentation; both phases; or the
      ``n`` samples over which a factor is summed). A continuous or event-driven update
      combines live factors: one simulation step. A *class memory* it reads (directly or
      through the code that computes what it reads) counts too: a variable written from its
      own previous value and gated by one of ``N`` label units (``m += y_c*(x - m)``) keeps
      the target of a class until that class is shown again, on average every ``N`` samples
      when the classes are equally frequent, so it spans ``N * max(P_w, T_s)`` (``P_w`` its
      writer's period, ``T_s = phases * T_on`` the sample period). This is the refresh
      interval: a memory that averages over several presentations of its class reaches
      further back. A sample-and-hold latch
      gated by a stimulus table (a ``TimedArray``) is refreshed every sample and adds
      nothing. Running averages gated by anything else (e.g. a baseline
      ``b += r*(x - b)``) are named in the row, not counted: their window is a run-time
      rate, not part of the structure.
    * ``longest_interval`` is the largest interval over the weight updates, in seconds.
    """
    auditor = _Auditor(_flatten(objects), layer_of, run_namespace or {})
    temporal_rows, phases, longest = auditor.temporal_rows(presentation)
    rows = auditor.forward_rows() + auditor.locality_rows() + temporal_rows
    return AuditReport(tuple(rows), phases, longest)


# (input features, classes) of the data sets whose shape is fixed: building a model for the
# audit needs only the sizes, not the data.
_KNOWN_SHAPES = {"digits": (64, 10), "mnist1d": (40, 10), "fashion-mnist": (784, 10)}
_KNOWN_SHAPES["mnist"] = (784, 10)


def audit_model(model_or_experiment: Any) -> AuditReport:
    """Audit any neurosig model: forward-only, locality, phases and longest interval.

    Parameters
    ----------
    model_or_experiment : model or neurosig.config.Experiment
        A built model, or an experiment whose model is built untrained (from the experiment's
        seed, for its data set's sizes; the data are loaded only when their shape is not known
        in advance, e.g. ``npz:PATH``).

    Returns
    -------
    AuditReport
        For a Brian2 model (a :class:`~neurosig.protocols.BrianNetworkModel`): the audit of its
        objects, built under the runtime device and never run (:func:`audit_brian_network`;
        everything is derived from the network). For a numpy model (a
        :class:`~neurosig.protocols.DeclaresUpdateReads`): rows from the model's declarations
        of what each update reads; the forward-only row of an update fails when a read arrives
        along a pathway from a later layer ("feedback pathway"), the locality row when it reads
        another layer's weights ("weight transport") or something non-local; ``phases`` is
        declared by the model (``presentation_phases``) and ``longest_interval`` is ``nan``
        (discrete time).

    Raises
    ------
    TypeError
        The object is neither kind of model (nor an Experiment).

    Notes
    -----
    Building the audit network replaces the process's live Brian2 program, as building any
    other program does (:mod:`neurosig.brian`); a model rebuilds its own at its next run.

    Examples
    --------
    >>> from neurosig.config import load_experiment
    >>> report = audit_model(load_experiment("bp-digits"))
    >>> report.forward_only, report.weight_transport_free, report.phases
    (False, False, 2)
    """
    from neurosig.config import Experiment

    model = model_or_experiment
    if isinstance(model, Experiment):
        model = _build_untrained(model)
    if isinstance(model, DeclaresUpdateReads):
        return _declared_report(model)
    if isinstance(model, BrianNetworkModel):
        return _brian_model_report(model)
    raise TypeError(
        f"cannot audit a {type(model).__name__}: expected a neurosig model or an Experiment"
    )


def _build_untrained(experiment: Any) -> Any:
    """The experiment's model, untrained, for its data set's sizes."""
    from neurosig.build import build_model
    from neurosig.data import canonical_name, load_dataset

    name = canonical_name(experiment.data.name)
    if name in _KNOWN_SHAPES:
        n_features, n_classes = _KNOWN_SHAPES[name]
    else:
        data = load_dataset(name, validation_fraction=0.0)
        n_features, n_classes = data.n_features, data.n_classes
    sizes = SimpleNamespace(n_features=n_features, n_classes=n_classes)
    return build_model(experiment, sizes)


def _brian_model_report(model: BrianNetworkModel) -> AuditReport:
    """Build a Brian2 model's network under the runtime device (never run) and audit it."""
    import brian2
    from brian2.devices.device import reinit_devices
    from brian2.utils.logger import catch_logs

    from neurosig.brian import release_live_program

    release_live_program()  # the device is about to change under it
    # Objects that are never run make Brian2 warn when they are collected; keep that quiet.
    with catch_logs():
        gc.collect()
        reinit_devices()
        brian2.set_device("runtime")
        brian2.start_scope()
        objects = model.build_network()
        report = audit_brian_network(objects.values(), model.layer_of())
        del objects
        gc.collect()
    return report


def _declared_report(model: DeclaresUpdateReads) -> AuditReport:
    """Rows from a numpy model's ``update_reads()`` declarations."""
    forward, locality = [], []
    for entry in model.update_reads():
        pathways = [read for read in entry.reads if read.pathway]
        if pathways:
            detail = "; ".join(f"{read.pathway}: {read.what}" for read in pathways)
            row = AuditRow(FORWARD, entry.block, False, detail, problems=("feedback pathway",))
        else:
            row = AuditRow(FORWARD, entry.block, True, "reads nothing from a later layer")
        forward.append(row)
        kinds = {read.kind for read in entry.reads} - set(_ALLOWED) - set(_FORBIDDEN)
        if kinds:
            raise ValueError(f"{entry.block}: unknown kind(s) of read {sorted(kinds)}")
        order = {kind: rank for rank, kind in enumerate(_FORBIDDEN + _ALLOWED)}
        reads = sorted(entry.reads, key=lambda read: order[read.kind])
        parts = [f"{read.kind}: {read.what}" for read in reads]
        problems = tuple(kind for kind in _FORBIDDEN if any(r.kind == kind for r in entry.reads))
        block = f"update of {entry.params} (declared)"
        locality.append(
            AuditRow(LOCALITY, entry.block, not problems, "; ".join(parts), block, problems)
        )
    phases = int(model.presentation_phases)
    detail = (
        f"phases: {phases} (declared: {model.phases_reason}); longest interval between "
        "combined factors: not applicable (discrete time)"
    )
    rows = [*forward, *locality, AuditRow(TEMPORAL, "network", True, detail)]
    return AuditReport(tuple(rows), phases, float("nan"))


# ----------------------------------------------------------------------------------------
# Collecting the objects
# ----------------------------------------------------------------------------------------


def _flatten(objects: Network | Iterable[object]) -> list[object]:
    """Objects of a network or an iterable, each once (by name: a runner may come twice)."""
    if isinstance(objects, Network):
        objects = objects.objects
    unique: dict[str, object] = {}
    for obj in objects:
        unique.setdefault(_name(obj), obj)
    return list(unique.values())


def _name(obj: object) -> str:
    name = getattr(obj, "name", None)  # (repr is slow: Brian2 formats every clock in it)
    return name if name is not None else repr(obj)


def _base_group(group: object) -> object:
    """The group a subgroup is cut from (the group itself if it is not a subgroup)."""
    while isinstance(group, Subgroup):
        group = group.source
    return group


def _same(first: object, second: object) -> bool:
    """Whether two Brian2 objects are the same; owners are often weak proxies, so use names."""
    return _name(_base_group(first)) == _name(_base_group(second))


def _is_builtin(name: str) -> bool:
    """Brian2's own variables: internal ``_names``, time, indices, sizes and noise."""
    for suffix in ("_pre", "_post"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.startswith("_") or name in _BUILTIN_NAMES or name == "xi" or name.startswith("xi_")


def _code_lines(code: str) -> list[str]:
    """Non-empty statements of a Brian2 code string, without comments."""
    lines = (line.split("#", 1)[0].strip() for line in str(code).splitlines())
    return [line for line in lines if line]


def _identifiers(code: str) -> set[str]:
    return set().union(*(get_identifiers(line) for line in _code_lines(code)))


def _written_names(code: str) -> set[str]:
    """Names assigned to (``x = ...``, ``x += ...``) in a Brian2 code string."""
    return {parse_statement(line)[0] for line in _code_lines(code)}


@dataclass(frozen=True)
class _Block:
    """A code block of one object: where it comes from and what it reads and writes."""

    owner: object
    label: str
    identifiers: frozenset[str]
    written: frozenset[str]
    code: str = ""  # the statements of a code block (empty for equations)
    period: float | None = None  # seconds between two runs of the block (its clock's dt)


def _extra_runners(group: object) -> list[CodeRunner]:
    """Code runners of a group beyond the ones Brian2 builds from its model and events."""
    standard = (StateUpdater, Thresholder, Resetter, SynapticPathway, SummedVariableUpdater)
    return [
        runner
        for runner in getattr(group, "contained_objects", [])
        if isinstance(runner, CodeRunner) and not isinstance(runner, standard)
    ]


def _equation_block(group: object) -> _Block | None:
    """All expressions of a group's equations: differential equations and subexpressions.

    Brian2 keeps the event-driven equations of a ``Synapses`` object apart from the others
    (in ``event_driven``); they are part of its plasticity too.
    """
    identifiers: set[str] = set()
    written: set[str] = set()
    equations = list(group.equations.ordered)
    if getattr(group, "event_driven", None) is not None:
        equations += group.event_driven.ordered
    for eq in equations:
        if eq.expr is None:
            continue
        if eq.type == "differential equation":
            written.add(eq.varname)
            identifiers.add(eq.varname)
        identifiers |= set(eq.expr.identifiers)
    if not identifiers:
        return None
    return _Block(
        group, "equations", frozenset(identifiers), frozenset(written), period=_period(group)
    )


def _code_block(owner: object, label: str, code: str, period: float | None) -> _Block:
    return _Block(
        owner,
        label,
        frozenset(_identifiers(code)),
        frozenset(_written_names(code)),
        str(code),
        period,
    )


def _period(obj: object) -> float | None:
    """The time step of an object's clock, in seconds (None if it has no clock)."""
    clock = getattr(obj, "clock", None)
    if clock is None:
        return None
    try:
        return float(clock.dt_)
    except NotImplementedError:  # a standalone device that cannot read it before a run
        return None


def _blocks_of(group: object, loose_runners: list[CodeRunner]) -> list[_Block]:
    """Every code block of a neuron group or ``Synapses`` object.

    ``loose_runners`` are code runners passed in ``objects`` that the group does not list in
    its ``contained_objects`` (e.g. a ``CodeRunner`` built by hand and added to the network).
    """
    blocks = []
    equations = _equation_block(group)
    if equations is not None:
        blocks.append(equations)
    if isinstance(group, Synapses):
        for pathway in group._pathways:
            label = f"on_{pathway.prepost}"
            if pathway.event != "spike":
                label += f" ({pathway.event})"
            blocks.append(_code_block(group, label, pathway.code, _period(pathway)))
    else:
        for event, code in getattr(group, "event_codes", {}).items():
            label = "reset" if event == "spike" else f"on {event}"
            blocks.append(_code_block(group, label, code, _period(group)))
    # ``run_regularly`` attaches its code runner to the group's contained objects.
    for runner in _extra_runners(group):
        label = f"run_regularly '{runner.name}'"
        blocks.append(_code_block(group, label, runner.abstract_code, _period(runner)))
    for runner in loose_runners:
        label = f"code runner '{runner.name}'"
        blocks.append(_code_block(group, label, runner.abstract_code, _period(runner)))
    return blocks


# ----------------------------------------------------------------------------------------
# The audit
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Finding:
    """How one identifier of a code block was classified."""

    category: str
    name: str
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.category in _ALLOWED

    def render(self) -> str:
        return f"{self.name} ({self.note})" if self.note else self.name


class _Auditor:
    """Holds the objects and layers while the rows are built."""

    def __init__(
        self,
        objects: list[object],
        layer_of: Mapping[str, float],
        run_namespace: Mapping[str, object],
    ) -> None:
        self.layer_of = layer_of
        self.run_namespace = run_namespace
        self.groups = [obj for obj in objects if isinstance(obj, _NEURON_LIKE)]
        self.synapses = [obj for obj in objects if isinstance(obj, Synapses)]
        self.groups.sort(key=lambda g: (self._layer_key(g), g.name))
        self.synapses.sort(
            key=lambda s: (self._layer_key(s.source), self._layer_key(s.target), s.name)
        )
        # Code runners passed directly (not through their owner's contained_objects).
        owned = {
            runner.name
            for group in self.groups + self.synapses
            for runner in getattr(group, "contained_objects", [])
        }
        self.loose_runners: dict[str, list[CodeRunner]] = {}
        for obj in objects:
            if isinstance(obj, CodeRunner) and obj.name not in owned:
                owner = getattr(obj, "group", None)
                if owner is not None:
                    self.loose_runners.setdefault(_name(owner), []).append(obj)

    # -- layers ------------------------------------------------------------------------

    def layer(self, group: object) -> float | None:
        """Layer of a group, by its own name or its parent's; None if it has none."""
        for candidate in (group, _base_group(group)):
            if _name(candidate) in self.layer_of:
                return float(self.layer_of[_name(candidate)])
        if isinstance(_base_group(group), Synapses):
            # A Synapses object (owner of a linked variable) lives in its target's layer.
            return self.layer(_base_group(group).target)
        return None

    def _layer_key(self, group: object) -> float:
        layer = self.layer(group)
        return float("inf") if layer is None else layer

    def describe(self, group: object) -> str:
        layer = self.layer(group)
        where = "no layer" if layer is None else f"layer {layer:g}"
        return f"{_name(group)} ({where})"

    # -- forward-only ----------------------------------------------------------------------

    def forward_rows(self) -> list[AuditRow]:
        rows = [self._group_forward_row(group) for group in self.groups]
        rows += [self._synapses_forward_row(syn) for syn in self.synapses]
        return rows

    def _group_forward_row(self, group: object) -> AuditRow:
        layer = self.layer(group)
        if layer is None:
            return AuditRow(FORWARD, group.name, False, "not assigned to a layer")
        problems: list[str] = []
        links: list[str] = []
        for name, var in group.variables.items():
            if _is_builtin(name) or _same(var.owner, group):
                continue
            source = f"{_name(var.owner)}.{var.name}"
            source_layer = self.layer(var.owner)
            if source_layer is None:
                problems.append(f"{name} links to {source}, whose group has no layer")
            elif source_layer > layer:
                problems.append(f"{name} links to {source} (layer {source_layer:g}): feedback")
            else:
                links.append(f"{name} <- {source} (layer {source_layer:g})")
        equations = getattr(group, "equations", None)
        for eq in equations.ordered if equations is not None else []:
            if "linked" in eq.flags and eq.varname not in group.variables:
                problems.append(f"{eq.varname} is declared (linked) but never linked")
        detail = f"layer {layer:g}"
        if links:
            detail += "; links: " + ", ".join(links)
        if problems:
            detail += "; " + "; ".join(problems)
        flags = ("feedback",) if any(p.endswith("feedback") for p in problems) else ()
        return AuditRow(FORWARD, group.name, not problems, detail, problems=flags)

    def _synapses_forward_row(self, syn: Synapses) -> AuditRow:
        source_layer, target_layer = self.layer(syn.source), self.layer(syn.target)
        arrow = f"{self.describe(syn.source)} -> {self.describe(syn.target)}"
        missing = [
            _name(group)
            for group, layer in ((syn.source, source_layer), (syn.target, target_layer))
            if layer is None
        ]
        if missing:
            detail = f"{arrow}: {', '.join(missing)} not assigned to a layer"
            return AuditRow(FORWARD, syn.name, False, detail)
        if source_layer > target_layer:
            return AuditRow(FORWARD, syn.name, False, f"{arrow}: feedback", problems=("feedback",))
        verdict = "same layer" if source_layer == target_layer else "forward"
        problems = []
        # A summed variable sends information into its target group; into an earlier layer
        # (e.g. ``delta_pre = w*err_post (summed)``) that is a backward pass.
        for summed_name, updater in syn.summed_updaters.items():
            summed_layer = self.layer(updater.target)
            if summed_layer is None or summed_layer < target_layer:
                problems.append(
                    f"summed variable {summed_name} writes into "
                    f"{self.describe(updater.target)}: backward flow"
                )
        detail = f"{arrow}: {verdict}"
        if problems:
            detail += "; " + "; ".join(problems)
        flags = ("backward flow",) if problems else ()
        return AuditRow(FORWARD, syn.name, not problems, detail, problems=flags)

    # -- temporal locality -----------------------------------------------------------------

    def temporal_rows(self, presentation: float | None) -> tuple[list[AuditRow], int, float]:
        """Rows on the timing of every weight update, the phases and the longest interval.

        The definitions are in the Notes of :func:`audit_brian_network`.
        """
        neuron_groups = [group for group in self.groups if isinstance(group, NeuronGroup)]
        self.blocks = {
            group.name: _blocks_of(group, self.loose_runners.get(group.name, []))
            for group in neuron_groups + self.synapses
        }
        periods = [b.period for blocks in self.blocks.values() for b in blocks if b.period]
        clocks = [_period(obj) for obj in neuron_groups + self.synapses]
        if not periods:
            return [], 1, float("nan")
        step = min(periods + [p for p in clocks if p])  # the simulation time step
        onset = presentation or self._onset_period(periods, step)
        updates = [
            block
            for syn in self.synapses
            for block in self.blocks[syn.name]
            if self._is_plastic(syn, block)
        ]
        if not updates:
            return [AuditRow(TEMPORAL, "network", True, "no weight updates")], 1, 0.0
        fastest = min(block.period or step for block in updates)
        phases = max(1, round(fastest / onset)) if onset else 1
        sample = phases * onset if onset else fastest
        rows, longest, longest_obj = [], 0.0, ""
        for block in updates:
            row, interval = self._temporal_row(block, step, onset, sample)
            rows.append(row)
            if interval > longest:
                longest, longest_obj = interval, block.owner.name
        where = f"onsets every {_duration(onset)}" if onset else "no onset clock"
        detail = (
            f"phases: {phases} ({where}); longest interval between combined factors: "
            f"{_duration(longest)} ({longest_obj})"
        )
        rows.append(AuditRow(TEMPORAL, "network", True, detail))
        return rows, phases, longest

    def _onset_period(self, periods: list[float], step: float) -> float | None:
        """The shortest clock period longer than the time step, else the shortest such
        ``dt`` of a ``TimedArray`` the objects can read."""
        slower = [p for p in periods if p > step * (1 + 1e-9)]
        if slower:
            return min(slower)
        namespaces = [getattr(obj, "namespace", None) or {} for obj in self.groups]
        namespaces += [getattr(obj, "namespace", None) or {} for obj in self.synapses]
        tables = [
            value.dt
            for namespace in [*namespaces, self.run_namespace]
            for value in namespace.values()
            if isinstance(value, TimedArray) and value.dt > step * (1 + 1e-9)
        ]
        return min(tables) if tables else None

    def _temporal_row(
        self, block: _Block, step: float, onset: float | None, sample: float
    ) -> tuple[AuditRow, float]:
        period = block.period or step
        if block.label.startswith("on_"):  # "on_pre", "on_post (tspike)"
            parts, interval = [f"at every {block.label[3:].split()[0]}synaptic event"], step
        elif block.label == "equations":
            parts, interval = ["continuous"], step
        elif period <= step * (1 + 1e-9):
            parts, interval = ["every time step"], step
        else:
            count = ""
            if onset:
                n = f"{period / onset:.3g}"
                count = f" ({n} presentation{'' if n == '1' else 's'})"
            parts, interval = [f"every {_duration(period)}{count}"], period
        classes, latches, running = self._memories(block)
        for names, n, writer in classes:
            span = n * max(writer, sample)
            interval = max(interval, span)
            parts.append(
                f"class memories {_compact(names)} (1 of {n} label units: refreshed every "
                f"{_duration(span)} on average)"
            )
        if latches:
            parts.append(f"latches {_compact(latches)} (refreshed every sample)")
        if running:
            parts.append(f"running averages {_compact(running)} (run-time window, not counted)")
        parts.insert(1, f"combines factors up to {_duration(interval)} apart")
        row = AuditRow(TEMPORAL, block.owner.name, True, "; ".join(parts), block.label)
        return row, interval

    def _memories(self, block: _Block) -> tuple[list, list[str], list[str]]:
        """Held variables an update reads: class memories, latches, running averages.

        Follows what the update reads through the code that computes it (the equations and
        statements that compute a variable, subexpressions, summed variables, linked
        variables) and inspects every statement that writes one of those variables from its
        own previous value.
        """
        classes: dict[tuple[int, float], list[str]] = {}
        latches: list[str] = []
        running: list[str] = []
        for group, name in sorted(self._read_closure(block), key=lambda k: (k[0].name, k[1])):
            if isinstance(group, Synapses):
                continue  # weights change from their own value by design: not a memory
            for writer in self.blocks.get(group.name, []):
                if name not in writer.written or not writer.code:
                    continue
                for line in _code_lines(writer.code):
                    var, _, expr, _ = parse_statement(line)
                    used = get_identifiers(expr)
                    if var != name or name not in used:
                        continue
                    kind = self._gate(group, used - {name})
                    if kind == "latch":
                        latches.append(name)
                    elif kind:
                        period = writer.period or 0.0
                        classes.setdefault((kind, period), []).append(name)
                    else:
                        running.append(name)
        class_rows = [(names, n, period) for (n, period), names in classes.items()]
        return class_rows, sorted(set(latches)), sorted(set(running))

    def _gate(self, group: object, names: set[str]) -> int | str | None:
        """What gates a self-referencing update: a stimulus table (``"latch"``), one of N
        label units (N), or neither (None)."""
        for name in sorted(names):
            var = group.variables.get(name)
            if var is not None and not _same(var.owner, group):
                owner = _base_group(var.owner)
                layer, size = self.layer(owner), getattr(owner, "N", 0)
                if layer is not None and layer <= 0 and size > 1:
                    return int(size)
        for name in names:
            for namespace in (getattr(group, "namespace", None) or {}, self.run_namespace):
                if isinstance(namespace.get(name), TimedArray):
                    return "latch"
        return None

    def _read_closure(self, block: _Block) -> list[tuple[object, str]]:
        """Every (group, variable) whose value can reach the update, through code."""
        seen: dict[tuple[str, str], tuple[object, str]] = {}
        queue = [ref for name in block.identifiers for ref in self._resolve(block.owner, name)]
        while queue:
            group, name = queue.pop()
            key = (group.name, name)
            if key in seen:
                continue
            seen[key] = (group, name)
            var = group.variables.get(name)
            if var is not None and not _same(var.owner, group):
                owner = _base_group(var.owner)
                queue.append((owner, var.name))
                continue
            if isinstance(var, Subexpression):
                queue += [r for inner in var.identifiers for r in self._resolve(group, inner)]
            queue += [r for i in self._sources(group, name) for r in self._resolve(group, i)]
            for syn in self.synapses:
                for updater in syn.summed_updaters.values():
                    if _same(updater.target, group) and updater.target_var.name == name:
                        inner = get_identifiers(str(updater.expression))
                        queue += [r for i in inner for r in self._resolve(syn, i)]
        return list(seen.values())

    def _sources(self, group: object, name: str) -> set[str]:
        """Identifiers of the equations and statements of ``group`` that compute ``name``.

        Statements that change a variable from its own value (``b += ...``, ``m += y*(x -
        m)``, a latch) make it held state: a learned parameter, a memory or an accumulator.
        What fed it in the past is not a factor of the present update, so they are not
        followed (the memories among them are found by :meth:`_memories`).
        """
        used: set[str] = set()
        equations = list(group.equations.ordered)
        if getattr(group, "event_driven", None) is not None:
            equations += group.event_driven.ordered
        for eq in equations:
            if eq.varname == name and eq.expr is not None:
                used |= set(eq.expr.identifiers)
        for writer in self.blocks.get(group.name, []):
            if name in writer.written:
                for line in _code_lines(writer.code):
                    var, op, expr, _ = parse_statement(line)
                    identifiers = get_identifiers(expr)
                    if var == name and op == "=" and name not in identifiers:
                        used |= identifiers
        return used

    def _resolve(self, owner: object, name: str) -> list[tuple[object, str]]:
        """The (group, variable) a name in a code block of ``owner`` refers to."""
        if _is_builtin(name):
            return []
        if isinstance(owner, Synapses):
            for suffix, group in (("_pre", owner.source), ("_post", owner.target)):
                base = name[: -len(suffix)]
                if name.endswith(suffix) and base in group.variables:
                    return [(_base_group(group), base)]
        if name in owner.variables:
            return [(owner, name)]
        return []

    # -- locality --------------------------------------------------------------------------

    def locality_rows(self) -> list[AuditRow]:
        rows = []
        neuron_groups = [group for group in self.groups if isinstance(group, NeuronGroup)]
        for group in neuron_groups + self.synapses:
            loose = self.loose_runners.get(group.name, [])
            for block in _blocks_of(group, loose):
                if isinstance(group, Synapses) and not self._is_plastic(group, block):
                    continue  # transmission only (e.g. ``v_post += w``): not plasticity
                rows.append(self._locality_row(block))
        return rows

    def _is_plastic(self, syn: Synapses, block: _Block) -> bool:
        """Whether a block of a ``Synapses`` object writes one of its own variables."""
        for name in block.written:
            var = syn.variables.get(name)
            if var is None or _is_builtin(name) or name in syn.summed_updaters:
                continue
            if _same(var.owner, syn):
                return True
        return False

    def _locality_row(self, block: _Block) -> AuditRow:
        findings: list[_Finding] = []
        seen: set[tuple[str, str]] = set()
        for name in sorted(block.identifiers):
            if isinstance(block.owner, Synapses):
                findings += self._classify_synaptic(block.owner, name, seen)
            else:
                findings += self._classify_in_group(block.owner, name, "neuron", seen)
        problems = tuple(dict.fromkeys(f.category for f in findings if not f.ok))
        return AuditRow(
            LOCALITY, block.owner.name, not problems, _render(findings), block.label, problems
        )

    def _classify_synaptic(
        self, syn: Synapses, name: str, seen: set[tuple[str, str]]
    ) -> list[_Finding]:
        """Classify an identifier used in a code block of a ``Synapses`` object."""
        key = (syn.name, name)
        if key in seen:
            return []
        seen.add(key)
        if _is_builtin(name):
            return [_builtin(name)]
        # ``x_pre`` / ``x_post``: look ``x`` up in the group itself, so that a linked
        # variable is judged by what it links to.
        for suffix, role, group in (("_pre", "pre", syn.source), ("_post", "post", syn.target)):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and base in group.variables:
                return self._classify_in_group(group, base, role, seen, shown_as=name)
        var = syn.variables.get(name)
        if var is None:
            return [self._classify_external(syn, name)]
        if _same(var.owner, syn):
            category = "shared" if var.scalar else "synaptic"
            findings = [_Finding(category, name)]
            if isinstance(var, Subexpression):
                for inner in sorted(var.identifiers):
                    findings += self._classify_synaptic(syn, inner, seen)
            return findings
        # A bare name that is not the synapse's own refers to the postsynaptic group.
        if _same(var.owner, syn.target) and name in syn.target.variables:
            return self._classify_in_group(syn.target, name, "post", seen)
        return [self._classify_foreign(var, name)]

    def _classify_in_group(
        self,
        group: object,
        name: str,
        role: str,
        seen: set[tuple[str, str]],
        shown_as: str | None = None,
    ) -> list[_Finding]:
        """Classify a variable of a neuron group, read in the given role.

        ``role`` is ``"pre"`` or ``"post"`` when a synapse reads the group's variable and
        ``"neuron"`` when the group's own code does.
        """
        shown = shown_as or name
        key = (_name(group), name)
        if key in seen:
            return []
        seen.add(key)
        if _is_builtin(name):
            return [_builtin(shown)]
        var = group.variables.get(name)
        if var is None:
            return [self._classify_external(group, name)]
        if not _same(var.owner, group):
            return [self._classify_link(group, var, shown, role)]
        if var.scalar or getattr(group, "N", 0) == 1:
            findings = [_Finding("shared", shown)]
        else:
            # Under "pre"/"post" the suffix is implied: list ``h_pre`` as ``h``.
            findings = [_Finding(role, name)]
        if isinstance(var, Subexpression):
            for inner in sorted(var.identifiers):
                findings += self._classify_in_group(group, inner, role, seen)
        return findings

    def _classify_link(self, group: object, var: Variable, shown: str, role: str) -> _Finding:
        """A linked variable of ``group``: judge it by the object it links to."""
        owner = var.owner
        source = f"{_name(owner)}.{var.name}"
        if isinstance(_base_group(owner), Synapses):
            return _Finding(
                "weight transport", shown, f"links to {source}: another object's weights"
            )
        if var.scalar or getattr(owner, "N", 0) == 1:
            return _Finding("shared", shown, f"linked to {source}")
        group_layer, owner_layer = self.layer(group), self.layer(owner)
        if owner_layer is None:
            return _Finding("non-local", shown, f"linked to {source}, which has no layer")
        if owner_layer == group_layer:
            return _Finding(role, shown, f"linked to {source}, same layer")
        if owner_layer <= 0:
            return _Finding(role, shown, f"linked to {source}, input/label layer")
        return _Finding(
            "non-local", shown, f"linked to {source} of another layer ({owner_layer:g})"
        )

    def _classify_foreign(self, var: Variable, name: str) -> _Finding:
        """A variable owned by some other object (neither the block's owner nor its ends)."""
        owner = var.owner
        if isinstance(_base_group(owner), Synapses):
            return _Finding(
                "weight transport", name, f"reads {var.name} of {_name(owner)}: weight transport"
            )
        if var.scalar or getattr(owner, "N", 0) == 1:
            return _Finding("shared", name, f"of {_name(owner)}")
        return _Finding("non-local", name, f"reads {var.name} of {_name(owner)}")

    def _classify_external(self, obj: object, name: str) -> _Finding:
        """A name that is not a variable of ``obj``: resolve it the way Brian2 would."""
        if name in DEFAULT_CONSTANTS or name in DEFAULT_UNITS:
            return _Finding("constants", name)
        if name in DEFAULT_FUNCTIONS:
            return _Finding("functions", name)
        for namespace in (getattr(obj, "namespace", None) or {}, self.run_namespace):
            if name in namespace:
                return self._classify_value(name, namespace[name])
        return _Finding("unresolved", name, "not in the object's namespace; pass run_namespace=")

    def _classify_value(self, name: str, value: object) -> _Finding:
        """An external value from a namespace."""
        if isinstance(value, TimedArray):
            return _Finding("global input", name, "TimedArray")
        if isinstance(value, Function):
            return _Finding("functions", name)
        if isinstance(value, VariableView):
            value = value.variable
        if isinstance(value, Variable):
            return self._classify_foreign(value, name)
        if isinstance(value, numbers.Number | np.generic):
            return _Finding("global input", name)
        if isinstance(value, np.ndarray):
            if value.size <= 1:
                return _Finding("global input", name)
            weights = self._weights_sharing_memory(value)
            if weights is not None:
                return _Finding(
                    "weight transport", name, f"reads {weights}: another object's weights"
                )
            return _Finding("non-local", name, f"external array of {value.size} values")
        if callable(value):  # a plain Python function with Brian2 unit annotations
            return _Finding("functions", name)
        return _Finding("unresolved", name, f"{type(value).__name__} is not a Brian2 value")

    def _weights_sharing_memory(self, value: object) -> str | None:
        """``"w of syn"`` if an array is a view of a ``Synapses`` variable, else None.

        Only possible under the runtime device; standalone devices have no values before a
        run, and a copy of the weights cannot be recognised.
        """
        if not isinstance(value, np.ndarray):
            return None
        for syn in self.synapses:
            for var_name, var in syn.variables.items():
                if _is_builtin(var_name) or not _same(var.owner, syn):
                    continue
                if isinstance(var, Subexpression) or not hasattr(var, "get_value"):
                    continue
                try:
                    stored = var.get_value()
                except NotImplementedError:  # standalone device before a run
                    return None
                if isinstance(stored, np.ndarray) and np.shares_memory(stored, value):
                    return f"{var_name} of {syn.name}"
        return None


def _duration(seconds: float) -> str:
    """``0.02`` -> ``"20 ms"``; ``1.5`` -> ``"1.5 s"``."""
    if seconds < 1:
        return f"{seconds * 1e3:.4g} ms"
    return f"{seconds:.4g} s"


def _compact(names: list[str]) -> str:
    """``["m0", "m1", "m2", "h_d"]`` -> ``"h_d, m0..m2"``: numbered names as ranges."""
    numbered: dict[str, list[int]] = {}
    plain = []
    for name in sorted(set(names)):
        match = re.fullmatch(r"(.*?[^0-9])([0-9]+)", name)
        if match:
            numbered.setdefault(match.group(1), []).append(int(match.group(2)))
        else:
            plain.append(name)
    for prefix, indices in numbered.items():
        indices.sort()
        if len(indices) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
            plain.append(f"{prefix}{indices[0]}..{prefix}{indices[-1]}")
        else:
            plain += [f"{prefix}{n}" for n in indices]
    return ", ".join(sorted(plain))


def _builtin(name: str) -> _Finding:
    """Brian2's own names: listed when user-visible (``t``, ``i``), hidden when internal."""
    return _Finding("builtins", name, "internal" if name.startswith("_") else "")


def _render(findings: list[_Finding]) -> str:
    """``"synaptic: w; pre: h; shared: eta"``: the findings grouped by category."""
    parts = []
    for category in _FORBIDDEN + _ALLOWED:
        names = [
            finding.render()
            for finding in findings
            if finding.category == category and finding.note != "internal"
        ]
        if names:
            parts.append(f"{category}: {', '.join(dict.fromkeys(names))}")
    return "; ".join(parts) or "no identifiers"
