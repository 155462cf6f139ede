"""House rules that hold for every module of the package, checked on its source with ``ast``.

* No function or method is longer than :data:`MAX_FUNCTION_LINES` lines.
* No private name (``_name``, not a dunder) of a neurosig module is used by another module,
  neither imported (``from neurosig.brian import _LIVE``) nor read as an attribute
  (``brian._LIVE`` after ``from neurosig import brian``): what another module needs is public.
* Importing the registry and the configuration imports no model module (no import cycle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 120
# source folder -> the package it is installed as (pyproject.toml's package-dir)
PACKAGES = {"neurosig": "neurosig", "models": "neurosig.models", "analyses": "neurosig.analyses"}


def module_name(path: Path) -> str:
    """``models/rate.py`` -> ``neurosig.models.rate``; a package's ``__init__`` -> the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


SOURCES = sorted(p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py"))
MODULES = {module_name(p) for p in SOURCES}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def absolute_module(node: ast.ImportFrom, this: str, is_package: bool) -> str:
    """The module an ``from X import ...`` reads, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = this.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def module_aliases(tree: ast.Module, this: str, is_package: bool) -> dict[str, str]:
    """Local names bound to a neurosig module anywhere in the file -> that module."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in MODULES:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = absolute_module(node, this, is_package)
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
    return aliases


def dotted(node: ast.expr) -> str | None:
    """``neurosig.brian`` for the expression ``neurosig.brian``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def private_uses(source: str, this: str, is_package: bool = False) -> list[str]:
    """Every use, in the source of module ``this``, of a private name of another neurosig module."""
    tree = ast.parse(source, this)
    aliases = module_aliases(tree, this, is_package)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = absolute_module(node, this, is_package)
            if source.split(".")[0] == "neurosig" and source != this:
                found += [
                    f"line {node.lineno}: from {source} import {alias.name}"
                    for alias in node.names
                    if is_private(alias.name)
                ]
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = dotted(node.value)
            owner = aliases.get(owner, owner)
            if owner in MODULES and owner != this:
                found.append(f"line {node.lineno}: {owner}.{node.attr}")
    return found


def long_functions(source: str) -> list[str]:
    tree = ast.parse(source)
    return [
        f"{node.name} (line {node.lineno}): {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def source_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", SOURCES, ids=source_id)
def test_no_function_is_longer_than_the_limit(path: Path) -> None:
    too_long = long_functions(path.read_text(encoding="utf-8"))
    assert not too_long, f"{source_id(path)}: split {', '.join(too_long)}"


@pytest.mark.parametrize("path", SOURCES, ids=source_id)
def test_no_private_name_crosses_a_module_boundary(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    uses = private_uses(source, module_name(path), path.name == "__init__.py")
    assert not uses, f"{source_id(path)} uses private names of other modules: {'; '.join(uses)}"


def test_the_checks_find_what_they_look_for() -> None:
    """Each kind of private use and a long function are found (the rules cannot pass silently)."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = (
        "import neurosig.plotting\n"
        "import neurosig.data as data\n"
        "from neurosig import brian\n"
        "from neurosig.brian import _LIVE, __all__\n"
        "from ..data import _load_raw\n"
        f"def long():\n{body}\n"
        "brian._LIVE.clear()\n"
        "data._load_raw, data.__all__\n"
        "neurosig.plotting._axes\n"
        "self._private\n"
    )
    uses = private_uses(source, "neurosig.analyses.sample")
    assert sorted(use.split(": ")[1] for use in uses) == [
        "from neurosig.brian import _LIVE",
        "from neurosig.data import _load_raw",
        "neurosig.brian._LIVE",
        "neurosig.data._load_raw",
        "neurosig.plotting._axes",
    ]
    assert private_uses("import neurosig.data\nneurosig.data._x\n", "neurosig.data") == []
    assert [f.split(" ")[0] for f in long_functions(source)] == ["long"]


def test_registry_and_config_import_no_model_module() -> None:
    code = (
        "import sys, neurosig.config, neurosig.registry\n"
        "names = neurosig.registry.model_names()\n"
        "loaded = [m for m in sys.modules if m.startswith('neurosig.models.')]\n"
        "assert not loaded, loaded\n"
        "assert 'rate' in names and 'sp-core' in names, names\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
