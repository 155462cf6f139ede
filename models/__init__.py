"""Model families, registered by name on import (see ``neurosig models``)."""

from neurosig.models import baselines, rate, reference  # noqa: F401  (registration side effects)
