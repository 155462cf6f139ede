#!/usr/bin/env bash
# Create the project virtual environment with the newest Python 3.13, 3.12 or 3.11 found
# (plain PATH first, then pyenv's versions), and install neurosig editable with its dev tools.
# Usage: scripts/bootstrap-venv.sh VENV_DIR      (override the interpreter with PYTHON=...)
set -euo pipefail
venv=${1:-.venv}

find_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    local v p root
    for v in 3.13 3.12 3.11; do
        if p=$(command -v "python$v" 2>/dev/null) && "$p" -c 'import venv' 2>/dev/null; then
            echo "$p"; return
        fi
        if command -v pyenv >/dev/null 2>&1; then
            root=$(pyenv root)
            for p in $(ls -d "$root"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -V -r); do
                if "$p" -c 'import venv' 2>/dev/null; then echo "$p"; return; fi
            done
        fi
    done
    echo "no Python 3.11-3.13 found: install one or set PYTHON=/path/to/python3.x" >&2
    return 2
}

py=$(find_python)
echo "bootstrap: creating $venv with $("$py" --version 2>&1) ($py)"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# setuptools announces an editable install of a package-dir layout (models/ installs as
# neurosig.models) with an "Editable installation" notice: information, not a problem; keep it
# out of the log so that a real warning stands out
PYTHONWARNINGS="ignore:Editable installation" "$venv/bin/python" -m pip install -q -e ".[dev,validation,exchange,docs,slurm]"
