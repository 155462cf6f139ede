"""``python -m neurosig`` runs the command line."""

import sys

from neurosig.cli import run

if __name__ == "__main__":  # not when a documentation tool imports every module
    sys.exit(run())
