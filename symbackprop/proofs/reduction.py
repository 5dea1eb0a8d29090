"""Deciding "derived - claimed = 0" for sums of Indexed terms whose sizes are symbols.

SymPy's ``simplify`` does not canonicalise nested ``Sum``s with ``KroneckerDelta``s,
and a ``Piecewise`` with ``c <= m`` never goes away on its own.  :class:`Reduction`
takes only sound steps:

* a ``Piecewise`` branch is taken only when its condition holds for *every*
  index in its range (checked at the corners of the index box, exact for the
  linear conditions that summation produces);
* ``Sum_{i=lo}^{hi} KroneckerDelta(i, q) g(i)`` becomes ``g(q)`` only when
  lo <= q <= hi is shown; the ranges needed for free indices (1 <= r <= n, ...)
  become the proof's condition;
* sums over the same (rectangular) limits are merged and their integrands
  expanded; a claim is proved only when every merged integrand expands to 0.

The index symbols and the sizes n, m, p shared by the proofs are defined here.
"""
import itertools

import sympy as sp

INDEX = {"integer": True, "positive": True}
n, m, p = sp.symbols("n m p", **INDEX)
i, j, k, q, r, c, t = sp.symbols("i j k q r c t", **INDEX)


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


