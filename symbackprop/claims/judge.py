"""Verdicts: each claim against the engine's derivation, on a panel of networks or the user's network.

A claim is checked case by case: one case is a network at a point (:class:`Point`) with a value for
each free layer letter (l runs over 1..L; a layer the network lacks, l + 1 at l = L, skips the case)
and each free index (i, j run over the entries they index).  On every case both sides are evaluated
at 60 digits from the engine's derivation (:mod:`symbackprop.claims.meaning`) and compared.

* ``holds``: equal on every case (high precision, 60 digits).  A scalar identity (no network name,
  like \\sigma'(y) = \\sigma(y)(1 - \\sigma(y))) is proved for every real y by
  :func:`symbackprop.engine.zero.is_zero` (exact), or else checked at sample points.
* ``fails``: a case where the sides differ: the network, the point, both values, and the engine's
  value and form of the side it derives (the corrected statement).
* ``conditional``: equal exactly on the cases that share a named condition (element-wise layers,
  targets summing to 1, one output unit, a cost, an output/cost pair; or two of them joined by "or"),
  and different outside it; the counterexample is one outside.
* ``ill-formed``: a product, sum or comparison whose shapes do not fit, with both shapes.
* ``unread``: the grammar's or the meaning's message, with its column.
"""
import itertools
from dataclasses import asdict, dataclass, field

import sympy as sp

from symbackprop.claims.grammar import Call, Deriv, Name, Script, Unread
from symbackprop.claims.meaning import INDEX_LIMIT, IllFormed, Meaning, Ones, check_layers, is_matrix, layer_vars, mode
from symbackprop.claims.points import DIGITS, LayerOutside, NotMeaningful, Point
from symbackprop.engine.jacobians import ColumnOfMatrices
from symbackprop.engine.spec import NetworkSpec
from symbackprop.engine.zero import OutOfTime, is_zero, time_limit

HOLDS, FAILS, CONDITIONAL, ILL_FORMED, UNREAD = "holds", "fails", "conditional", "ill-formed", "unread"
SKIPPED, DEFINED = "skipped", "defined"
TOLERANCE = sp.Float(10, DIGITS) ** -45  # relative: 60 digits computed, 45 required
SCALAR_POINTS = (sp.Rational(-23, 10), sp.Rational(-7, 10), sp.Rational(2, 5), sp.Rational(19, 10),
                 sp.Rational(31, 10))
SCALAR_SECONDS = 3.0  # the exact decision of one scalar identity
EXACT_SECONDS = 5.0  # the exact proof of one network claim (--exact)
EXACT_PARAMETERS = 20  # the largest network a network claim is proved on (--exact)

#: The fixed panel: element-wise and softmax layers, every cost, a batch, targets summing to 1 or not.
PANEL = (
    (("2,5,4,3", "sigmoid,tanh,sigmoid", "mse", None), False),
    (("3,4,3", "tanh,softmax", "cross_entropy", None), True),
    (("3,4,3", "tanh,softmax", "cross_entropy", None), False),
    (("2,3,1", "relu,sigmoid", "bce", None), False),
    (("3,2,2", "softplus,tanh", "mae", None), False),
    (("4,2,3", "tanh,sigmoid", "mse", 5), False),
    (("2,2,1", "tanh,sigmoid", "mse", None), False),
)


@dataclass
class ClaimResult:
    """One claim's verdict and its evidence (``to_dict`` is the JSON row)."""

    line: int
    latex: str
    verdict: str
    evidence: str = ""
    method: str | None = None  # holds: "exact" or "high precision"
    counterexample: dict | None = None
    condition: str | None = None
    corrected: str | None = None
    column: int | None = None  # unread: where in the claim
    networks: list = field(default_factory=list)
    definition: bool = False
    end: int | None = field(default=None, repr=False)  # offset in the document after the claim's display
    row_end: int | None = field(default=None, repr=False)  # offset where the claim's row of the display ends
    env: str = field(default="", repr=False)  # the display's environment (extract.Display.env)

    def to_dict(self):
        row = asdict(self)
        for private in ("end", "row_end", "env"):
            row.pop(private)
        return row

    @property
    def failed(self):
        return self.verdict in (FAILS, ILL_FORMED)


def panel_points(seed=0):
    """The panel's points (built once per process and seed)."""
    key = seed
    if key not in _PANELS:
        _PANELS[key] = [Point(NetworkSpec.from_options(*spec), seed, one) for spec, one in PANEL]
    return _PANELS[key]


_PANELS = {}


def spec_points(spec, seed=0, targets=None):
    """The user's network at a point; with several outputs also at targets that sum to 1."""
    if targets == "sum1":
        return [Point(spec, seed, True)]
    points = [Point(spec, seed, False)]
    if spec.sizes[-1] > 1 and targets is None:
        points.append(Point(spec, seed, True))
    return points


# -- one equation ------------------------------------------------------------------------------------
def judge(eq, points, definitions=None, exact=False):
    """The verdict of one equation (a grammar Eq) on the points: a dict of ClaimResult's fields.

    ``exact``: a claim that holds is also tried for every value of the weights, inputs and targets of the
    smallest network it holds on (symbols for numbers, :func:`symbackprop.engine.zero.is_zero`).
    """
    kind = mode(eq)
    if kind == "scalar":
        return judge_scalar(eq, definitions)
    letters = sorted(layer_vars(eq))
    outcomes = []  # (point, bindings, None | (left, right) | message)
    for point in points:
        for layer_values in itertools.product(range(1, point.L + 1), repeat=len(letters)):
            bindings = dict(zip(letters, layer_values))
            try:
                outcome = _case(eq, point, bindings, kind == "batch", definitions)
            except LayerOutside:
                continue
            except IllFormed as exc:
                where = _where(point, bindings)
                return {"verdict": ILL_FORMED, "evidence": f"{exc} ({where})", "networks": [point.describe()]}
            outcomes.append((point, bindings, outcome))
    if not outcomes:
        return {"verdict": UNREAD, "evidence": "no layer of any network gives the claim a meaning "
                "(a layer letter out of range everywhere)"}
    networks = sorted({p.describe() for p, _, _ in outcomes})
    good = [o for o in outcomes if o[2] is None]
    bad = [o for o in outcomes if o[2] is not None]
    cases = f"{len(outcomes)} case(s) on {len(networks)} network(s)"
    proved = _exact(eq, outcomes, kind == "batch", definitions) if exact and not bad else None
    if proved:
        return {"verdict": HOLDS, "method": "exact", "networks": networks,
                "evidence": f"proved for every value of the weights, inputs and targets of {proved} (both sides' "
                            f"difference reduces to 0, symbackprop.engine.zero); on the panel, both sides agree to "
                            f"{DIGITS - 15}+ digits on every case: {cases}"}
    if not bad:
        return {"verdict": HOLDS, "method": "high precision",
                "evidence": f"both sides agree to {DIGITS - 15}+ digits on every case: {cases}, each at a random "
                            f"rational point, every free index", "networks": networks}
    counter = _counterexample(eq, *bad[0], batch=kind == "batch")
    condition = _condition(good, bad)
    if condition:
        return {"verdict": CONDITIONAL, "condition": condition, "networks": networks,
                "evidence": f"holds on the {len(good)} case(s) where {condition}; fails on {len(bad)} outside it",
                "counterexample": counter, "corrected": counter.pop("corrected", None)}
    return {"verdict": FAILS, "networks": networks, "counterexample": counter,
            "corrected": counter.pop("corrected", None),
            "evidence": f"the sides differ on {len(bad)} of {cases}" + (f"; they agree on {len(good)}" if good else "")}


def _where(point, bindings):
    return point.describe() + "".join(f", {k} = {v}" for k, v in bindings.items())


def _exact(eq, outcomes, batch, definitions):
    """The description of the network on which the claim is proved for every value of its symbols, or None."""
    smallest = min((p for p, _, _ in outcomes if not p.targets_sum_to_one), key=lambda p: p.spec.n_params,
                   default=None)
    if smallest is None or smallest.spec.n_params > EXACT_PARAMETERS:
        return None
    key = smallest.spec.describe()
    if key not in _EXACT_POINTS:
        _EXACT_POINTS[key] = Point(smallest.spec, exact=True)
    point = _EXACT_POINTS[key]
    try:
        with time_limit(EXACT_SECONDS) as budget:
            for p, bindings, _ in outcomes:
                if p is smallest and _case(eq, point, bindings, batch, definitions, _equal_exact) is not None:
                    return None
    except OutOfTime as exc:
        if exc.args != (budget,):
            raise
        return None
    return f"{point.spec.describe()}" + (f" with a batch of {point.beta}" if batch else "")


_EXACT_POINTS = {}


def _equal_exact(m, left, right):
    """Both sides reduce to the same formula (entry by entry, within the enclosing time limit)."""
    if isinstance(left, ColumnOfMatrices) and isinstance(right, ColumnOfMatrices):
        return all(_equal_exact(m, a, b) for a, b in zip(left, right))
    if is_matrix(left) and left.shape == (1, 1) and not is_matrix(right):
        left = left[0, 0]
    if is_matrix(right) and right.shape == (1, 1) and not is_matrix(left):
        right = right[0, 0]
    if is_matrix(left) != is_matrix(right) or (is_matrix(left) and left.shape != right.shape):
        return False
    difference = (sp.Matrix(left) - sp.Matrix(right)) if is_matrix(left) else sp.sympify(left - right)
    return is_zero(difference, seconds=None, rewrite=False)  # atomize and cancel: a decision, never a search


def _case(eq, point, bindings, batch, definitions, equal=None):
    """None when both sides agree on this case, else (left, right, message, index bindings) of the first miss."""
    probe = Meaning(point, bindings, batch, definitions=definitions)
    check_layers(eq, probe)
    try:
        probe.value(eq.left)
        probe.value(eq.right)
    except NotMeaningful as exc:
        return {"message": str(exc), "bindings": dict(bindings)}
    ranges = {}
    for letter, sizes in probe.probes.items():
        if len(sizes) > 1:
            names = point.dimension_names(batch)
            raise IllFormed(f"index {letter} runs over {' and over '.join(f'{names.get(n, n)} ({n})' for n in sorted(sizes))}"
                            f" entries in different places: the indices do not match the shapes")
        ranges[letter] = range(1, sizes.pop() + 1)
    combos = list(itertools.product(*ranges.values()))
    if len(combos) > INDEX_LIMIT:
        combos = combos[:: len(combos) // INDEX_LIMIT + 1] + [combos[-1]]
    for combo in combos:
        full = {**bindings, **dict(zip(ranges, combo))}
        m = Meaning(point, full, batch, definitions=definitions)
        try:
            left, right = m.value(eq.left), m.value(eq.right)
        except NotMeaningful as exc:
            return {"message": str(exc), "bindings": full}
        if not (equal or _equal)(m, left, right):
            return {"left": left, "right": right, "bindings": full}
    return None


def _equal(m, left, right):
    """Equal to 45 digits, entry by entry; different shapes are ill-formed."""
    if isinstance(left, ColumnOfMatrices) or isinstance(right, ColumnOfMatrices):
        if not (isinstance(left, ColumnOfMatrices) and isinstance(right, ColumnOfMatrices)) or left.n != right.n:
            raise IllFormed("one side is the column of matrices dy/dW and the other is not")
        return all(_equal(m, a, b) for a, b in zip(left, right))
    if isinstance(left, Ones) or isinstance(right, Ones):
        raise Unread("a side that is only the vector of ones has no length")
    if is_matrix(left) and left.shape == (1, 1) and not is_matrix(right):
        left = left[0, 0]
    if is_matrix(right) and right.shape == (1, 1) and not is_matrix(left):
        right = right[0, 0]
    if is_matrix(left) != is_matrix(right) or (is_matrix(left) and left.shape != right.shape):
        raise IllFormed(f"the left side is {m.shape_text(left)}, the right side {m.shape_text(right)}")
    pairs = zip(left, right) if is_matrix(left) else [(left, right)]
    for a, b in pairs:
        a, b = sp.N(a, DIGITS), sp.N(b, DIGITS)
        if not (a.is_number and b.is_number):
            raise Unread(f"a side did not reduce to a number ({a}); a name is missing its meaning")
        if a.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or b.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            return False
        if abs(a - b) > TOLERANCE * max(1, abs(a), abs(b)):
            return False
    return True


def _short(v):
    if isinstance(v, ColumnOfMatrices):
        return "the column of matrices [" + "; ".join(_short(e) for e in v) + "]"
    if is_matrix(v):
        rows = ["[" + ", ".join(_short(x) for x in v.row(i)) + "]" for i in range(v.rows)]
        return "[" + ", ".join(rows) + "]" if v.rows > 1 else rows[0]
    v = sp.N(v, 8)
    return str(v) if v.is_number else sp.sstr(v)


def _counterexample(eq, point, bindings, outcome, batch=False):
    where = {"network": point.describe(), "point": point.point_text(batch),
             "bindings": {k: int(v) for k, v in outcome.get("bindings", bindings).items()}}
    if "message" in outcome:
        where["message"] = outcome["message"]
        return where
    where["left"], where["right"] = _short(outcome["left"]), _short(outcome["right"])
    where["corrected"] = _corrected(eq, point, outcome)
    return where


def _corrected(eq, point, outcome):
    """The engine's statement of the side it derives: its form (l as in the case) and value."""
    from symbackprop.engine import forms
    from symbackprop.latex.forms import form_latex

    for node, value in ((eq.left, outcome["left"]), (eq.right, outcome["right"])):
        m = Meaning(point, outcome["bindings"])
        try:
            if isinstance(node, Script) and isinstance(node.base, Name) and node.base.name in ("delta", "Delta") \
                    and not node.sub:
                l = m.integer(node.sup, "layer")
                form = point.derivation[l].delta_form
                if node.base.name == "delta":
                    form = form.xreplace({forms.BETA: 1})
                text = form_latex(form)
            elif isinstance(node, Deriv) and node.num == Name("E") and isinstance(node.den, Script) \
                    and node.den.base in (Name("W"), Name("b")) and not node.den.sub:
                l = m.integer(node.den.sup, "layer")
                text = form_latex(point.derivation[l].gradient_forms[0 if node.den.base == Name("W") else 1])
            elif isinstance(node, Deriv) and node.num == Name("E") and isinstance(node.den, Script) \
                    and node.den.base == Name("a") and m.integer(node.den.sup, "layer") == point.L:
                from symbackprop.engine.simplify import N

                cost = point.network.cost  # dE/da_i = e'(a_i, z_i) / n, the cost's derived derivative
                text = rf"\frac{{\partial E}}{{\partial a_i}} = {sp.latex(cost.derivative / N)}" + \
                    r" \text{ at } a = a^{L}_{i},\ z = z_{i}"
            elif isinstance(node, Deriv) or isinstance(node, Script) and node.base in (Name("delta"), Name("Delta")):
                text = None
            else:
                continue
        except (Unread, LayerOutside, NotMeaningful, IllFormed, TypeError, ValueError, KeyError):
            # the corrected form is a help, never a reason to fail
            text = None
        shown = f"the engine's value: {_short(value)}"
        return f"{text}  ({shown})" if text else shown
    return None


def _condition(good, bad):
    """A named condition true on every agreeing case and false on every failing one (or two joined by or)."""
    def features(case):
        point, bindings, _ = case
        l = next(iter(bindings.values())) if len(bindings) == 1 else None
        return set(point.features(l))

    good_sets, bad_sets = [features(c) for c in good], [features(c) for c in bad]
    if not good_sets:
        return None
    names = []
    for case in good:  # in the points' order of preference
        names += [f for f in case[0].features(next(iter(case[1].values())) if len(case[1]) == 1 else None)
                  if f not in names]
    for f in names:
        if all(f in g for g in good_sets) and not any(f in b for b in bad_sets):
            return f
    for f, g in itertools.combinations(names, 2):
        if all(f in s or g in s for s in good_sets) and not any(f in s or g in s for s in bad_sets):
            return f"{f}, or {g}"
    return None


# -- scalar identities ---------------------------------------------------------------------------------
def judge_scalar(eq, definitions=None):
    """A claim with no network name: its letters are real variables; exact proof, else sample points.
    Literal matrices (\\begin{pmatrix}...) are compared entry by entry."""
    variables = {}
    m = Meaning(None, variables=variables, definitions=definitions)
    left, right = m.value(eq.left), m.value(eq.right)
    if is_matrix(left) or is_matrix(right):
        shapes = [v.shape if is_matrix(v) else "a number" for v in (left, right)]
        if shapes[0] != shapes[1]:
            raise IllFormed(f"the left side is {shapes[0]}, the right side {shapes[1]}")
        left, right = sp.Matrix(left), sp.Matrix(right)
        difference = left - right
    else:
        difference = sp.sympify(left - right)
    symbols = sorted(sp.sympify(left).free_symbols | sp.sympify(right).free_symbols, key=str)
    split = symbols[0] if len(symbols) == 1 else None
    entries = list(difference) if is_matrix(difference) else [difference]
    for values in itertools.product(SCALAR_POINTS, repeat=len(symbols)):
        at = dict(zip(symbols, values))
        ds = [sp.N(d.xreplace(at), DIGITS) for d in entries]
        l, r = sp.N(sp.sympify(left).xreplace(at), 12), sp.N(sp.sympify(right).xreplace(at), 12)
        scale = max([1, *(abs(v) for v in (list(l) + list(r) if is_matrix(l) else [l, r]))])
        if any(not d.is_number or d.has(sp.nan, sp.zoo) or abs(d) > TOLERANCE * scale for d in ds):
            point = ", ".join(f"{k} = {v}" for k, v in at.items()) or "(no variables)"
            # a side that is an activation's derivative (\sigma'(y), \tanh'(y), a'(y)) is the engine's derived one
            derived = [side for node, side in ((eq.left, left), (eq.right, right))
                       if isinstance(node, Call) and node.primes and not is_matrix(side)]
            return {"verdict": FAILS, "evidence": "the two sides differ at a real point",
                    "corrected": sp.latex(derived[0]) if derived else None,
                    "counterexample": {"network": None, "point": point,
                                       "left": str(l.tolist() if is_matrix(l) else l),
                                       "right": str(r.tolist() if is_matrix(r) else r)}}
    if all(is_zero(d, seconds=SCALAR_SECONDS, split=split) for d in entries):
        return {"verdict": HOLDS, "method": "exact",
                "evidence": "the difference of the sides reduces to 0 for every real value of "
                            f"{', '.join(map(str, symbols)) or 'the constants'} (symbackprop.engine.zero)"}
    return {"verdict": HOLDS, "method": "high precision",
            "evidence": f"equal to 45 digits at {len(SCALAR_POINTS) ** len(symbols)} sample points; "
                        f"not proved exactly within {SCALAR_SECONDS:g} s"}
