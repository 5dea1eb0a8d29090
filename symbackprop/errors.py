"""The one exception family symbackprop raises for problems a user can fix.

Every error names the problem in words; the command line prints the message
and exits with status 2 instead of showing a traceback.
"""


class SymbackpropError(Exception):
    """Base class: a problem with what the user asked for."""


class SpecError(SymbackpropError, ValueError):
    """A network spec (sizes, activations, cost, spec file) is invalid."""


class ExpressionError(SpecError):
    """A user-written formula was rejected by the restricted grammar."""


class SizeError(SymbackpropError):
    """A request is too large for the method asked for (e.g. explicit expansion)."""
