"""Structural audit of a learning rule: forward-only, local, and how far apart in time.

Signal propagation claims two things about a network that a Brian2 script can silently break
(criteria 11 and 12 of the plausibility card):

* **forward-only**: information flows from earlier layers to later ones only. The audit builds
  the information-flow graph of every code block (which variable's value can reach which) and
  fails on any path from a later layer's variable into an earlier layer's, on inputs that are
  not declared, and on objects whose code it cannot read (the rules: ``docs/audit.md``).
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
``random-features``) by measurement: each other block and the label are poisoned on a copy
of the model and the audit records which updates change
(:mod:`neurosig.analyses.audit_measured`; the models' ``update_reads()`` declarations are
checked against it). ``neurosig audit MODEL_OR_TOML`` prints the table.

Example
-------
>>> report = audit_brian_network(net, {"inp": 0, "hid": 1, "out": 2})  # doctest: +SKIP
>>> print(report.table())  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import inspect
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
from brian2 import (
    Equations,
    EventMonitor,
    Network,
    NeuronGroup,
    PoissonGroup,
    PoissonInput,
    PopulationRateMonitor,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
)
from brian2.core.functions import Function
from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS, DEFAULT_UNITS
from brian2.core.variables import Subexpression, Variable, VariableView
from brian2.groups.group import CodeRunner
from brian2.groups.neurongroup import Resetter, StateUpdater, Thresholder
from brian2.groups.subgroup import Subgroup
from brian2.input.binomial import BinomialFunction
from brian2.input.timedarray import TimedArray
from brian2.parsing.statements import parse_statement
from brian2.synapses.synapses import SummedVariableUpdater, SynapticPathway
from brian2.utils.stringtools import get_identifiers

from neurosig.protocols import BrianNetworkModel, DeclaresStimuli, MeasurableUpdates

__all__ = ["AuditReport", "AuditRow", "DeclaresStimuli", "audit_brian_network", "audit_model"]

FORWARD = "forward-only"
LOCALITY = "locality"
TEMPORAL = "temporal"
LABEL_PATH = "label path"

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
_FORBIDDEN = ("weight transport", "non-local", "unknown origin", "unresolved")


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
    label_direct_layers : tuple of float
        Layers (>= 1) that read the label directly rather than through the forward stream
        (the ``"label path"`` row); empty when no label is declared. Informative: it does
        not change :attr:`forward_only` or :attr:`ok` (see ``docs/audit.md``).
    """

    rows: tuple[AuditRow, ...]
    phases: int = 1
    longest_interval: float = float("nan")
    label_direct_layers: tuple[float, ...] = ()

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
    stimuli: Mapping[str, float] | None = None,
    label: Iterable[str] = (),
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
    stimuli : mapping of str to float, optional
        The declared inputs: the layer at which each enters (0 for data and label), by
        namespace name or object name: ``TimedArray`` tables, arrays in a namespace, Python
        functions and ``SpikeGeneratorGroup`` objects. Only declared inputs are trusted; an
        undeclared one fails forward-only as "unknown origin". A declared input entering at
        layer ``k`` may be read by layers ``>= k`` only.
    label : iterable of str, optional
        The names of the inputs (stimuli) and groups that carry the label; adds a
        ``"label path"`` row (where the label enters, which layers >= 1 read it directly)
        and :attr:`AuditReport.label_direct_layers`. The row informs and never fails.

    Returns
    -------
    AuditReport
        One forward-only row per neuron group and per ``Synapses``; one locality row per
        ``Synapses`` code block that writes a synaptic variable (a plasticity update) and
        per neuron-group code block (equations, reset, ``run_regularly``); one temporal row
        per weight update and a summary row, with ``phases`` and ``longest_interval``. Objects
        the audit cannot analyse and code runners with findings get forward-only rows of
        their own; a declared label adds a ``"label path"`` row.

    Notes
    -----
    Forward-only is the rule that information flows only from a layer to the same or a later
    layer, checked on the information-flow graph of every code block (``docs/audit.md``):
    any path from a variable of layer ``j`` into a variable of layer ``i < j`` fails, with
    the path in the row. Objects the audit cannot read (a ``NetworkOperation``, a subclass of
    a Brian2 class, any other Python object, a Python function that closes over state) fail.

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
    auditor = _Auditor(
        _flatten(objects), layer_of, run_namespace or {}, stimuli or {}, tuple(label)
    )
    temporal_rows, phases, longest = auditor.temporal_rows(presentation)
    rows = auditor.forward_rows() + auditor.locality_rows()
    direct: tuple[float, ...] = ()
    if auditor.label:
        label_row, direct = auditor.label_row()
        rows.append(label_row)
    return AuditReport(tuple(rows + temporal_rows), phases, longest, direct)


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
        :class:`~neurosig.protocols.MeasurableUpdates`): the reads of every update MEASURED by
        poisoning each other block and the label on a copy of the model
        (:func:`neurosig.analyses.audit_measured.measured_report`); the forward-only row of an
        update fails when it changes with a later layer, the locality row when it reads
        another layer's weights ("weight transport") or optimiser state; a "declaration" row
        fails when ``update_reads()`` disagrees with the measurement; ``phases`` is declared
        by the model (``presentation_phases``) and ``longest_interval`` is ``nan`` (discrete
        time).

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
    if isinstance(model, MeasurableUpdates):
        # local import: audit_measured builds its rows with this module's AuditRow/AuditReport
        from neurosig.analyses.audit_measured import measured_report

        return measured_report(model)
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
        stimuli: dict[str, float] = {}
        label: tuple[str, ...] = ()
        if isinstance(model, DeclaresStimuli):
            stimuli, label = model.stimuli(), tuple(model.label_inputs())
        report = audit_brian_network(
            objects.values(), model.layer_of(), stimuli=stimuli, label=label
        )
        del objects
        gc.collect()
    return report


def _flatten(objects: Network | Iterable[object]) -> list[object]:
    """Objects of a network or an iterable, each once (by name: a runner may come twice)."""
    if isinstance(objects, Network):
        extra = [objects] if type(objects) is not Network or _patched_methods(objects) else []
        objects = [*objects.objects, *extra]
    unique: dict[str, object] = {}
    for obj in objects:
        unique.setdefault(_name(obj), obj)
    return list(unique.values())


def _flags(problems: list[str]) -> tuple[str, ...]:
    """The categories of forward-only problems, for :attr:`AuditRow.problems`."""
    flags = []
    for problem in problems:
        if problem == "feedback" or problem.endswith(": feedback"):
            flags.append("feedback")
        elif problem.startswith("backward flow") or "carries later information" in problem:
            flags.append("backward flow")
        elif problem.startswith("unknown origin"):
            flags.append("unknown origin")
        else:
            flags.append("structure")
    return tuple(dict.fromkeys(flags))


# Objects the audit reads, by exact type: a subclass may run Python code of its own.
_ANALYSED_TYPES = frozenset(
    {
        NeuronGroup,
        PoissonGroup,
        SpikeGeneratorGroup,
        Synapses,
        Subgroup,
        StateMonitor,
        SpikeMonitor,
        EventMonitor,
        PopulationRateMonitor,
        PoissonInput,
        CodeRunner,
        StateUpdater,
        Thresholder,
        Resetter,
        SynapticPathway,
        SummedVariableUpdater,
    }
)
# Objects other than groups and Synapses that move information (from a group to a record,
# from noise to a group).
_SINKS_AND_SOURCES = (StateMonitor, EventMonitor, PopulationRateMonitor, PoissonInput)


def _unanalysable(obj: object) -> str | None:
    """Why the audit cannot read what an object does; None if it can."""
    kind = type(obj)
    if kind not in _ANALYSED_TYPES:
        return (
            f"{kind.__name__} object: runs code the audit cannot analyse (it could move "
            "any information); build the update as Brian2 code"
        )
    patched = _patched_methods(obj)
    if patched:
        return f"methods replaced on the instance ({', '.join(patched)}): cannot be analysed"
    if kind is CodeRunner and getattr(obj, "group", None) is None:
        return "code runner without a group: cannot be analysed"
    for inner in getattr(obj, "contained_objects", []):
        reason = _unanalysable(inner)
        if reason:
            return f"contains {_name(inner)}: {reason}"
    return None


def _unanalysable_rows(objects: list[object]) -> list[AuditRow]:
    rows = []
    for obj in objects:
        reason = _unanalysable(obj)
        if reason:
            rows.append(AuditRow(FORWARD, _name(obj), False, reason, problems=("unanalysable",)))
    return rows


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
        stimuli: Mapping[str, float],
        label: tuple[str, ...],
    ) -> None:
        self.layer_of = layer_of
        self.run_namespace = run_namespace
        self.stimuli = {name: float(layer) for name, layer in stimuli.items()}
        self.label = label
        self.unanalysable = _unanalysable_rows(objects)
        failed = {row.obj for row in self.unanalysable}
        objects = [obj for obj in objects if _name(obj) not in failed]
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
        others = []
        for obj in objects:
            if type(obj) is CodeRunner and obj.name not in owned:
                self.loose_runners.setdefault(_name(obj.group), []).append(obj)
                others.append(obj)
            elif isinstance(obj, _SINKS_AND_SOURCES):
                others.append(obj)
        self.analysed = [*self.groups, *self.synapses, *others]
        self.flow = _Flow(self)

    # -- layers ------------------------------------------------------------------------

    def layer(self, group: object) -> float | None:
        """Layer of a group: its parent's if it is a subgroup of a listed group (variables
        belong to the parent), else by its own name; None if it has none.

        A ``Synapses`` object lives in the later of its two ends' layers.
        """
        for candidate in (_base_group(group), group):
            if _name(candidate) in self.layer_of:
                return float(self.layer_of[_name(candidate)])
        base = _base_group(group)
        if isinstance(base, Synapses):
            ends = [self.layer(base.source), self.layer(base.target)]
            return None if None in ends else max(ends)
        return None

    def home_layer(self, obj: object) -> float | None:
        """Layer of the variables of ``obj`` (a group or a ``Synapses``), None for others:
        a one-unit group not listed takes the layer of what feeds it."""
        base = _base_group(obj)
        if isinstance(base, (*_NEURON_LIKE, Synapses)):
            return self.layer(base)
        return None

    def declared_layer(self, name: str, value: object) -> float | None:
        """Layer at which a declared input enters (by namespace name or object name)."""
        for candidate in (name, getattr(value, "name", None)):
            if candidate in self.stimuli:
                return self.stimuli[candidate]
        return None

    def variables_sharing_memory(self, array: object) -> list[Variable]:
        """Variables of the network whose values are (views of) ``array``.

        Only possible under the runtime device; standalone devices have no values before a
        run, and a copy cannot be recognised.
        """
        found = []
        owners = [
            obj for obj in self.analysed if isinstance(obj, (*_NEURON_LIKE, Synapses, StateMonitor))
        ]
        for owner in owners:
            for var_name, var in owner.variables.items():
                if _is_builtin(var_name) or not _same(var.owner, owner):
                    continue
                if isinstance(var, Subexpression) or not hasattr(var, "get_value"):
                    continue
                try:
                    stored = var.get_value()
                except (NotImplementedError, TypeError):  # standalone device before a run
                    return found
                if isinstance(stored, np.ndarray) and np.shares_memory(stored, array):
                    found.append(var)
        return found

    def _layer_key(self, group: object) -> float:
        layer = self.layer(group)
        return float("inf") if layer is None else layer

    def describe(self, group: object) -> str:
        layer = self.layer(group)
        where = "no layer" if layer is None else f"layer {layer:g}"
        return f"{_name(group)} ({where})"

    # -- forward-only ----------------------------------------------------------------------

    def forward_rows(self) -> list[AuditRow]:
        """One row per group and ``Synapses``, then rows for other objects with findings
        (code runners, monitors) and for objects the audit cannot analyse."""
        findings: dict[str, list[str]] = {}
        for obj, detail in self.flow.backward_entries():
            findings.setdefault(obj, []).append(detail)
        for obj, reasons in self.flow.issues.items():
            findings.setdefault(obj, []).extend(f"unknown origin: {r}" for r in reasons)
        rows = [self._group_forward_row(group, findings) for group in self.groups]
        rows += [self._synapses_forward_row(syn, findings) for syn in self.synapses]
        named = {row.obj for row in rows}
        for obj, details in sorted(findings.items()):
            if obj not in named:
                rows.append(
                    AuditRow(FORWARD, obj, False, "; ".join(details), problems=_flags(details))
                )
        return rows + self.unanalysable

    def _group_forward_row(self, group: object, findings: dict[str, list[str]]) -> AuditRow:
        layer = self.layer(group)
        problems: list[str] = []
        if layer is None and getattr(group, "N", 0) == 1:
            detail = "one unit, not listed: takes the layer of what feeds it"
        elif layer is None:
            return AuditRow(FORWARD, group.name, False, "not assigned to a layer")
        else:
            detail = f"layer {layer:g}"
        if (
            isinstance(group, SpikeGeneratorGroup)
            and self.declared_layer(group.name, group) is None
        ):
            problems.append("unknown origin: its spike times are an input; declare it in stimuli=")
        links: list[str] = []
        for name, var in group.variables.items():
            if _is_builtin(name) or _same(var.owner, group):
                continue
            source = f"{_name(var.owner)}.{var.name}"
            source_layer = self.layer(var.owner)
            if source_layer is None:
                if getattr(_base_group(var.owner), "N", 0) != 1:
                    problems.append(f"{name} links to {source}, whose group has no layer")
            elif layer is not None and source_layer > layer:
                problems.append(f"{name} links to {source} (layer {source_layer:g}): feedback")
            else:
                links.append(f"{name} <- {source} (layer {source_layer:g})")
        equations = getattr(group, "equations", None)
        for eq in equations.ordered if equations is not None else []:
            if "linked" in eq.flags and eq.varname not in group.variables:
                problems.append(f"{eq.varname} is declared (linked) but never linked")
        problems += findings.get(group.name, [])
        if links:
            detail += "; links: " + ", ".join(links)
        if problems:
            detail += "; " + "; ".join(problems)
        return AuditRow(FORWARD, group.name, not problems, detail, problems=_flags(problems))

    def _synapses_forward_row(self, syn: Synapses, findings: dict[str, list[str]]) -> AuditRow:
        source_layer, target_layer = self.layer(syn.source), self.layer(syn.target)
        arrow = f"{self.describe(syn.source)} -> {self.describe(syn.target)}"
        missing = [
            _name(group)
            for group, layer in ((syn.source, source_layer), (syn.target, target_layer))
            if layer is None and getattr(_base_group(group), "N", 0) != 1
        ]
        if missing:
            detail = f"{arrow}: {', '.join(missing)} not assigned to a layer"
            return AuditRow(FORWARD, syn.name, False, detail)
        problems = list(findings.get(syn.name, []))
        for end in (syn.source, syn.target):
            listed = self.layer_of.get(_name(end))
            if isinstance(end, Subgroup) and listed is not None and listed != self.layer(end):
                problems.append(
                    f"{_name(end)} is listed as layer {listed:g}, but its variables belong to "
                    f"{self.describe(_base_group(end))}"
                )
        if None in (source_layer, target_layer):
            verdict = "an end is a one-unit group not listed"
        elif source_layer > target_layer:
            verdict = "feedback"
            problems.insert(0, "feedback")
        else:
            verdict = "same layer" if source_layer == target_layer else "forward"
        # Its own variables (the weights) must not carry a later layer's information.
        for name, var in sorted(syn.variables.items()):
            key = (syn.name, name)
            if not _is_builtin(name) and _same(var.owner, syn) and self.flow.violated(key):
                problems.append(f"{name} carries later information: {self.flow.path(key)}")
        detail = f"{arrow}: {verdict}"
        rest = [p for p in problems if p != "feedback"]
        if rest:
            detail += "; " + "; ".join(rest)
        return AuditRow(FORWARD, syn.name, not problems, detail, problems=_flags(problems))

    # -- label path ------------------------------------------------------------------------

    def label_row(self) -> tuple[AuditRow, tuple[float, ...]]:
        """Where the declared label enters and which layers (>= 1) read it directly.

        The label's nodes are the declared label stimuli and every variable of a declared
        label group, and what layer-0 (or layer-less) code computes from them outside any
        ``Synapses``. A layer >= 1 reads the label *directly* when a block moves one of
        those nodes into it other than along a ``Synapses`` from a non-label group (the
        forward stream).
        """
        flow = self.flow
        groups = {_name(g): g for g in self.groups}
        entries, sources = [], set()
        for name in self.label:
            if name in groups:
                entries.append(self.describe(groups[name]))
                sources |= {key for key in flow.home if key[0] == name}
            elif (_STIMULUS, name) in flow.home:
                entries.append(f"stimulus {name} (layer {flow.home[(_STIMULUS, name)]:g})")
                sources.add((_STIMULUS, name))
            else:
                entries.append(f"{name} (not in the network)")
        synapses = {syn.name for syn in self.synapses}
        carrying, queue = set(sources), list(sources)
        direct: dict[float, dict[str, str]] = {}
        while queue:
            source = queue.pop()
            for target in flow.out.get(source, []):
                edges = [e for e in flow.into[target] if e.source == source]
                stream = all(e.obj in synapses for e in edges) and source not in sources
                home = flow.home.get(target)
                if home is not None and home >= 1:
                    if not stream:
                        receivers = direct.setdefault(home, {})
                        receivers.setdefault(target[0], f"{_show(target)} <- {_show(source)}")
                elif target not in carrying and not stream:
                    carrying.add(target)
                    queue.append(target)
        layers = tuple(sorted(direct))
        detail = "enters at " + ", ".join(entries)
        if layers:
            shown = ", ".join(f"{layer:g}" for layer in layers)
            receivers = "; ".join(
                f"{layer:g}: {', '.join(sorted(names))} (e.g. {min(names.values())})"
                for layer, names in sorted(direct.items())
            )
            detail += f"; direct to layers {shown} (not through the forward stream): {receivers}"
        else:
            detail += "; reaches layers >= 1 only through the forward stream"
        return AuditRow(LABEL_PATH, ", ".join(self.label), True, detail), layers

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
            return _Finding("shared", name, f"{var.name} of {self.describe(owner)}")
        return _Finding("non-local", name, f"reads {var.name} of {_name(owner)}")

    def _classify_external(self, obj: object, name: str) -> _Finding:
        """A name that is not a variable of ``obj``: resolve it the way Brian2 would."""
        if name in DEFAULT_CONSTANTS or name in DEFAULT_UNITS:
            return _Finding("constants", name)
        if name in DEFAULT_FUNCTIONS:
            return _Finding("functions", name)
        found = _lookup_external(obj, name, self.run_namespace)
        if found is not None:
            return self._classify_value(name, found[1])
        return _Finding("unresolved", name, "not in the object's namespace; pass run_namespace=")

    def _classify_value(self, name: str, value: object) -> _Finding:
        """An external value from a namespace."""
        declared = self.declared_layer(name, value)
        if isinstance(value, VariableView):
            value = value.variable
        if isinstance(value, Variable):
            return self._classify_foreign(value, name)
        if isinstance(value, TimedArray) or _is_array(value):
            array = value.values if isinstance(value, TimedArray) else value
            kind = "TimedArray" if isinstance(value, TimedArray) else f"array of {value.size}"
            shared = self.variables_sharing_memory(array)
            if shared:
                return self._classify_foreign(shared[0], name)
            if declared is not None:
                return _Finding("global input", name, f"{kind}, enters at layer {declared:g}")
            return _Finding("unknown origin", name, f"{kind} not declared in stimuli=")
        if declared is not None:
            return _Finding("global input", name, f"enters at layer {declared:g}")
        reason = _function_impurity(value)
        if reason:
            return _Finding("unknown origin", name, f"function {reason}")
        if isinstance(value, Function) or inspect.isfunction(value):
            return _Finding("functions", name)
        return _Finding("global input", name)


# ----------------------------------------------------------------------------------------
# Information flow: which variable's value can reach which
# ----------------------------------------------------------------------------------------

# A node of the flow graph: (object name, variable). Events are ``<spike>``-like variables of
# their group; declared inputs live under ``_STIMULUS``; temporaries of a code block under the
# block's label.
_Key = tuple[str, str]
_STIMULUS = "<stimulus>"


@dataclass(frozen=True)
class _Edge:
    """Information moving from ``source`` into a node by the code of one block."""

    source: _Key
    obj: str  # the object whose code moves it (a row of the report is about this object)
    block: str


def _show(key: _Key) -> str:
    return f"stimulus {key[1]}" if key[0] == _STIMULUS else f"{key[0]}.{key[1]}"


class _Flow:
    """The information-flow (taint) graph of a network and its closure.

    Every code block adds an edge from each variable it reads to each variable it writes,
    after resolving names the way Brian2 does: ``x_pre``/``x_post`` and bare postsynaptic
    names to the neuron group, linked variables to their source, subexpressions to a node of
    their own fed by what they read, namespace values to their owner (a Brian2 variable, an
    array sharing memory with one, a declared stimulus). Blocks that run on an event also
    read the event (the threshold condition's variables).
    """

    def __init__(self, auditor: _Auditor) -> None:
        self.auditor = auditor
        self.into: dict[_Key, list[_Edge]] = {}
        self.out: dict[_Key, list[_Key]] = {}
        self.home: dict[_Key, float | None] = {}
        self.issues: dict[str, list[str]] = {}  # object name -> reasons it cannot be trusted
        self.expanded: set[_Key] = set()
        for obj in auditor.analysed:
            for context, label, statements, trigger in _flow_blocks(obj):
                self._add_block(obj, context, label, statements, trigger)
        self._close()

    # -- building ------------------------------------------------------------------------

    def node(self, key: _Key, home: float | None) -> _Key:
        self.home.setdefault(key, home)
        return key

    def edge(self, source: _Key, target: _Key, obj: object, block: str) -> None:
        if source == target:
            return
        self.into.setdefault(target, []).append(_Edge(source, _name(obj), block))
        self.out.setdefault(source, []).append(target)

    def issue(self, obj: object, reason: str) -> None:
        reasons = self.issues.setdefault(_name(obj), [])
        if reason not in reasons:
            reasons.append(reason)

    def _add_block(
        self,
        obj: object,
        context: object,
        label: str,
        statements: list[tuple[Any, set[str]]],
        trigger: list[_Key],
    ) -> None:
        """Edges of one block; ``statements`` are (written name or key, names read)."""
        temporaries: dict[str, _Key] = {}
        events = [self.event_node(group, event) for group, event in trigger]
        for written, reads in statements:
            sources = list(events)
            for name in sorted(reads):
                if name in temporaries:
                    sources.append(temporaries[name])
                else:
                    sources += self.refs(context, name, obj, label)
            if isinstance(written, tuple):
                targets = [self.event_node(*written)]
            elif isinstance(written, Variable):
                targets = [self.var_node(written)]
            else:
                targets = self.refs(context, written, obj, label, writing=True)
                if not targets and not _is_builtin(written):
                    key = self.node((_name(obj), f"{label}: {written}"), None)
                    temporaries[written] = key
                    targets = [key]
            for target in targets:
                for source in sources:
                    self.edge(source, target, obj, label)

    def event_node(self, group: object, event: str) -> _Key:
        """The node of an event (``"<spike>"``) of a group: what its condition reads."""
        base = _base_group(group)
        return self.node((_name(base), event), self.auditor.home_layer(base))

    def var_node(self, var: Variable) -> _Key:
        """The node of a Brian2 variable (of its owner); subexpressions are expanded."""
        owner = _base_group(var.owner)
        key = self.node((_name(owner), var.name), self.auditor.home_layer(owner))
        if isinstance(var, Subexpression) and key not in self.expanded:
            self.expanded.add(key)
            for name in sorted(var.identifiers):
                for source in self.refs(var.owner, name, var.owner, "subexpression"):
                    self.edge(source, key, var.owner, "subexpression")
        return key

    def refs(
        self, context: object, name: str, obj: object, label: str, writing: bool = False
    ) -> list[_Key]:
        """The nodes a name used in a code block of ``context`` stands for."""
        if _is_builtin(name):
            return []
        variables = getattr(context, "variables", None) or {}
        if name in variables:
            return [self.var_node(variables[name])]
        found = _lookup_external(context, name, self.auditor.run_namespace)
        if found is None:
            if not writing:
                self.issue(obj, f"{label}: {name} cannot be resolved (pass run_namespace=)")
            return []
        from_defaults, value = found
        return [] if from_defaults else self.value_refs(name, value, obj, label)

    def value_refs(self, name: str, value: object, obj: object, label: str) -> list[_Key]:
        """The nodes behind an external value (a namespace entry)."""
        auditor = self.auditor
        if isinstance(value, VariableView):
            value = value.variable
        if isinstance(value, Variable):
            return [self.var_node(value)]
        declared = auditor.declared_layer(name, value)
        if isinstance(value, TimedArray) or _is_array(value):
            array = value.values if isinstance(value, TimedArray) else value
            keys = [self.var_node(var) for var in auditor.variables_sharing_memory(array)]
            if declared is not None:
                return [self.node((_STIMULUS, name), declared), *keys]
            if not keys:
                kind = "TimedArray" if isinstance(value, TimedArray) else "external array"
                self.issue(
                    obj, f"{label}: {name} ({kind}) has unknown origin: declare it in stimuli="
                )
            return keys
        if declared is not None:
            return [self.node((_STIMULUS, name), declared)]
        reason = _function_impurity(value)
        if reason:
            self.issue(obj, f"{label}: function {name} {reason}")
        return []

    # -- closure -------------------------------------------------------------------------

    def _close(self) -> None:
        """``reach[key]``: the latest layer whose information reaches ``key``, and from where."""
        self.reach: dict[_Key, float] = {}
        self.best: dict[_Key, _Edge] = {}
        queue = []
        for key, home in self.home.items():
            if home is not None:
                self.reach[key] = home
                queue.append(key)
        while queue:
            source = queue.pop()
            for target in self.out.get(source, []):
                if self.reach.get(target, -math.inf) < self.reach[source]:
                    self.reach[target] = self.reach[source]
                    edge = next(e for e in self.into[target] if e.source == source)
                    self.best[target] = edge
                    queue.append(target)

    def violated(self, key: _Key) -> bool:
        home = self.home.get(key)
        return home is not None and self.reach.get(key, -math.inf) > home

    def _upstream_violated(self, key: _Key) -> bool:
        """Whether the information reaching ``key`` already crossed back into a layer."""
        seen = set()
        while key not in seen:
            seen.add(key)
            if self.home.get(key) is not None:
                return self.violated(key)
            if key not in self.best:
                return False
            key = self.best[key].source
        return False

    def path(self, key: _Key) -> str:
        """``"out.h (layer 2) -> hid.delta (layer 1) [syn_back: on_post]"``: how the latest
        information reaching ``key`` gets there."""
        steps, seen = [], set()
        while key in self.best and key not in seen:
            seen.add(key)
            edge = self.best[key]
            steps.append(f"{self._show(key)} [{edge.obj}: {edge.block}]")
            key = edge.source
        steps.append(self._show(key))
        return " -> ".join(reversed(steps))

    def _show(self, key: _Key) -> str:
        home = self.home.get(key)
        return _show(key) + ("" if home is None else f" (layer {home:g})")

    def backward_entries(self) -> list[tuple[str, str]]:
        """(object, detail) for every edge that carries a later layer's information into an
        earlier layer's variable (the first such edge of each path)."""
        found = []
        for target, edges in self.into.items():
            home = self.home.get(target)
            if home is None:
                continue
            for edge in edges:
                late = self.reach.get(edge.source, -math.inf)
                if late > home and not self._upstream_violated(edge.source):
                    detail = (
                        f"backward flow: {self.path(edge.source)} -> {self._show(target)} "
                        f"[{edge.obj}: {edge.block}]"
                    )
                    found.append((edge.obj, detail))
        return sorted(set(found))


def _statements(code: str) -> list[tuple[str, set[str]]]:
    """(written name, names read) of every statement of a Brian2 code string."""
    out = []
    for line in _code_lines(code):
        var, _, expr, _ = parse_statement(line)
        out.append((var, set(get_identifiers(expr))))
    return out


def _group_flow_blocks(group: object) -> list[tuple]:
    """Flow blocks of a neuron group: equations, events (thresholds) and resets."""
    blocks = []
    equations = []
    refractory = "not_refractory" in group.variables
    model = group.equations.ordered if isinstance(group, NeuronGroup) else []
    for eq in model:
        if eq.type == "differential equation" and eq.expr is not None:
            reads = set(eq.expr.identifiers) | {eq.varname}
            if refractory and "unless refractory" in eq.flags:
                reads.add("not_refractory")
            equations.append((eq.varname, reads))
    if equations:
        blocks.append((group, "equations", equations, []))
    for event, condition in (getattr(group, "events", None) or {}).items():
        if condition is None:  # a SpikeGeneratorGroup's spikes: its declared input
            continue
        written = (group, f"<{event}>")
        blocks.append((group, f"{event} condition", [(written, _identifiers(condition))], []))
    for event, code in (getattr(group, "event_codes", None) or {}).items():
        label = "reset" if event == "spike" else f"on {event}"
        blocks.append((group, label, _statements(code), [(group, f"<{event}>")]))
    if refractory:
        marks = [(name, set()) for name in ("lastspike", "not_refractory")]
        blocks.append((group, "refractoriness", marks, [(group, "<spike>")]))
    return blocks


def _synapses_flow_blocks(syn: Synapses) -> list[tuple]:
    """Flow blocks of a ``Synapses`` object: equations, pathways and summed variables."""
    equations = [
        (eq.varname, set(eq.expr.identifiers) | {eq.varname})
        for eq in [*syn.equations.ordered, *(syn.event_driven or Equations("")).ordered]
        if eq.type == "differential equation" and eq.expr is not None
    ]
    blocks = [(syn, "equations", equations, [])] if equations else []
    for pathway in syn._pathways:
        label = f"on_{pathway.prepost}"
        if pathway.event != "spike":
            label += f" ({pathway.event})"
        trigger = [(pathway.source, f"<{pathway.event}>")]
        blocks.append((syn, label, _statements(pathway.code), trigger))
    for name, updater in syn.summed_updaters.items():
        statement = (updater.target_var, set(get_identifiers(str(updater.expression))))
        blocks.append((syn, f"summed {name}", [statement], []))
    return blocks


def _monitor_flow_blocks(monitor: object) -> list[tuple]:
    """A monitor's recorded values come from its source (they matter when a namespace holds
    them): one block of copies, triggered by the recorded event if there is one."""
    source = monitor.source
    event = getattr(monitor, "event", None)
    trigger = [(source, f"<{event}>")] if event else []
    names = list(getattr(monitor, "record_variables", []))
    copies = [(monitor.variables[name], {name}) for name in names if name in monitor.variables]
    if isinstance(monitor, PopulationRateMonitor):
        copies.append((monitor.variables["rate"], set()))
        trigger = [(source, "<spike>")]
    if event:
        copies += [(monitor.variables[n], set()) for n in ("count",) if n in monitor.variables]
    return [(source, "recording", copies, trigger)]


def _flow_blocks(obj: object) -> list[tuple]:
    """(context, label, statements, trigger) of every code block of an analysed object.

    ``context`` is the object whose variables and namespace resolve the names; a statement
    is (what it writes: a name, a Variable or a (group, event) pair; the names it reads);
    ``trigger`` lists the (group, event) pairs that make the block run.
    """
    if isinstance(obj, Synapses):
        blocks = _synapses_flow_blocks(obj)
    elif isinstance(obj, _NEURON_LIKE):
        blocks = _group_flow_blocks(obj)
    elif isinstance(obj, StateMonitor | EventMonitor | PopulationRateMonitor):
        return _monitor_flow_blocks(obj)
    elif isinstance(obj, PoissonInput):
        # the binomial draw is noise; what else it reads is its weight expression
        code = str(obj.abstract_code).replace(f"{obj.name}_binomial()", "1")
        return [(obj.group, f"PoissonInput '{obj.name}'", _statements(code), [])]
    else:  # a code runner added on its own
        return [(obj.group, f"code runner '{obj.name}'", _statements(obj.abstract_code), [])]
    for runner in _extra_runners(obj):
        label = f"run_regularly '{runner.name}'"
        blocks.append((runner.group, label, _statements(runner.abstract_code), []))
    return blocks


def _is_array(value: object) -> bool:
    """An array that a driver could rewrite between runs (not a 0-d constant)."""
    return isinstance(value, np.ndarray) and value.ndim > 0


def _accepted(value: object) -> bool:
    """Whether Brian2 resolves an external name to this value (others are skipped)."""
    if isinstance(value, numbers.Number | np.ndarray | np.generic | Function | Variable):
        return True
    if isinstance(value, VariableView):
        return True
    return inspect.isfunction(value) and hasattr(value, "_arg_units")


def _lookup_external(
    obj: object, name: str, run_namespace: Mapping[str, object]
) -> tuple[bool, object] | None:
    """(from Brian2's defaults, value) of an external name, in Brian2's resolution order:
    constants, units, functions, the object's namespace, the run namespace."""
    defaults = (DEFAULT_CONSTANTS, DEFAULT_UNITS, DEFAULT_FUNCTIONS)
    namespaces = [*defaults, getattr(obj, "namespace", None) or {}, run_namespace]
    for index, namespace in enumerate(namespaces):
        if name in namespace and _accepted(namespace[name]):
            return index < len(defaults), namespace[name]
    return None


# Modules a pure function may call into (they hold no network state).
_PURE_MODULES = frozenset({"numpy", "math", "cmath", "scipy"})


def _global_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _global_names(const)
    return names


def _python_impurity(func: Any, depth: int = 0) -> str | None:
    """Why a Python function could carry state into the network; None if it cannot.

    A function is pure when it has no closure, no default argument holding an object, and
    reads no global other than numbers, strings, pure modules (numpy, math, scipy), builtins
    and pure functions.
    """
    func = inspect.unwrap(func)
    if not inspect.isfunction(func):
        return f"is a {type(func).__name__}, not a Python function the audit can read"
    if func.__closure__:
        return f"closes over {', '.join(func.__code__.co_freevars)}"
    defaults = (*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values())
    if any(not isinstance(d, numbers.Number | str | type(None)) for d in defaults):
        return "keeps an object in a default argument"
    for name in sorted(_global_names(func.__code__)):
        if name not in func.__globals__:
            continue  # an attribute name or a builtin
        value = func.__globals__[name]
        if isinstance(value, ModuleType):
            if value.__name__.split(".")[0] in _PURE_MODULES:
                continue
            return f"reads module {value.__name__}"
        if isinstance(value, numbers.Number | str | np.ufunc) or inspect.isbuiltin(value):
            continue
        if inspect.isfunction(value) and depth < 3 and _python_impurity(value, depth + 1) is None:
            continue
        return f"reads global {name} ({type(value).__name__})"
    return None


def _function_impurity(value: object) -> str | None:
    """Why an external value (not an array or a variable) could carry state; None if not."""
    if isinstance(value, numbers.Number | np.generic | np.ndarray):
        return None  # a constant (0-d)
    if isinstance(value, Function):
        if any(value is f for f in DEFAULT_FUNCTIONS.values()):
            return None
        if isinstance(value, BinomialFunction):
            return None  # random numbers
        if value.pyfunc is None:
            return "has no Python implementation the audit can read: declare it in stimuli="
        reason = _python_impurity(value.pyfunc)
        return None if reason is None else f"{reason}: declare it in stimuli= if it is an input"
    reason = _python_impurity(value)
    return None if reason is None else f"{reason}: declare it in stimuli= if it is an input"


def _patched_methods(obj: object) -> list[str]:
    """Methods replaced on the instance (Python code the audit would not see)."""
    cls = type(obj)
    return sorted(
        name
        for name, value in getattr(obj, "__dict__", {}).items()
        if callable(value) and inspect.isfunction(getattr(cls, name, None))
    )


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
