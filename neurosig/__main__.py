"""``python -m neurosig`` runs the command line."""

import sys

from neurosig.cli import run

sys.exit(run())
