"""symbackprop: backpropagation derived symbolically, as "When Equations Learn" writes it.

The main objects::

    NetworkSpec  ->  Network  ->  Derivation  ->  verify() | LaTeX | NumPy code

>>> from symbackprop import NetworkSpec, derive
>>> d = derive(NetworkSpec.from_options("2,1", "sigmoid", "bce"))
>>> d[1].delta[0]  # the factor a(1 - a) of bce's derivative cancels against sigmoid's a'(y)
a1_1 - z1
"""
__version__ = "0.1.0"

from symbackprop.engine.jacobians import ColumnOfMatrices, Derivation, LayerDerivation, derive
from symbackprop.engine.network import Network
from symbackprop.engine.spec import NetworkSpec
from symbackprop.verification.verify import VerificationReport

# verify() is reached as Derivation.verify() or symbackprop.verification.verify.verify: the name ``verify``
# stays the module's, so ``import symbackprop.verification.verify`` always means the module.
__all__ = ["ColumnOfMatrices", "Derivation", "LayerDerivation", "Network", "NetworkSpec", "VerificationReport",
           "derive"]
