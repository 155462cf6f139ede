"""``python -m neurosig`` runs the command line."""

import sys

from neurosig.cli import main

sys.exit(main())
