"""The induction step, proved once for a generic layer l inside a network of any depth.

Layer l has n_l neurons and layer l+1 has n_{l+1}; both are symbols.  Everything
above layer l+1 (however many layers, and the cost) is one undefined function
E_above of the vector y^{l+1}, so the error is E = E_above(y^{l+1}) with

    y^{l+1}_k = Sum_{i=1}^{n_l} W^{l+1}_{k i} a_i(y^l) + b^{l+1}_k.

``sp.diff(E, y^l_q)`` takes the chain rule through the n_{l+1} entries of y^{l+1}
(:class:`~symbackprop.proofs.calculus.VectorFunction`) and SymPy's own derivative
of each entry.  Naming delta^{l+1}_k = dE_above/dy^{l+1}_k (what the step assumes
known at layer l+1), the result reduces to the recursion of eq. 57-60, 65:

    delta^l = f'(y^l) (.) (W^{l+1})^T delta^{l+1}      (element-wise activation f)
    delta^l = J^T (W^{l+1})^T delta^{l+1}              (softmax layer, full Jacobian J)

No depth appears: with L layers, the part above any layer l < L is such an E_above,
so this one proof and the base case at layer L (:func:`prove_base_case`) give
delta^l for every l of every depth L, by induction on L - l.

>>> prove_recursion().verdict
'proved under condition 1 <= q <= n_l'
>>> prove_recursion(transpose=False).verdict       # W^{l+1} delta^{l+1} instead of (W^{l+1})^T delta^{l+1}
'not proved'
>>> prove_recursion(derivative=False).verdict      # the factor f'(y^l) left out
'not proved'
"""
import time

import sympy as sp

from symbackprop.errors import SymbackpropError
from symbackprop.proofs.calculus import (
    VectorFunction,
    VectorPartial,
    canonical_derivatives,
    derivative_name,
    name_partials,
    prime,
    softmax_vector,
)
from symbackprop.proofs.proof import Proof, decide
from symbackprop.proofs.reduction import INDEX, i, k, q

n_l, n_next = sp.Symbol("n_l", **INDEX), sp.Symbol("n_{l+1}", **INDEX)


def _layer_above(activation):
    """y^l, W^{l+1}, delta^{l+1}, T, f, the activation a(index) of layer l, and Lambda k -> y^{l+1}_k."""
    y, W, b, delta = (sp.IndexedBase(x) for x in ("y^l", "W^{l+1}", "b^{l+1}", "delta^{l+1}"))
    T, f = sp.Symbol("T", positive=True), sp.Function("f")
    a = (lambda index: f(y[index])) if activation == "elementwise" else softmax_vector(y, n_l, T)
    return y, W, delta, T, f, a, sp.Lambda(k, sp.Sum(W[k, i] * a(i), (i, 1, n_l)) + b[k])


def prove_vector_chain_rule(sizes=(1, 2, 3)):
    """The chain rule of :class:`VectorFunction` equals SymPy's own for F(v_1, ..., v_P), P in ``sizes``.

    v_k is the entry y^{l+1}_k of the layer above layer l (n_l symbolic).  SymPy
    differentiates the undefined F of P arguments by y^l_q itself; the Sum over
    k = 1..P that VectorFunction gives is written out term by term (``doit(deep=False)``)
    and its D_k F is named as SymPy's derivative of F by argument k.

    >>> prove_vector_chain_rule(sizes=(2,)).proved
    True
    """
    sizes = tuple(sizes)
    if not sizes or any(isinstance(P, bool) or not isinstance(P, int) or not 1 <= P <= 6 for P in sizes):
        raise SymbackpropError(f"sizes must be integers from 1 to 6, got {sizes!r}")
    started = time.perf_counter()
    y, _, _, _, _, _, entry = _layer_above("elementwise")
    F = sp.Function("F")
    proof = Proof(f"chain rule through a vector, against SymPy's at sizes {', '.join(map(str, sizes))}",
                  "for v_k = y^{l+1}_k (n_l symbolic) and an undefined F: d F(v)/dy^l_q as the Sum over k of "
                  f"D_k F(v) dv_k/dy^l_q (VectorFunction) equals sp.diff(F(v_1, ..., v_P), y^l_q) for P in {sizes}",
                  r"\frac{\partial F(v)}{\partial y_q} = \sum_k \partial_k F(v) \frac{\partial v_k}{\partial y_q}")
    claims = []
    for P in sizes:
        args = [entry(number) for number in range(1, P + 1)]
        vector_rule = sp.diff(VectorFunction("F", entry, P, "v"), y[q]).doit(deep=False)
        vector_rule = vector_rule.replace(
            lambda e: isinstance(e, VectorPartial),
            lambda e, P=P, args=args: sp.Function(derivative_name(F, int(e.index) - 1, P))(*args))
        claims.append((f"P = {P}", canonical_derivatives(sp.diff(F(*args), y[q])),
                       canonical_derivatives(vector_rule)))
    return decide(proof, claims, {q: (1, n_l)}, started)


def prove_recursion(activation="elementwise", transpose=True, derivative=True):
    """The induction step: delta^l from delta^{l+1} for a generic layer l, E_above opaque (eq. 57-60, 65).

    ``activation`` is 'elementwise' (a generic f) or 'softmax' (full Jacobian).
    Wrong claims, kept to show that the prover can fail: ``transpose=False`` uses
    W^{l+1} instead of its transpose, ``derivative=False`` leaves out f'(y^l) (for
    softmax: J^T).
    """
    if activation not in ("elementwise", "softmax"):
        raise SymbackpropError(f"activation must be 'elementwise' or 'softmax', got {activation!r}")
    started = time.perf_counter()
    y, W, delta, T, f, a, y_next = _layer_above(activation)
    E = VectorFunction("E_above", y_next, n_next, "y^{l+1}")
    chain = sp.diff(E, y[q])

    def back(index):  # ((W^{l+1})^T delta^{l+1})_index, or the wrong (W^{l+1} delta^{l+1})_index
        weight = W[k, index] if transpose else W[index, k]
        return sp.Sum(weight * delta[k], (k, 1, n_next))

    where = ("for a generic layer l of a network of any depth (sizes n_l, n_{l+1} symbolic), everything above "
             "layer l+1 one undefined function E = E_above(y^{l+1}), delta^{l+1}_k = dE_above/dy^{l+1}_k: ")
    if activation == "elementwise":
        claimed = (prime(f, y[q]) if derivative else 1) * back(q)
        statement = where + "dE/dy^l = f'(y^l) (.) (W^{l+1})^T delta^{l+1}, f any element-wise activation"
        latex = r"\delta^l = f'(y^l) \odot (W^{l+1})^T \delta^{l+1}"
    else:
        jacobian = a(i) * (sp.KroneckerDelta(i, q) - a(q)) / T
        claimed = sp.Sum(jacobian * back(i), (i, 1, n_l)) if derivative else back(q)
        statement = where + ("dE/dy^l = J^T (W^{l+1})^T delta^{l+1}, J_iq = a_i (KroneckerDelta(i, q) - a_q)/T "
                             "(softmax layer)")
        latex = r"\delta^l = J^T (W^{l+1})^T \delta^{l+1},\ J_{iq} = a_i(\delta_{iq} - a_q)/T"
    if not (transpose and derivative):
        statement += "  [WRONG CLAIM: " + ", ".join(
            ([] if transpose else ["no transpose"]) + ([] if derivative else ["no activation derivative"])) + "]"
    proof = Proof(f"induction step, {activation} layer l (eq. 57-60, 65)", statement, latex)
    proof.steps += [
        ("layer l+1 on the activation of layer l", sp.Eq(sp.IndexedBase("y^{l+1}")[k], y_next(k))),
        ("every layer above l+1 and the cost: one undefined function of y^{l+1}", sp.Eq(sp.Symbol("E"), E)),
        ("dE/dy^l_q by sp.diff: the chain rule through the n_{l+1} entries of y^{l+1}, each entry by SymPy",
         chain),
        ("delta^{l+1}_k names D_k E_above(y^{l+1}) = dE/dy^{l+1}_k, known at layer l+1", None),
    ]
    derived = canonical_derivatives(name_partials(chain, E, lambda index: delta[index]))
    return decide(proof, [("delta^l_q = dE/dy^l_q", derived, claimed)], {q: (1, n_l)}, started)
