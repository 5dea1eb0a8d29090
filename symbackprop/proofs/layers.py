"""One layer, the output layer and a batch, each for any sizes (book eq. 41, 54, 61-66, 86-90).

* :func:`prove_layer_gradients`: y = W s + b (n x m) under an undefined E(y);
  ``sp.diff`` takes the chain rule through y and gives dE/dW = delta s^T,
  dE/db = delta, dE/ds = W^T delta with delta_i = dE/dy_i;
* :func:`prove_softmax_jacobian`: da/dy of softmax, from its Sum form;
* :func:`prove_base_case`: delta^L for E = (1/n) Sum_i e(a_i, z_i), e generic;
* :func:`prove_batch`: dE/dW = (1/beta) Delta S^T, dE/db = (1/beta) Delta 1.

>>> proof = prove_layer_gradients()
>>> proof.verdict
'proved under condition 1 <= r <= n, 1 <= c <= m'
>>> prove_layer_gradients(claim_W=lambda delta, s, r, c: delta[c] * s[r]).verdict   # a wrong identity
'not proved'
"""
import time

import sympy as sp

from symbackprop.errors import SymbackpropError
from symbackprop.proofs.calculus import (
    VectorFunction,
    canonical_derivatives,
    cost_prime,
    name_partials,
    prime,
    softmax_vector,
)
from symbackprop.proofs.proof import Proof, decide
from symbackprop.proofs.reduction import INDEX, c, i, j, k, m, n, q, r, t


# -- (1) one layer under any E ----------------------------------------------------------------------------------
def _outer(delta, s, r, c):
    return delta[r] * s[c]


def prove_layer_gradients(claim_W=_outer):
    """dE/dW_rc = delta_r s_c, dE/db_r = delta_r and dy_i/ds_c = W_ic for sizes n x m (eq. 41, 61-66).

    E = E(y) is an undefined function of the n entries of y, delta_i = dE/dy_i
    names its gradient; ``sp.diff`` takes the chain rule through y and SymPy
    differentiates the Sum form of each y_i.  ``claim_W(delta, s, r, c)`` is the
    claimed entry (a wrong claim is not proved).
    """
    started = time.perf_counter()
    W, b, s, delta = (sp.IndexedBase(x) for x in ("W", "b", "s", "delta"))
    y_i = sp.Sum(W[i, j] * s[j], (j, 1, m)) + b[i]
    E = VectorFunction("E", sp.Lambda(i, y_i), n, "y")
    proof = Proof(
        "layer gradients (eq. 41, 61-66)",
        "for y_i = sum_j W_ij s_j + b_i (n x m, sizes symbolic) under an undefined E(y), delta_i = dE/dy_i: "
        "dE/dW_rc = delta_r s_c, dE/db_r = delta_r, dy_i/ds_c = W_ic, dE/ds_c = (W^T delta)_c",
        r"\frac{\partial E}{\partial W_{rc}} = \delta_r s_c,\ \frac{\partial E}{\partial b_r} = \delta_r,\ "
        r"\frac{\partial y}{\partial s} = W",
    )
    dy_dW = sp.diff(y_i, W[r, c])
    proof.steps += [
        ("the layer with symbolic sizes (eq. 6)", sp.Eq(sp.IndexedBase("y")[i], y_i)),
        ("dy_i/dW_rc by sp.diff (KroneckerDelta form)", dy_dW),
        ("evaluated by SymPy: the Piecewise exposes the range condition c <= m", dy_dW.doit()),
        ("the error: an undefined function of y", sp.Eq(sp.Symbol("E"), E)),
        ("dE/dW_rc by sp.diff: the chain rule through the n entries of y", sp.diff(E, W[r, c])),
        ("delta_i names D_i E(y) = dE/dy_i", None),
    ]

    def gradient(wrt):
        return canonical_derivatives(name_partials(sp.diff(E, wrt), E, lambda index: delta[index]))

    claims = [
        ("dE/dW_rc", gradient(W[r, c]), claim_W(delta, s, r, c)),
        ("dE/db_r", gradient(b[r]), delta[r]),
        ("dy_i/ds_c (eq. 41: dy/ds = W)", sp.diff(y_i, s[c]).doit(), W[i, c]),
        ("dE/ds_c = (W^T delta)_c", gradient(s[c]), sp.Sum(W[i, c] * delta[i], (i, 1, n))),
    ]
    return decide(proof, claims, {r: (1, n), c: (1, m), i: (1, n)}, started)


# -- (2) the softmax Jacobian ---------------------------------------------------------------------------------
def prove_softmax_jacobian():
    """da_i/dy_q = a_i (KroneckerDelta(i, q) - a_q) / T, derived by SymPy from the Sum form."""
    started = time.perf_counter()
    T = sp.Symbol("T", positive=True)
    y = sp.IndexedBase("y")
    a = softmax_vector(y, n, T)
    proof = Proof("softmax Jacobian", "for a_i = exp(y_i/T) / sum_j exp(y_j/T), any n: "
                  "da_i/dy_q = a_i (KroneckerDelta(i, q) - a_q) / T",
                  r"\frac{\partial a_i}{\partial y_q} = \frac{a_i (\delta_{iq} - a_q)}{T}")
    claims = [("da_i/dy_q", sp.diff(a(i), y[q]), a(i) * (sp.KroneckerDelta(i, q) - a(q)) / T)]
    return decide(proof, claims, {i: (1, n), q: (1, n)}, started)


# -- (3) the base case -----------------------------------------------------------------------------------------
def prove_base_case(activation="elementwise"):
    """delta^L = (dE/da^L da^L/dy^L)^T for E = (1/n) Sum_i e(a_i, z_i), e generic (eq. 54)."""
    if activation not in ("elementwise", "softmax"):
        raise SymbackpropError(f"activation must be 'elementwise' or 'softmax', got {activation!r}")
    started = time.perf_counter()
    y, z, A = sp.IndexedBase("y"), sp.IndexedBase("z"), sp.IndexedBase("A")
    e, f, T = sp.Function("e"), sp.Function("f"), sp.Symbol("T", positive=True)
    a = (lambda index: f(y[index])) if activation == "elementwise" else softmax_vector(y, n, T)
    E = sp.Sum(e(a(i), z[i]), (i, 1, n)) / n
    E_in_A = sp.Sum(e(A[i], z[i]), (i, 1, n)) / n
    dE_da = canonical_derivatives(sp.diff(E_in_A, A[k]))  # the row dE/da, entry k
    chain = sp.Sum(dE_da * sp.diff(a(k), y[q]), (k, 1, n))
    chain = canonical_derivatives(chain).replace(lambda x: isinstance(x, sp.Indexed) and x.base == A,
                                                 lambda x: a(x.indices[0]))  # a_k = f(y_k) or softmax
    if activation == "elementwise":
        explicit = cost_prime(e, a(q), z[q]) * prime(f, y[q]) / n
    else:
        jacobian = a(i) * (sp.KroneckerDelta(i, q) - a(q)) / T
        explicit = sp.Sum(cost_prime(e, a(i), z[i]) * jacobian, (i, 1, n)) / n
    proof = Proof(f"base case, {activation} output (eq. 54)",
                  "for E = (1/n) sum_i e(a_i, z_i) with a generic term e: delta^L = (dE/da^L da^L/dy^L)^T",
                  r"\delta^L = \left(\frac{\partial E}{\partial a^L}\frac{\partial a^L}{\partial y^L}\right)^T")
    proof.steps.append(("the error of the output layer", sp.Eq(sp.Symbol("E"), E)))
    derived = canonical_derivatives(sp.diff(E, y[q]))
    claims = [("delta^L_q = dE/dy_q vs the product dE/da da/dy", derived, chain),
              ("delta^L_q vs its entry-wise form", derived, explicit)]
    return decide(proof, claims, {q: (1, n)}, started)


# -- (4) batches -------------------------------------------------------------------------------------------------
def prove_batch(claim_W=None):
    """dE/dW = (1/beta) Delta S^T and dE/db = (1/beta) Delta 1 for Y = W S + B (eq. 86-90).

    B has beta identical columns b; E = (1/beta) Sum_t E_t(Y[:, t]) where each E_t
    is an undefined function of column t of Y; Delta[i, t] names dE_t/dY[i, t].
    ``sp.diff`` takes the chain rule through each column.
    """
    started = time.perf_counter()
    beta = sp.Symbol("beta", **INDEX)
    W, b, S, Delta = (sp.IndexedBase(x) for x in ("W", "b", "S", "Delta"))
    Y_it = sp.Sum(W[i, j] * S[j, t], (j, 1, m)) + b[i]  # B[i, t] = b[i] for every column t

    E_t = VectorFunction("E", sp.Lambda(i, Y_it), n, "Y[:, t]", t)
    E = sp.Sum(E_t, (t, 1, beta)) / beta

    def grad(wrt):
        return name_partials(sp.diff(E, wrt), E_t, lambda index, column: Delta[index, column])

    claim_W = claim_W or (lambda: sp.Sum(Delta[r, t] * S[c, t], (t, 1, beta)) / beta)
    proof = Proof("batch gradients (eq. 86-90)",
                  "for Y = W S + B (n x m, beta columns, sizes symbolic; B = beta copies of b) and "
                  "E = (1/beta) sum_t E_t(Y[:, t]), each E_t an undefined function, Delta[i, t] = dE_t/dY[i, t]: "
                  "dE/dW = (1/beta) Delta S^T, dE/db = (1/beta) Delta 1",
                  r"\frac{\partial E}{\partial W} = \frac{1}{\beta}\Delta S^T,\ "
                  r"\frac{\partial E}{\partial b} = \frac{1}{\beta}\Delta \mathbf{1}")
    proof.steps += [("column t of the batch linearity", sp.Eq(sp.IndexedBase("Y")[i, t], Y_it)),
                    ("the error: the mean of undefined functions of the columns", sp.Eq(sp.Symbol("E"), E)),
                    ("dE/dW_rc by sp.diff: the chain rule through the n entries of each column",
                     sp.diff(E, W[r, c])),
                    ("Delta[i, t] names D_i E_t(Y[:, t]) = dE_t/dY[i, t]", None)]
    claims = [("dE/dW_rc", grad(W[r, c]), claim_W()),
              ("dE/db_r", grad(b[r]), sp.Sum(Delta[r, t], (t, 1, beta)) / beta)]
    return decide(proof, claims, {r: (1, n), c: (1, m)}, started)


