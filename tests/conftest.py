"""Fixtures shared by the test modules."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def npz_data(tmp_path):
    """Three Gaussian blobs in 12 dimensions as an ``npz:`` data set (240 train, 60 test)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=2, size=(3, 12))
    y_train, y_test = rng.integers(0, 3, 240), rng.integers(0, 3, 60)
    path = tmp_path / "blobs.npz"
    np.savez(
        path,
        x_train=centres[y_train] + rng.normal(size=(240, 12)),
        y_train=y_train,
        x_test=centres[y_test] + rng.normal(size=(60, 12)),
        y_test=y_test,
    )
    return path


@pytest.fixture
def dead_temporary():
    """``make(path)``: the name of a temporary sibling of ``path`` left by a writer that was
    killed (its process id no longer alive), as :mod:`neurosig.atomic` names them."""
    import os
    import subprocess

    from neurosig.atomic import temporary_sibling

    child = subprocess.Popen(["true"])
    child.wait()

    def make(path):
        name = temporary_sibling(path).name.replace(f".{os.getpid()}.", f".{child.pid}.")
        return path.with_name(name)

    make.pid = child.pid
    return make
