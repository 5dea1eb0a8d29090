"""The backprop identities proved for every size and every depth (symbolic dimensions).

Concrete-size verification (:mod:`symbackprop.verify`) checks one network.  Here
the sizes are SymPy symbols n, m, p (positive integers), vectors are
``IndexedBase`` objects and a layer is the book's eq. 6 written with a ``Sum``:

    y_i = Sum_{j=1}^{m} W_ij s_j + b_i

SymPy differentiates these forms itself (``sp.diff`` of an ``Indexed`` by an
``Indexed`` gives ``KroneckerDelta`` factors), and a small, sound reduction
(:class:`Reduction`) decides whether "derived - claimed" is zero:

* a ``Piecewise`` branch is taken only when its condition holds for *every*
  index in its range (checked at the corners of the index box, exact for the
  linear conditions that summation produces);
* ``Sum_{i=lo}^{hi} KroneckerDelta(i, q) g(i)`` becomes ``g(q)`` only when
  lo <= q <= hi is shown; the ranges needed for free indices (1 <= r <= n, ...)
  become the proof's condition;
* sums over the same (rectangular) limits are merged and their integrands
  expanded; a claim is proved only when every merged integrand expands to 0.

The proofs (book eq. 41, 54, 57-60, 61-66, 86-90):

1. one layer, any E:  dE/dW_rc = delta_r s_c,  dE/db_r = delta_r,  dy/ds = W;
2. the recursion step  delta^l = a'(y^l) (.) (W^{l+1})^T delta^{l+1}  for a
   generic element-wise activation f, and  delta^l = J^T (W^{l+1})^T delta^{l+1}
   with the softmax Jacobian J_ij = a_i (KroneckerDelta(i, j) - a_j) / T;
3. the base case  delta^L = (dE/da^L da^L/dy^L)^T  for E = (1/n) sum_i e(a_i, z_i);
4. the batch forms  dE/dW = (1/beta) Delta S^T,  dE/db = (1/beta) Delta 1;

and, for depth L = 1, 2, 3, a direct proof: the composed error of nested sums
with generic activations f_l and cost term e is differentiated by every W^l_rc
and b^l_r and compared with the delta / outer-product form.  (1)-(3) give every
depth by induction; the direct proofs check the induction's glue.

>>> proof = prove_layer_gradients()
>>> proof.verdict
'proved under condition 1 <= r <= n, 1 <= c <= m'
>>> prove_layer_gradients(claim_W=lambda delta, s, r, c: delta[c] * s[r]).verdict   # a wrong identity
'not proved'
"""
import itertools
import time
from dataclasses import dataclass, field

import sympy as sp

from .errors import SymbackpropError
from .texescape import tex_escape

INDEX = {"integer": True, "positive": True}
n, m, p = sp.symbols("n m p", **INDEX)
i, j, k, q, r, c, t = sp.symbols("i j k q r c t", **INDEX)


# -- the proof object --------------------------------------------------------------------------------------------
@dataclass
class Proof:
    """A statement, the steps SymPy took, and the verdict on "derived - claimed = 0"."""

    name: str
    statement: str
    statement_latex: str
    steps: list = field(default_factory=list)  # (description, SymPy expression or Eq)
    verdict: str = "not proved"
    condition: str | None = None
    seconds: float = 0.0

    @property
    def proved(self):
        return self.verdict.startswith("proved")

    def text(self):
        lines = [f"Proof: {self.name}", f"  Statement: {self.statement}"]
        for number, (description, expr) in enumerate(self.steps, 1):
            lines.append(f"  {number}. {description}")
            if expr is not None:
                lines.append(f"       {sp.sstr(expr)}")
        lines.append(f"  Verdict: {self.verdict}  ({self.seconds:.2f} s)")
        return "\n".join(lines)

    def to_dict(self):
        return {
            "name": self.name,
            "statement": self.statement,
            "statement_latex": self.statement_latex,
            "steps": [{"description": d, "expression": None if e is None else sp.sstr(e),
                       "latex": None if e is None else sp.latex(e)} for d, e in self.steps],
            "verdict": self.verdict,
            "proved": self.proved,
            "condition": self.condition,
            "seconds": round(self.seconds, 4),
        }

    def _repr_latex_(self):
        rows = [rf"\textbf{{{tex_escape(self.name)}}}: {self.statement_latex}"]
        rows += [rf"\text{{{number}. {tex_escape(d)}}}" + (rf"\quad {sp.latex(e)}" if e is not None else "")
                 for number, (d, e) in enumerate(self.steps, 1)]
        rows.append(rf"\textit{{Verdict: {tex_escape(self.verdict)}}}")
        return r"$\begin{array}{l}" + r" \\ ".join(rows) + r"\end{array}$"

    def __str__(self):
        return self.text()


# -- the reduction ---------------------------------------------------------------------------------------------
class Reduction:
    """Decides "expr == 0" for sums of Indexed terms, knowing the ranges of the indices.

    ``ranges`` maps each free index to (lo, hi).  Every use of a free index's range
    is recorded in ``used``: those ranges are the condition of the proof.

    >>> red = Reduction({r: (1, n)})
    >>> red.normal_form(sp.Sum(sp.KroneckerDelta(i, r) * sp.IndexedBase("d")[i], (i, 1, n)))
    d[r]
    >>> red.condition()
    '1 <= r <= n'
    """

    def __init__(self, ranges):
        self.ranges = dict(ranges)
        self.used = []

    def condition(self):
        return ", ".join(f"{lo} <= {x} <= {hi}" for x, (lo, hi) in self.ranges.items() if x in self.used) or None

    # a linear condition holds on a box iff it holds at every corner of the box
    def holds(self, cond, context, bound=frozenset()):
        """True when ``cond`` holds for every value of its indices in their ranges; None if undecided."""
        if cond in (sp.true, True):
            return True
        if cond in (sp.false, False):
            return False
        if isinstance(cond, (sp.And, sp.Or)):
            results = [self.holds(a, context, bound) for a in cond.args]
            if isinstance(cond, sp.And):
                return False if False in results else (True if all(x is True for x in results) else None)
            return True if True in results else (False if all(x is False for x in results) else None)
        if not isinstance(cond, (sp.Le, sp.Lt, sp.Ge, sp.Gt)):  # corners decide inequalities only (not Ne, Eq)
            return None
        free = [x for x in cond.free_symbols if x in context]
        if any(sp.diff(cond.lhs - cond.rhs, x, 2) != 0 for x in free):
            return None
        corners = [dict(zip(free, corner)) for corner in itertools.product(*[context[x] for x in free])]
        values = {cond.xreplace(corner) for corner in corners}
        if values == {sp.true}:
            self.used.extend(x for x in free if x in self.ranges and x not in bound and x not in self.used)
            return True
        return None

    def resolve_piecewise(self, expr, context=None, bound=frozenset()):
        """Replace each Piecewise by the branch whose condition holds throughout the index ranges."""
        context = dict(self.ranges) if context is None else context
        if isinstance(expr, sp.Sum):
            inner = dict(context)
            inner.update({d: (lo, hi) for d, lo, hi in expr.limits})
            bound = bound | {lim[0] for lim in expr.limits}
            return sp.Sum(self.resolve_piecewise(expr.function, inner, bound), *expr.limits)
        if isinstance(expr, sp.Piecewise):
            for branch, cond in expr.args:
                verdict = self.holds(cond, context, bound)
                if verdict is True:
                    return self.resolve_piecewise(branch, context, bound)
                if verdict is None:
                    break
        if not expr.args or isinstance(expr, (sp.Indexed, sp.Symbol)):
            return expr
        return expr.func(*[self.resolve_piecewise(a, context, bound) for a in expr.args])

    # -- sums of products, with their limits ------------------------------------------------------------------
    def _terms(self, expr):
        """expr as a list of (product, limits): expr = sum of Sum(product, *limits)."""
        if isinstance(expr, sp.Add):
            return [term for a in expr.args for term in self._terms(a)]
        if isinstance(expr, sp.Sum):
            outer = {lim[0] for lim in expr.limits}
            result = []
            for prod, limits in self._terms(sp.expand(expr.function)):
                for lim in [lim for lim in limits if lim[0] in outer]:  # an inner index shadows an outer one
                    fresh = sp.Dummy(lim[0].name, **INDEX)
                    prod = prod.subs(lim[0], fresh)
                    limits = [(fresh, *x[1:]) if x is lim else x for x in limits]
                result.append((prod, limits + list(expr.limits)))
            return result
        if isinstance(expr, sp.Mul):
            result = [(sp.S.One, [])]
            for factor in expr.args:
                combined = []
                for (p1, l1), (p2, l2) in itertools.product(result, self._terms(factor)):
                    taken = {lim[0] for lim in l1} | p1.free_symbols
                    for lim in list(l2):
                        if lim[0] in taken:  # a clash of dummy names: rename the later one
                            fresh = sp.Dummy(lim[0].name, **INDEX)
                            p2 = p2.subs(lim[0], fresh)
                            l2 = [(fresh, *lim[1:]) if x is lim else x for x in l2]
                    combined.append((p1 * p2, l1 + l2))
                result = combined
            return result
        return [(expr, [])]

    def _collapse(self, prod, limits):
        """Sum a KroneckerDelta away: Sum_i KD(i, q) g(i) = g(q) when q is shown to lie in i's range."""
        changed = True
        while changed:
            changed = False
            context = dict(self.ranges)
            context.update({d: (lo, hi) for d, lo, hi in limits})
            for factor in sp.Mul.make_args(prod):
                if not isinstance(factor, sp.KroneckerDelta):
                    continue
                for d, lo, hi in limits:
                    if d not in factor.args:
                        continue
                    other = factor.args[1] if factor.args[0] == d else factor.args[0]
                    if d in other.free_symbols or any(d in (lo2, hi2) or lo2.has(d) or hi2.has(d)
                                                      for _, lo2, hi2 in limits):
                        break
                    inside = self.holds(sp.And(sp.Le(lo, other), sp.Le(other, hi)), context, {lim[0] for lim in limits})
                    if inside is True:
                        prod = (prod / factor).subs(d, other)  # subs keeps bound dummies
                        limits = [lim for lim in limits if lim[0] != d]
                        changed = True
                    break
                if changed:
                    break
        return prod, limits

    @staticmethod
    def _canonical_dummies(prod, limits):
        """Rename summation indices to canonical names, so that Sum_i g(i) and Sum_k g(k) compare equal.

        Limits are ordered by their range; indices sharing a range are tried in every
        order and the order giving the smallest printed product wins (renaming a
        bound index never changes a value, so this only decides what can cancel).
        """
        dummies = {lim[0] for lim in limits}
        if any((lo.free_symbols | hi.free_symbols) & dummies for _, lo, hi in limits):
            return sp.Sum(prod, *limits), []  # a non-rectangular sum is kept whole (never merged)
        limits = sorted(limits, key=lambda lim: (sp.default_sort_key(lim[1]), sp.default_sort_key(lim[2])))
        names = [sp.Symbol(f"_s{number}", **INDEX) for number in range(len(limits))]
        groups = [list(g) for _, g in itertools.groupby(range(len(limits)), key=lambda x: limits[x][1:])]
        best = None
        for orders in itertools.product(*[itertools.permutations(g) for g in groups]):
            order = [x for g in orders for x in g]
            mapping = {limits[old][0]: names[new] for new, old in enumerate(order)}
            renamed = prod.subs(mapping, simultaneous=True)
            if best is None or str(renamed) < str(best[0]):
                best = (renamed, [(names[new], *limits[old][1:]) for new, old in enumerate(order)])
        return best if best else (prod, [])

    def normal_form(self, expr):
        """A canonical sum of Sums: Piecewise resolved, Kronecker sums collapsed, like limits merged."""
        expr = sp.expand(self.resolve_piecewise(expr))
        groups = {}
        for prod, limits in self._terms(expr):
            prod, limits = self._canonical_dummies(*self._collapse(prod, limits))
            key = tuple(tuple(lim) for lim in limits)
            groups[key] = groups.get(key, 0) + prod
        parts = []
        for limits, total in groups.items():
            total = sp.expand(total)
            if total != 0:
                parts.append(sp.Sum(total, *limits) if limits else total)
        return sp.Add(*parts)


# -- canonical names for derivatives of generic functions ------------------------------------------------------
def _derivative_name(function, position, nargs):
    return f"{function}'" if nargs == 1 else f"{function}_{'az'[position] if nargs == 2 else position}"


def canonical_derivatives(expr):
    """Write each first derivative of an undefined function by its argument as a named function.

    f'(u) appears from SymPy either as Subs(Derivative(f(_xi), _xi), _xi, u) or as
    Derivative(f(u), u); both become the same function ``f'`` applied to u (a
    consistent renaming, so equality is unchanged).  For the cost term e(a, z) the
    derivative by a becomes ``e_a(a, z)``.

    >>> f, u = sp.Function("f"), sp.IndexedBase("y")[1]
    >>> canonical_derivatives(sp.diff(f(2 * u), u))
    2*f'(2*y[1])
    """
    def rename(d):
        inner, variables = d.expr, d.variable_count
        if len(variables) != 1 or variables[0][1] != 1 or not isinstance(inner.func, sp.core.function.UndefinedFunction):
            return d
        var = variables[0][0]
        if sum(arg.has(var) for arg in inner.args) != 1 or var not in inner.args:
            return d  # the variable must be exactly one argument, and in no other
        position = inner.args.index(var)
        return sp.Function(_derivative_name(inner.func, position, len(inner.args)))(*inner.args)

    def from_subs(s):
        if len(s.variables) != 1 or not isinstance(s.expr, sp.Derivative):
            return s
        done = rename(s.expr)
        return done.xreplace({s.variables[0]: s.point[0]}) if done is not s.expr else s

    expr = expr.replace(lambda e: isinstance(e, sp.Subs), from_subs)
    return expr.replace(lambda e: isinstance(e, sp.Derivative), rename)


def prime(function, argument):
    """f'(u), derived by SymPy (``sp.diff``) and written canonically.

    >>> prime(sp.Function("f1"), sp.IndexedBase("y")[q])
    f1'(y[q])
    """
    u = sp.Dummy("u")
    return canonical_derivatives(sp.diff(function(u), u)).xreplace({u: argument})


def cost_prime(e, a, z):
    """e_a(a, z) = d e(a, z) / d a, derived by SymPy and written canonically."""
    u = sp.Dummy("u")
    return canonical_derivatives(sp.diff(e(u, z), u)).xreplace({u: a})


def decide(proof, claims, ranges, started):
    """Finish ``proof``: for each (label, derived, claimed), reduce derived - claimed; record steps and verdict.

    The verdict is 'proved' only when every difference reduces to exactly 0; the
    index ranges the reduction needed become the condition.
    """
    reduction = Reduction(ranges)
    remainders = []
    for label, derived, claimed in claims:
        proof.steps.append((f"{label}: derived by SymPy", derived))
        proof.steps.append((f"{label}: claimed", claimed))
        rest = reduction.normal_form(derived - claimed)
        proof.steps.append((f"{label}: derived - claimed, reduced", rest))
        remainders.append(rest)
    if all(rest == 0 for rest in remainders):
        proof.condition = reduction.condition()
        proof.verdict = f"proved under condition {proof.condition}" if proof.condition else "proved"
    else:
        proof.verdict, proof.condition = "not proved", None
    proof.seconds = time.perf_counter() - started
    return proof


# -- (1) one layer, any downstream E -----------------------------------------------------------------------------
def _outer(delta, s, r, c):
    return delta[r] * s[c]


def prove_layer_gradients(claim_W=_outer):
    """dE/dW_rc = delta_r s_c, dE/db_r = delta_r and dy_i/ds_c = W_ic for sizes n x m (eq. 41, 61-66).

    E is any function of y with delta_i = dE/dy_i; the chain rule gives
    dE/dW_rc = Sum_i delta_i dy_i/dW_rc, and SymPy differentiates the Sum form of y.
    ``claim_W(delta, s, r, c)`` is the claimed entry (a wrong claim is not proved).
    """
    started = time.perf_counter()
    W, b, s, delta = (sp.IndexedBase(x) for x in ("W", "b", "s", "delta"))
    y_i = sp.Sum(W[i, j] * s[j], (j, 1, m)) + b[i]
    proof = Proof(
        "layer gradients (eq. 41, 61-66)",
        "for y_i = sum_j W_ij s_j + b_i (n x m, any n, m) and any E with delta_i = dE/dy_i: "
        "dE/dW_rc = delta_r s_c, dE/db_r = delta_r, dy_i/ds_c = W_ic",
        r"\frac{\partial E}{\partial W_{rc}} = \delta_r s_c,\ \frac{\partial E}{\partial b_r} = \delta_r,\ "
        r"\frac{\partial y}{\partial s} = W",
    )
    dy_dW = sp.diff(y_i, W[r, c])
    proof.steps += [
        ("the layer with symbolic sizes (eq. 6)", sp.Eq(sp.IndexedBase("y")[i], y_i)),
        ("dy_i/dW_rc by sp.diff (KroneckerDelta form)", dy_dW),
        ("evaluated by SymPy: the Piecewise exposes the range condition c <= m", dy_dW.doit()),
        ("chain rule for any E: dE/dW_rc = Sum_i delta_i dy_i/dW_rc, dE/db_r = Sum_i delta_i dy_i/db_r", None),
    ]
    claims = [
        ("dE/dW_rc", sp.Sum(delta[i] * dy_dW.doit(), (i, 1, n)), claim_W(delta, s, r, c)),
        ("dE/db_r", sp.Sum(delta[i] * sp.diff(y_i, b[r]), (i, 1, n)), delta[r]),
        ("dy_i/ds_c (eq. 41: dy/ds = W)", sp.diff(y_i, s[c]).doit(), W[i, c]),
        ("dE/ds_c = (W^T delta)_c", sp.Sum(delta[i] * sp.diff(y_i, s[c]), (i, 1, n)),
         sp.Sum(W[i, c] * delta[i], (i, 1, n))),
    ]
    return decide(proof, claims, {r: (1, n), c: (1, m), i: (1, n)}, started)


# -- (2) the recursion step -------------------------------------------------------------------------------------
def softmax_vector(y, size, T):
    """a_i = e^{y_i/T} / Sum_j e^{y_j/T} as a function of the index."""
    total = sp.Sum(sp.exp(y[j] / T), (j, 1, size))
    return lambda index: sp.exp(y[index] / T) / total


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


def prove_recursion(activation="elementwise", transpose=True):
    """delta^l_q = dE/dy^l_q from delta^{l+1} for ANY downstream E (eq. 57-60, 65).

    y^{l+1}_k = Sum_i W_next[k, i] a_i + b_next[k] with a = a(y) (n neurons in layer
    l, p in layer l+1); delta_next[k] = dE/dy^{l+1}_k are free symbols, so E is
    arbitrary.  Claimed: delta^l = a'(y) (.) W_next^T delta_next (element-wise, f
    generic), or J^T W_next^T delta_next with the softmax Jacobian.  With
    ``transpose=False`` the claim uses W_next instead of its transpose (wrong).
    """
    if activation not in ("elementwise", "softmax"):
        raise SymbackpropError(f"activation must be 'elementwise' or 'softmax', got {activation!r}")
    started = time.perf_counter()
    y, W_next, b_next, delta_next = (sp.IndexedBase(x) for x in ("y", "W_next", "b_next", "delta_next"))
    T = sp.Symbol("T", positive=True)
    f = sp.Function("f")
    a = (lambda index: f(y[index])) if activation == "elementwise" else softmax_vector(y, n, T)
    y_next = sp.Sum(W_next[k, i] * a(i), (i, 1, n)) + b_next[k]
    derived = sp.Sum(delta_next[k] * sp.diff(y_next, y[q]), (k, 1, p))

    def back(index):  # (W_next^T delta_next)_index, or the wrong (W_next delta_next)_index
        weight = W_next[k, index] if transpose else W_next[index, k]
        return sp.Sum(weight * delta_next[k], (k, 1, p))

    if activation == "elementwise":
        claimed = prime(f, y[q]) * back(q)
        statement = "delta^l = f'(y^l) (.) (W^{l+1})^T delta^{l+1} for any E and any element-wise f"
        latex = r"\delta^l = f'(y^l) \odot (W^{l+1})^T \delta^{l+1}"
    else:
        jacobian = a(i) * (sp.KroneckerDelta(i, q) - a(q)) / T
        claimed = sp.Sum(jacobian * back(i), (i, 1, n))
        statement = ("delta^l = J^T (W^{l+1})^T delta^{l+1}, J_iq = a_i (KroneckerDelta(i, q) - a_q)/T, "
                     "for any E (softmax layer)")
        latex = r"\delta^l = J^T (W^{l+1})^T \delta^{l+1},\ J_{iq} = a_i(\delta_{iq} - a_q)/T"
    if not transpose:
        statement += "  [WRONG CLAIM: no transpose]"
    proof = Proof(f"recursion step, {activation} (eq. 57-60, 65)", statement, latex)
    proof.steps += [
        ("layer l+1 on the activation of layer l", sp.Eq(sp.IndexedBase("y_next")[k], y_next)),
        ("chain rule with delta_next[k] = dE/dy^{l+1}_k for an arbitrary E: "
         + "delta^l_q = Sum_k delta_next[k] dy^{l+1}_k/dy^l_q", None),
    ]
    derived = canonical_derivatives(derived)
    return decide(proof, [("delta^l_q", derived, claimed)], {q: (1, n)}, started)


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

    B has beta identical columns b; E = (1/beta) Sum_t E_t where E_t depends on
    column t of Y only, and Delta[i, t] = dE_t/dY[i, t].
    """
    started = time.perf_counter()
    beta = sp.Symbol("beta", **INDEX)
    W, b, S, Delta = (sp.IndexedBase(x) for x in ("W", "b", "S", "Delta"))
    Y_it = sp.Sum(W[i, j] * S[j, t], (j, 1, m)) + b[i]  # B[i, t] = b[i] for every column t

    def grad(wrt):
        return sp.Sum(Delta[i, t] * sp.diff(Y_it, wrt), (i, 1, n), (t, 1, beta)) / beta

    claim_W = claim_W or (lambda: sp.Sum(Delta[r, t] * S[c, t], (t, 1, beta)) / beta)
    proof = Proof("batch gradients (eq. 86-90)",
                  "for Y = W S + B (B = beta copies of b) and E = (1/beta) sum_t E_t: "
                  "dE/dW = (1/beta) Delta S^T, dE/db = (1/beta) Delta 1",
                  r"\frac{\partial E}{\partial W} = \frac{1}{\beta}\Delta S^T,\ "
                  r"\frac{\partial E}{\partial b} = \frac{1}{\beta}\Delta \mathbf{1}")
    proof.steps += [("column t of the batch linearity", sp.Eq(sp.IndexedBase("Y")[i, t], Y_it)),
                    ("chain rule: E_t depends on column t only; Delta[i, t] = dE_t/dY[i, t]", None)]
    claims = [("dE/dW_rc", grad(W[r, c]), claim_W()),
              ("dE/db_r", grad(b[r]), sp.Sum(Delta[r, t], (t, 1, beta)) / beta)]
    return decide(proof, claims, {r: (1, n), c: (1, m)}, started)


# -- direct proofs at depth 1, 2, 3 --------------------------------------------------------------------------------
class ComposedNetwork:
    """The composed error of an L-layer perceptron with symbolic sizes n0..nL, as nested Sums.

    Activations f1..fL and the cost term e are undefined functions, so a proof
    holds for every activation and cost of that shape.  ``y(l, index)`` is the
    explicit nested form; ``Y(l)[index]`` is the opaque name y^l_index.
    """

    def __init__(self, L):
        if isinstance(L, bool) or not isinstance(L, int) or not 1 <= L <= 6:
            raise SymbackpropError(f"depth must be an integer from 1 to 6, got {L!r}")
        self.L = L
        self.sizes = sp.symbols(f"n0:{L + 1}", **INDEX)
        self.index = sp.symbols(f"i0:{L + 1}", **INDEX)  # the summation index of layer l's neurons
        self.W = [None] + [sp.IndexedBase(f"W{l}") for l in range(1, L + 1)]
        self.b = [None] + [sp.IndexedBase(f"b{l}") for l in range(1, L + 1)]
        self.f = [None] + [sp.Function(f"f{l}") for l in range(1, L + 1)]
        self.Y = [None] + [sp.IndexedBase(f"y{l}") for l in range(1, L + 1)]
        self.x, self.z, self.e = sp.IndexedBase("x"), sp.IndexedBase("z"), sp.Function("e")

    def s(self, l, index, opaque=False):
        """s^l_index: x for l = 0, else f_l(y^l_index)."""
        if l == 0:
            return self.x[index]
        return self.f[l](self.Y[l][index] if opaque else self.y(l, index))

    def y(self, l, index, opaque=False):
        """y^l_index = Sum_j W^l[index, j] s^{l-1}_j + b^l[index] (with opaque y^{l-1} if asked)."""
        inner = self.index[l - 1]
        return sp.Sum(self.W[l][index, inner] * self.s(l - 1, inner, opaque), (inner, 1, self.sizes[l - 1])) \
            + self.b[l][index]

    def error(self):
        L, last = self.L, self.index[self.L]
        return sp.Sum(self.e(self.s(L, last), self.z[last]), (last, 1, self.sizes[L])) / self.sizes[L]

    def opaque(self, expr):
        """Name each y^l subexpression y^l[index] (bottom-up, so inner layers first), then derivatives."""
        def is_y(e):
            if not isinstance(e, sp.Add):
                return False
            for l in range(1, self.L + 1):
                for term in e.args:
                    if isinstance(term, sp.Indexed) and term.base == self.b[l] and e == self.y(l, term.indices[0], True):
                        return True
            return False

        def name(e):
            term = next(t for t in e.args if isinstance(t, sp.Indexed) and t.base in self.b)
            return self.Y[self.b.index(term.base)][term.indices[0]]

        return canonical_derivatives(expr.replace(is_y, name))

    def delta(self, l, index, transpose=True):
        """The claimed delta^l_index: the base case at L, the recursion below (opaque names)."""
        if l == self.L:
            a = self.s(l, index, opaque=True)
            return cost_prime(self.e, a, self.z[index]) * prime(self.f[l], self.Y[l][index]) / self.sizes[l]
        nxt = self.index[l + 1]
        weight = self.W[l + 1][nxt, index] if transpose else self.W[l + 1][index, nxt]
        back = sp.Sum(weight * self.delta(l + 1, nxt, transpose), (nxt, 1, self.sizes[l + 1]))
        return prime(self.f[l], self.Y[l][index]) * back


def prove_depth(L, transpose=True, swap_outer=False):
    """Differentiate the composed E of depth L by every W^l_rc and b^l_r; compare with delta^l_r s^{l-1}_c.

    ``transpose=False`` (recursion without the transpose) and ``swap_outer=True``
    (delta_c s_r) are wrong claims, kept to show that the prover can fail.
    """
    started = time.perf_counter()
    net = ComposedNetwork(L)
    E = net.error()
    rows = sp.symbols(f"r1:{L + 1}", **INDEX)
    cols = sp.symbols(f"c1:{L + 1}", **INDEX)
    proof = Proof(f"depth {L}: composed error vs delta / outer-product form",
                  f"for the {L}-layer perceptron with sizes n0..n{L}, generic activations f1..f{L} and cost term e: "
                  "dE/dW^l_rc = delta^l_r s^{l-1}_c and dE/db^l_r = delta^l_r for every layer l",
                  r"\frac{\partial E}{\partial W^l_{rc}} = \delta^l_r s^{l-1}_c,\ "
                  r"\frac{\partial E}{\partial b^l_r} = \delta^l_r,\ " + f"l = 1..{L}")
    if not transpose or swap_outer:
        proof.statement += "  [WRONG CLAIM]"
    proof.steps.append(("the composed error (nested sums)", sp.Eq(sp.Symbol("E"), E)))
    proof.steps.append(("after sp.diff, each y^l subexpression is named y^l[index], and SymPy's Derivative/Subs "
                        + "objects of f_l and e are named f_l' and e_a (a consistent renaming)", None))
    claims, ranges = [], {}
    for l in range(1, L + 1):
        R, C = rows[l - 1], cols[l - 1]
        ranges.update({R: (1, net.sizes[l]), C: (1, net.sizes[l - 1])})
        delta_R = net.delta(l, C if swap_outer else R, transpose)
        s_C = net.s(l - 1, R if swap_outer else C, opaque=True)
        claims.append((f"dE/dW{l}[{R},{C}]", net.opaque(sp.diff(E, net.W[l][R, C])), delta_R * s_C))
        claims.append((f"dE/db{l}[{R}]", net.opaque(sp.diff(E, net.b[l][R])), net.delta(l, R, transpose)))
    return decide(proof, claims, ranges, started)


def prove_all(depths=(1, 2, 3)):
    """Every proof of this module: the generic layer, recursion, base case, batch, and direct depths.

    >>> [p.proved for p in prove_all(depths=(1,))]
    [True, True, True, True, True, True, True, True]
    """
    depths = tuple(depths)
    return [
        prove_layer_gradients(),
        prove_softmax_jacobian(),
        prove_recursion("elementwise"),
        prove_recursion("softmax"),
        prove_base_case("elementwise"),
        prove_base_case("softmax"),
        prove_batch(),
        *[prove_depth(L) for L in depths],
    ]
