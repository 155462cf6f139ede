"""Model families, registered by name on import (see ``neurosig models``)."""

from neurosig.models import baselines, lif, rate, reference  # noqa: F401  (registration side effects)
