"""The identities of the layer kinds beyond the perceptron, with symbolic sizes.

* :func:`prove_residual`: s' = s + a(W s + b) under an undefined E(s'), delta_i = dE/ds'_i: the recursion gains
  the identity term, dE/ds_c = delta_c + (W^T (a'(y) (.) delta))_c, and dE/dW_rc = a'(y_r) delta_r s_c;
* :func:`prove_layernorm_jacobian`: out_i = g_i (s_i - mu)/sigma + h_i with mu = (1/n) Sum_k s_k and
  sigma^2 = (1/n) Sum_k (s_k - mu)^2 + eps: d mu/ds_j and d var/ds_j by ``sp.diff`` of the Sum forms, then
  d out_i/ds_j = (g_i/sigma) (delta_ij - 1/n - x_i x_j / n), x = (s - mu)/sigma (the full Jacobian);
* :func:`prove_convolution`: dE/dW is the correlation of the input with delta, dE/ds the full convolution of
  delta with the flipped kernel (channels, kernel and output sizes symbolic);
* :func:`prove_layernorm_backward`: the fast form the code runs, Sum_i J_ij G_i =
  (1/sigma) (gG_j - (1/n) Sum_i gG_i - x_j (1/n) Sum_i x_i gG_i) with gG = g (.) G, and dE/dg_i = G_i x_i.

>>> prove_residual().verdict
'proved under condition 1 <= r <= n, 1 <= c <= n'
>>> prove_layernorm_backward(claim=lambda gG, x, sigma: gG[j] / sigma).proved   # a wrong fast form
False
"""
import time

import sympy as sp

from symbackprop.proofs.calculus import VectorFunction, canonical_derivatives, name_partials, prime
from symbackprop.proofs.proof import Proof, decide
from symbackprop.proofs.reduction import c, i, j, k, n, r


def collapse_constant_sums(expr):
    """Sum_{k=lo}^{hi} f = (hi - lo + 1) f when k does not occur in f (a sound step the reduction lacks).

    >>> s = sp.IndexedBase("s")
    >>> collapse_constant_sums(sp.Sum(s[i], (i, 1, n), (k, 1, n)))
    n*Sum(s[i], (i, 1, n))
    """
    def collapse(e):
        kept, factor = [], sp.Integer(1)
        for limit in e.limits:
            index, lo, hi = limit
            if e.function.has(index):
                kept.append(limit)
            else:
                factor *= hi - lo + 1
        return factor * (sp.Sum(e.function, *kept) if kept else e.function)

    return expr.replace(lambda e: isinstance(e, sp.Sum), collapse)


def canonical_deltas(expr):
    """A shifted KroneckerDelta(a, b) as KroneckerDelta(a - b, 0), a - b signed canonically: [a = b] = [a - b = 0].

    Deltas of two plain indices are left for the reduction to collapse.

    >>> canonical_deltas(sp.KroneckerDelta(i, r - k + 1)) == canonical_deltas(sp.KroneckerDelta(r, i + k - 1))
    True
    """
    def canonical(delta):
        difference = sp.expand(delta.args[0] - delta.args[1])
        if difference.could_extract_minus_sign():
            difference = -difference
        return sp.KroneckerDelta(difference, 0)

    shifted = lambda e: isinstance(e, sp.KroneckerDelta) and not all(a.is_Symbol for a in e.args)
    return expr.replace(shifted, canonical)


def decide_with_sums(proof, claims, ranges, started):
    """As :func:`~symbackprop.proofs.proof.decide`, with constant sums collapsed when one reduction leaves them."""
    return decide(proof, claims, ranges, started, retry=("constant sums collapsed", collapse_constant_sums))


def prove_residual():
    """A residual block under any E above it: the identity term of the recursion (sizes symbolic)."""
    started = time.perf_counter()
    W, b, s, delta = (sp.IndexedBase(x) for x in ("W", "b", "s", "delta"))
    f = sp.Function("f")
    y = sp.Lambda(i, sp.Sum(W[i, k] * s[k], (k, 1, n)) + b[i])
    out = sp.Lambda(i, s[i] + f(y(i)))
    E = VectorFunction("E", out, n, "s'")
    proof = Proof("residual block (recursion with the identity term)",
                  "for s'_i = s_i + f(y_i), y_i = sum_k W_ik s_k + b_i (n x n, sizes symbolic) under an undefined "
                  "E(s'), delta_i = dE/ds'_i: dE/ds_c = delta_c + sum_i W_ic f'(y_i) delta_i, "
                  "dE/dW_rc = f'(y_r) delta_r s_c",
                  r"\delta^{l-1} = \delta^l + W^T\left(a'(y) \odot \delta^l\right)")
    proof.steps.append(("the block (forward rule)", sp.Eq(sp.IndexedBase("s'")[i], out(i))))

    def gradient(wrt):
        return canonical_derivatives(name_partials(sp.diff(E, wrt), E, lambda index: delta[index]))

    claims = [("dE/ds_c", gradient(s[c]), delta[c] + sp.Sum(W[i, c] * prime(f, y(i)) * delta[i], (i, 1, n))),
              ("dE/dW_rc", gradient(W[r, c]), prime(f, y(r)) * delta[r] * s[c]),
              ("dE/db_r", gradient(b[r]), prime(f, y(r)) * delta[r])]
    return decide(proof, claims, {r: (1, n), c: (1, n), i: (1, n)}, started)


def prove_layernorm_jacobian():
    """d out_i / d s_j of the layer norm, from the Sum forms of the mean and the variance (n symbolic)."""
    started = time.perf_counter()
    s, g = sp.IndexedBase("s"), sp.IndexedBase("g")
    mean = sp.Sum(s[k], (k, 1, n)) / n
    var = sp.Sum((s[k] - mean) ** 2, (k, 1, n)) / n
    mu, v, eps = sp.symbols("mu v epsilon", positive=True)
    proof = Proof("layer norm Jacobian",
                  "for out_i = g_i (s_i - mu)/sigma + h_i, mu = (1/n) sum_k s_k, sigma^2 = (1/n) sum_k (s_k - mu)^2 "
                  "+ eps (n symbolic): d out_i/ds_j = (g_i/sigma) (delta_ij - 1/n - x_i x_j/n), x = (s - mu)/sigma",
                  r"\frac{\partial a_i}{\partial s_j} = \frac{g_i}{\sigma}\left(\delta_{ij} - \frac1n - "
                  r"\frac{\hat x_i \hat x_j}{n}\right)")
    # (1) the two sums, differentiated by SymPy and reduced (sum_k (s_k - mu) = 0 is what the reduction finds)
    dmean, dvar = sp.diff(mean, s[j]), sp.diff(var, s[j])
    proof.steps += [("the mean and the biased variance", sp.Tuple(mean, var))]
    claims = [("d mu/ds_j", dmean, sp.Integer(1) / n),
              ("d var/ds_j", dvar, 2 * (s[j] - mean) / n)]
    # (2) the chain through (mu, v): out_i = g_i (s_i - mu) / sqrt(v + eps), with the two derivatives of (1)
    out = g[i] * (s[i] - mu) / sp.sqrt(v + eps)
    d_out = (sp.diff(out, s[i]) * sp.KroneckerDelta(i, j) + sp.diff(out, mu) / n
             + sp.diff(out, v) * 2 * (s[j] - mu) / n)
    x = lambda index: (s[index] - mu) / sp.sqrt(v + eps)
    closed = g[i] / sp.sqrt(v + eps) * (sp.KroneckerDelta(i, j) - sp.Integer(1) / n - x(i) * x(j) / n)
    proof.steps.append(("the chain through mu and var (sigma = sqrt(var + eps))", d_out))
    claims.append(("d out_i/ds_j, closed form", sp.expand(d_out), sp.expand(closed)))
    return decide_with_sums(proof, claims, {j: (1, n)}, started)


def prove_layernorm_backward(claim=None):
    """J^T G in the fast form the emitted code runs (no n x n Jacobian), and the gradients of g and h."""
    started = time.perf_counter()
    G, g, x = sp.IndexedBase("G"), sp.IndexedBase("g"), sp.IndexedBase("x")
    sigma = sp.Symbol("sigma", positive=True)
    J = lambda a, b: g[a] / sigma * (sp.KroneckerDelta(a, b) - sp.Integer(1) / n - x[a] * x[b] / n)
    gG = sp.IndexedBase("gG")
    fast = claim or (lambda gG, x, sigma: (gG[j] - sp.Sum(gG[i], (i, 1, n)) / n
                                           - x[j] * sp.Sum(x[i] * gG[i], (i, 1, n)) / n) / sigma)
    proof = Proof("layer norm backward (fast form)",
                  "with J the layer norm Jacobian and G = dE/d out: sum_i J_ij G_i = (1/sigma) (gG_j - mean(gG) - "
                  "x_j mean(x (.) gG)), gG = g (.) G; dE/dg_i = G_i x_i, dE/dh_i = G_i",
                  r"\delta^{l-1} = \frac{1}{\sigma}\left(\tilde g - \overline{\tilde g} - \hat x \odot "
                  r"\overline{\hat x \odot \tilde g}\right),\ \tilde g = g \odot \delta^l")
    derived = sp.Sum(sp.expand(J(i, j) * G[i]), (i, 1, n))
    claimed = fast(gG, x, sigma).xreplace({gG[i]: g[i] * G[i], gG[j]: g[j] * G[j]})
    h = sp.IndexedBase("h")
    out = lambda a: g[a] * x[a] + h[a]
    claims = [("sum_i J_ij G_i", derived, sp.expand(claimed)),
              ("dE/dg_r", sp.Sum(G[i] * sp.diff(out(i), g[r]), (i, 1, n)), G[r] * x[r]),
              ("dE/dh_r", sp.Sum(G[i] * sp.diff(out(i), h[r]), (i, 1, n)), G[r])]
    return decide(proof, claims, {j: (1, n), r: (1, n)}, started)


def prove_convolution(claim_W=None):
    """The convolution's gradients for symbolic channels, kernel and output sizes (stride 1; padding is a larger s).

    y[o, i, j] = sum_{c, p, q} W[o, c, p, q] s[c, i + p - 1, j + q - 1] + b[o].  Every first derivative of E goes
    through y by the chain rule, dE/dtheta = sum delta[o, i, j] dy[o, i, j]/dtheta with delta = dE/dy, so E is
    written as that sum (the general case at first order).  Claims: dE/dW is the correlation of the input with
    delta, dE/db sums delta, and dE/ds is the full convolution of delta (zero outside its range) with the flipped
    kernel: sum_{o,p,q} W[o, c, p, q] delta[o, y - p + 1, x - q + 1].
    """
    started = time.perf_counter()
    INDEX = {"integer": True, "positive": True}
    o, o2, c2, p, p2, q, q2, y, x = sp.symbols("o o2 c2 p p2 q q2 y x", **INDEX)
    O, C, K, R, H, V = sp.symbols("O C K R H V", **INDEX)  # channels out/in, kernel K x R, output H x V
    W, s, b, delta = (sp.IndexedBase(name) for name in ("W", "s", "b", "delta"))
    y_oij = sp.Sum(W[o, c, p, q] * s[c, i + p - 1, j + q - 1], (c, 1, C), (p, 1, K), (q, 1, R)) + b[o]
    E = sp.Sum(delta[o, i, j] * y_oij, (o, 1, O), (i, 1, H), (j, 1, V))
    proof = Proof("convolution gradients (correlation, full convolution with the flipped kernel)",
                  "for y[o,i,j] = sum_{c,p,q} W[o,c,p,q] s[c,i+p-1,j+q-1] + b[o] (all sizes symbolic), delta = dE/dy: "
                  "dE/dW[o,c,p,q] = sum_{i,j} delta[o,i,j] s[c,i+p-1,j+q-1], dE/db[o] = sum_{i,j} delta[o,i,j], "
                  "dE/ds[c,y,x] = sum_{o,p,q} W[o,c,p,q] delta_bar[o,y-p+1,x-q+1] (delta_bar: delta, 0 outside)",
                  r"\frac{\partial E}{\partial W} = s \star \delta,\quad \frac{\partial E}{\partial s} = "
                  r"\bar\delta * \operatorname{flip}(W)")
    proof.steps.append(("the convolution (cross-correlation, as torch)", sp.Eq(sp.IndexedBase("y")[o, i, j], y_oij)))
    correlation = claim_W or (lambda: sp.Sum(delta[o2, i, j] * s[c2, i + p2 - 1, j + q2 - 1], (i, 1, H), (j, 1, V)))
    flipped = sp.Sum(W[o, c2, p, q] * sp.Sum(delta[o, i, j] * sp.KroneckerDelta(i, y - p + 1)
                                             * sp.KroneckerDelta(j, x - q + 1), (i, 1, H), (j, 1, V)),
                     (o, 1, O), (p, 1, K), (q, 1, R))
    claims = [("dE/dW[o,c,p,q]", sp.diff(E, W[o2, c2, p2, q2]), correlation()),
              ("dE/db[o]", sp.diff(E, b[o2]), sp.Sum(delta[o2, i, j], (i, 1, H), (j, 1, V))),
              ("dE/ds[c,y,x] (deltas written [a - b = 0])", canonical_deltas(sp.diff(E, s[c2, y, x])),
               canonical_deltas(flipped))]
    return decide(proof, claims, {o2: (1, O), c2: (1, C), p2: (1, K), q2: (1, R)}, started)


def prove_kinds():
    """Every identity of the layer kinds."""
    return [prove_residual(), prove_layernorm_jacobian(), prove_layernorm_backward(), prove_convolution()]
