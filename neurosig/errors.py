"""Errors a user can cause. The CLI turns each into one message and exit code 2."""


class NeurosigError(Exception):
    """Base class: a problem with the user's input, reported without a traceback."""


class ConfigError(NeurosigError, ValueError):
    """A configuration field is unknown, of the wrong type or unit, or out of range."""


class DataError(NeurosigError):
    """A data set is unknown, missing, corrupt or malformed."""


class DivergenceError(NeurosigError):
    """Training produced NaN or inf; the last good state was kept."""
