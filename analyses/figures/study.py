"""A study: one multi-panel figure, declared in TOML, of catalogue figures drawn from Results and
sweeps (``neurosig figures --study SPEC.toml``).

This module is the declaration: :func:`load_study` reads and validates the TOML into a
:class:`Study` (a mistake ends in one :class:`~neurosig.errors.ConfigError` naming the file and
the field); :mod:`neurosig.analyses.figures.compose` gathers the inputs (running the sweeps whose
stores are missing or unfinished) and draws the figure. ``docs/figures.md`` shows the format
with the shipped study, ``analyses/studies/sigprop-vs-bp-digits.toml``::

    name = "sigprop-vs-bp-digits"         # the figure's file name
    width = "double"                      # journal width: single, onehalf, double
    height = 215                          # mm
    columns = 3                           # the grid's columns
    row_heights = [1, 0.9, 1, 1]          # relative (default: equal)

    [quick]                               # --quick: these changes to every sweep
    seeds = 2
    train_epochs = 5

    [inputs.lif]                          # a sweep spec, run into its store when needed
    label = "LIF sigprop"
    sweep = "../sweeps/sigprop_vs_bp_digits_lif.toml"
    # store = "results/lif.zarr"          # default results/studies/NAME[-quick]/INPUT.zarr
    # results = ["results/lif-*.nc"]      # or Result files (paths or patterns)

    [[panels]]                            # panel a; b, c ... in this order
    figure = "learning_curves"            # a catalogue name (neurosig figures --list)
    inputs = ["lif", "rate"]
    colspan = 2                           # also row, column (from 1), rowspan
    legend = "shared"                     # own (default), shared (one above the figure), none
    options = { split = "test" }          # keyword arguments of the figure function

Paths (``sweep``, ``store``, ``results``) are looked up beside the study file first, then from
the working folder. A ``result`` figure draws an input's first Result (point 0, seed index 0),
a ``results`` figure all Results of each input (one group per input, named by its label), a
``card`` figure the report card of an input's Results; ``reference`` names the input whose
first Result is the ``cka`` reference or the card's BP baseline.

Examples
--------
>>> study = load_study("sigprop-vs-bp-digits")  # shipped: analyses/studies/
>>> [panel.letter for panel in study.panels][:3], study.panels[0].figure
(['a', 'b', 'c'], 'learning_curves')
>>> study.store("lif", quick=True).as_posix()
'results/studies/sigprop-vs-bp-digits-quick/lif.zarr'
"""

from __future__ import annotations

import dataclasses
import difflib
import glob
import inspect
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from neurosig.analyses.figures.catalogue import CATALOGUE
from neurosig.config import from_dict, param, read_toml
from neurosig.errors import ConfigError
from neurosig.plotting import WIDTHS_MM
from neurosig.sweep import Sweep, resolve_field, sweep_from_dict

__all__ = [
    "LEGENDS",
    "STORES",
    "Study",
    "StudyInput",
    "StudyPanel",
    "load_study",
    "study_from_dict",
    "study_paths",
]

LEGENDS = ("own", "shared", "none")
"""A panel's legend: its own, one shared legend above the figure, or none."""
STORES = Path("results") / "studies"
"""Where the stores of a study's sweeps go by default: ``STORES/NAME[-quick]/INPUT.zarr``."""
LAYOUT_OPTIONS = ("ax", "axes", "width", "height")
"""Arguments of a figure function that the study's layout sets (not ``options``)."""
_NAME = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*")  # one file name, not hidden


@dataclass(frozen=True)
class StudyInput:
    """What a study draws on: Result files, or a sweep (its spec, its store, or both)."""

    name: str = param("", "the input's name in the study (the TOML table's key)")
    label: str | None = param(None, "its name in legends (default: the input's name)")
    sweep: str | None = param(
        None, "sweep TOML, run into the store when that is missing or unfinished"
    )
    store: str | None = param(None, "sweep store (zarr); default results/studies/NAME/INPUT.zarr")
    results: tuple[str, ...] | None = param(None, "Result files (.nc) or patterns")

    @property
    def title(self) -> str:
        """The label, else the name."""
        return self.label or self.name


@dataclass(frozen=True)
class StudyPanel:
    """One panel: a catalogue figure of some inputs, at a place in the grid."""

    figure: str = param("", "catalogue figure (neurosig figures --list)")
    inputs: tuple[str, ...] = param((), "the inputs it draws")
    reference: str | None = param(None, "input whose first Result is the reference (cka, card)")
    row: int | None = param(None, "grid row, from 1 (default: the next free cell)", bounds=(1, 20))
    column: int | None = param(None, "grid column, from 1", bounds=(1, 20))
    rowspan: int = param(1, "rows it spans", bounds=(1, 20))
    colspan: int = param(1, "columns it spans", bounds=(1, 20))
    legend: str = param(
        "own", "its legend: own, shared (above the figure) or none", choices=LEGENDS
    )
    options: Mapping[str, Any] = field(default_factory=dict, metadata={"doc": "keyword arguments"})
    letter: str = field(default="", metadata={"doc": "its letter, from its place in the list"})


@dataclass(frozen=True)
class Study:
    """A multi-panel figure of catalogue figures, and the inputs it draws on.

    ``inputs``, ``panels`` and ``quick`` are the TOML's tables; ``file`` is the study file
    (None for a study from a dict) and ``folder`` its folder (paths are looked up there
    first). :func:`load_study` builds and validates it.
    """

    name: str = param("", "the study's name: the figure's file name")
    description: str = param("", "one line: what the figure shows")
    width: str = param("double", "journal width", choices=tuple(WIDTHS_MM))
    height: float = param(120.0, "height in mm", bounds=(20.0, 250.0))
    columns: int = param(2, "columns of the panel grid", bounds=(1, 12))
    row_heights: tuple[float, ...] | None = param(None, "relative row heights", bounds=(0.05, 20))
    inputs: Mapping[str, StudyInput] = field(default_factory=dict)
    panels: tuple[StudyPanel, ...] = ()
    quick: Mapping[str, Any] = field(default_factory=dict)
    folder: Path = Path()
    file: Path | None = None

    @property
    def rows(self) -> int:
        """Rows of the panel grid: down to the lowest panel."""
        return max(p.row + p.rowspan - 1 for p in self.panels)

    def file_stem(self, quick: bool = False) -> str:
        """The figure's file name without suffix: ``NAME`` or ``NAME-quick``."""
        return f"{self.name}-quick" if quick else self.name

    def locate(self, text: str) -> Path:
        """A path of the study file: beside it if there, else as given (the working folder)."""
        beside = self.folder / text
        return beside if beside.exists() else Path(text)

    def store(self, name: str, quick: bool = False) -> Path | None:
        """The store of input ``name`` (None for Result files); quick runs go beside it."""
        item = self.inputs[name]
        if item.sweep is None and item.store is None:
            return None
        if item.store is None:
            return STORES / self.file_stem(quick) / f"{name}.zarr"
        store = self.locate(item.store)
        return store.with_name(f"{store.stem}-quick{store.suffix}") if quick else store

    def sweep(self, name: str, quick: bool = False) -> Sweep | None:
        """The sweep of input ``name`` (None without one), with the ``[quick]`` changes: its
        ``seeds``, and its fields set on the base experiment of the sweep."""
        spec = self.inputs[name].sweep
        if spec is None:
            return None
        path = self.locate(spec)
        sweep = sweep_from_dict(read_toml(path), str(path), path.parent)
        if not quick or not self.quick:
            return sweep
        changes = dict(self.quick)
        seeds = changes.pop("seeds", sweep.seeds)
        try:
            fields = {resolve_field(key, sweep.base): value for key, value in changes.items()}
            return dataclasses.replace(
                sweep,
                base=sweep.base.replace(**fields),
                seeds=seeds,
                train_seeds=sweep.train_seeds[:seeds] if sweep.train_seeds else None,
            )
        except (ConfigError, TypeError) as err:
            raise ConfigError(f"[quick]: {err}") from None

    def result_files(self, name: str) -> list[Path]:
        """The Result files of input ``name``: its ``results`` paths and patterns, expanded."""
        files = []
        for pattern in self.inputs[name].results or ():
            beside = sorted(glob.glob(str(self.folder / pattern)))
            found = beside or sorted(glob.glob(pattern))
            if not found:
                raise ConfigError(f"inputs.{name}.results: {pattern!r} matches no file")
            files += [Path(p) for p in found]
        return files


def study_paths() -> dict[str, Path]:
    """The shipped studies: name -> TOML file in ``neurosig/analyses/studies``."""
    folder = resources.files("neurosig.analyses") / "studies"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def load_study(spec: str | Path) -> Study:
    """A study from its TOML file, or a shipped study by name (:func:`study_paths`).

    Raises
    ------
    ConfigError
        One line naming the file and the field: an unknown key (with the closest valid one),
        a wrong type or value, an unknown input or catalogue figure, a missing file, panels
        that overlap or leave the grid.
    """
    path = Path(spec)
    shipped = study_paths()
    if not path.exists() and path.suffix != ".toml" and str(spec) in shipped:
        path = shipped[str(spec)]
    return study_from_dict(read_toml(path), str(path), path.parent)


def _hint(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _table(
    cls: type, data: Any, where: str, source: str, tables: tuple[str, ...] = (), **extra: Any
) -> Any:
    """``cls`` from a TOML table (:func:`neurosig.config.from_dict`; ``where`` "" for the top
    level), with the fields in ``extra`` set here and the sub-``tables`` left to the caller;
    errors name ``source``."""
    prefix = f"{where}." if where else ""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where} must be a table of key = value")
    keys = [f.name for f in dataclasses.fields(cls) if f.name not in extra]
    for key in data:
        if key not in keys:
            raise ConfigError(
                f"{source}: {prefix}{key}: unknown key.{_hint(key, keys)} Valid keys: "
                f"{', '.join(keys)}"
            )
    try:
        obj = from_dict(cls, {k: v for k, v in data.items() if k not in tables}, where or "-")
    except ConfigError as err:
        raise ConfigError(f"{source}: {str(err).removeprefix('-.')}") from None
    return dataclasses.replace(obj, **extra)


def study_from_dict(
    d: Mapping[str, Any], source: str = "<dict>", folder: Path | None = None
) -> Study:
    """A :class:`Study` from a parsed TOML document (see the module docstring)."""
    tables = {key: d.get(key, {}) for key in ("inputs", "quick")}
    for key, value in tables.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{key}] must be a table")
    panels = d.get("panels")
    if not isinstance(panels, list) or not panels:
        raise ConfigError(f'{source}: give the panels as [[panels]] tables, e.g. figure = "rdms"')
    if len(panels) > len(string.ascii_lowercase):
        raise ConfigError(f"{source}: {len(panels)} panels; a figure has at most 26 (a-z)")
    file = Path(source) if Path(source).is_file() else None
    study = _table(Study, dict(d), "", source, ("inputs", "quick", "panels"),
                   folder=folder or Path(), file=file)  # fmt: skip
    if not _NAME.fullmatch(study.name):
        raise ConfigError(
            f"{source}: name = {study.name!r}: the name becomes the figure's file name; use "
            "letters, digits, '.', '-' and '_' only"
        )
    inputs = {
        name: _table(StudyInput, table, f"inputs.{name}", source, name=name)
        for name, table in tables["inputs"].items()
    }
    study = dataclasses.replace(study, inputs=inputs, quick=tables["quick"])
    for item in inputs.values():
        _check_input(study, item, source)
    placed = _place([_panel(study, p, i, source) for i, p in enumerate(panels)], study, source)
    study = dataclasses.replace(study, panels=tuple(placed))
    if study.row_heights is not None and len(study.row_heights) != study.rows:
        raise ConfigError(
            f"{source}: row_heights has {len(study.row_heights)} values for {study.rows} rows"
        )
    return study


def _check_input(study: Study, item: StudyInput, source: str) -> None:
    """One source of data per input, every file there; the sweeps load in both modes."""
    where = f"{source}: inputs.{item.name}"
    if (item.results is not None) == (item.sweep is not None or item.store is not None):
        raise ConfigError(
            f"{where}: give either results = [Result files] or a sweep (sweep = SPEC.toml, "
            "store = STORE.zarr, or both)"
        )
    try:
        study.result_files(item.name)
        for quick in (False, True):
            study.sweep(item.name, quick)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    store = study.store(item.name)
    if item.sweep is None and store is not None and not store.exists():
        raise ConfigError(
            f"{where}.store: {store} does not exist (give sweep = SPEC.toml to run it)"
        )


def _known_input(study: Study, name: Any, where: str) -> str:
    if name not in study.inputs:
        raise ConfigError(
            f"{where} = {name!r}: no such input.{_hint(str(name), study.inputs)} "
            f"Declared: {', '.join(study.inputs) or 'none'}"
        )
    return name


def _panel(study: Study, table: Any, index: int, source: str) -> StudyPanel:
    """Panel ``index`` of the TOML, checked against the catalogue and the inputs."""
    where = f"panels[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {where} must be a table: figure = ..., inputs = [...]")
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: {where}.options must be a table, e.g. {{ n_samples = 5 }}")
    panel = _table(
        StudyPanel, table, where, source, ("options",), letter=string.ascii_lowercase[index]
    )
    if panel.figure not in CATALOGUE:
        raise ConfigError(
            f"{source}: {where}.figure = {panel.figure!r}: not in the catalogue."
            f"{_hint(panel.figure, CATALOGUE)} Choose among {', '.join(CATALOGUE)}"
        )
    figure = CATALOGUE[panel.figure]
    try:
        for name in panel.inputs:
            _known_input(study, name, f"{where}.inputs")
        if panel.reference is not None:
            _known_input(study, panel.reference, f"{where}.reference")
        _check_panel_inputs(study, panel, figure.input, where)
        _check_options(figure.function, options, panel, where)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return dataclasses.replace(panel, options=options)


def _check_panel_inputs(study: Study, panel: StudyPanel, kind: str, where: str) -> None:
    if not panel.inputs:
        raise ConfigError(f'{where}.inputs: name the inputs it draws, e.g. inputs = ["lif"]')
    if kind != "results" and len(panel.inputs) != 1:
        raise ConfigError(
            f"{where}.inputs = {list(panel.inputs)}: {panel.figure!r} draws one input "
            f"({kind}); give one"
        )
    if kind == "sweep" and study.store(panel.inputs[0]) is None:
        raise ConfigError(
            f"{where}: {panel.figure!r} draws a sweep store; input {panel.inputs[0]!r} is "
            "Result files"
        )
    takes_reference = (
        kind == "card"
        or "reference" in inspect.signature(CATALOGUE[panel.figure].function).parameters
    )
    if panel.reference is not None and not takes_reference:
        raise ConfigError(f"{where}.reference: {panel.figure!r} takes no reference")


def _check_options(function, options: Mapping[str, Any], panel: StudyPanel, where: str) -> None:
    """Every option a keyword argument of the figure function, none that the layout sets."""
    allowed = [
        name
        for name, p in inspect.signature(function).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in LAYOUT_OPTIONS
    ]
    for key in options:
        if key in LAYOUT_OPTIONS:
            raise ConfigError(f"{where}.options.{key}: set by the study's layout, not an option")
        if key not in allowed:
            raise ConfigError(
                f"{where}.options.{key}: {panel.figure!r} has no such option.{_hint(key, allowed)}"
                f" Its options: {', '.join(allowed) or 'none'}"
            )


def _place(panels: list[StudyPanel], study: Study, source: str) -> list[StudyPanel]:
    """Every panel with its row and column: as given, else the next free cell where it fits."""
    taken: dict[tuple[int, int], str] = {}
    out = []
    for i, panel in enumerate(panels):
        where = f"{source}: panels[{i}] ({panel.letter}, {panel.figure})"
        if (panel.row is None) != (panel.column is None):
            raise ConfigError(f"{where}: give both row and column, or neither")
        if panel.colspan > study.columns:
            raise ConfigError(f"{where}: colspan = {panel.colspan} > columns = {study.columns}")
        row, column = (panel.row, panel.column) if panel.row is not None else (1, 1)
        while panel.row is None and not _fits(taken, row, column, panel, study.columns):
            row, column = (row, column + 1) if column < study.columns else (row + 1, 1)
        if column + panel.colspan - 1 > study.columns:
            raise ConfigError(
                f"{where}: column {column} + colspan leaves the {study.columns} columns"
            )
        for cell in _cells(row, column, panel):
            if cell in taken:
                raise ConfigError(
                    f"{where}: overlaps panel {taken[cell]} at row {cell[0]}, column {cell[1]}"
                )
            taken[cell] = panel.letter
        out.append(dataclasses.replace(panel, row=row, column=column))
    return out


def _cells(row: int, column: int, panel: StudyPanel) -> list[tuple[int, int]]:
    return [
        (r, c)
        for r in range(row, row + panel.rowspan)
        for c in range(column, column + panel.colspan)
    ]


def _fits(taken: Mapping, row: int, column: int, panel: StudyPanel, columns: int) -> bool:
    return column + panel.colspan - 1 <= columns and not any(
        cell in taken for cell in _cells(row, column, panel)
    )
