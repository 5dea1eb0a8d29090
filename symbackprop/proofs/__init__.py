"""The backprop identities proved with symbolic sizes, and for every depth by a proved induction step.

Concrete-size verification (:mod:`symbackprop.verification.verify`) checks one network.  Here
the sizes are SymPy symbols (n, m, p, n_l, n_{l+1}, n0..nL, all positive
integers), vectors are ``IndexedBase`` objects and a layer is the book's eq. 6
written with a ``Sum``:

    y_i = Sum_{j=1}^{m} W_ij s_j + b_i

SymPy differentiates these forms itself (``sp.diff`` of an ``Indexed`` by an
``Indexed`` gives ``KroneckerDelta`` factors); an error that is not written out
(E(y), or E_above(y^{l+1}) for everything above a layer) is an undefined function
of a vector, differentiated by the chain rule of :class:`VectorFunction`; and
:class:`Reduction` decides soundly whether "derived - claimed" is zero.

The modules, in the order a proof uses them:

* :mod:`.reduction`: the index symbols and the zero test for sums of ``Indexed`` terms;
* :mod:`.proof`: the :class:`Proof` object and :func:`decide`;
* :mod:`.calculus`: canonical names f', e_a, softmax, and :class:`VectorFunction`;
* :mod:`.layers`: one layer under any E, the softmax Jacobian, the base case, batches;
* :mod:`.induction`: the chain rule through a vector checked against SymPy's, and the
  induction step for a generic layer l;
* :mod:`.depth`: depths 1..6 checked directly on the composed error;
* :mod:`.theorem`: :func:`prove_all` and :func:`summary`.

>>> prove_recursion().verdict
'proved under condition 1 <= q <= n_l'
>>> prove_recursion(transpose=False).proved
False
"""
from symbackprop.proofs.calculus import (
    VectorFunction,
    VectorPartial,
    canonical_derivatives,
    cost_prime,
    name_partials,
    prime,
    softmax_vector,
)
from symbackprop.proofs.depth import ComposedNetwork, prove_depth
from symbackprop.proofs.induction import n_l, n_next, prove_recursion, prove_vector_chain_rule
from symbackprop.proofs.layers import prove_base_case, prove_batch, prove_layer_gradients, prove_softmax_jacobian
from symbackprop.proofs.proof import Proof, decide
from symbackprop.proofs.reduction import INDEX, Reduction, c, i, j, k, m, n, p, q, r, t
from symbackprop.proofs.theorem import prove_all, summary

__all__ = [
    "INDEX", "ComposedNetwork", "Proof", "Reduction", "VectorFunction", "VectorPartial",
    "c", "canonical_derivatives", "cost_prime", "decide", "i", "j", "k", "m", "n", "n_l", "n_next", "name_partials",
    "p", "prime", "prove_all", "prove_base_case", "prove_batch", "prove_depth", "prove_layer_gradients",
    "prove_recursion", "prove_softmax_jacobian", "prove_vector_chain_rule", "q", "r", "softmax_vector", "summary",
    "t",
]
