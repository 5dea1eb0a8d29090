"""Does this expression reduce to 0?  The one decider every "proved equal" in symbackprop asks.

Verification (the three forms of every gradient), the emitter (each stable rewrite against the
formula it replaces) and the book audit (a claimed formula against the derived one) all end in
the same question: is ``left - right`` identically 0?  :func:`is_zero` answers it with up to
three strategies, tried in order under one time budget:

1. **atomize** (:func:`atomize`, :func:`reduces_to_zero`): every function application
   (exp, tanh, log, sign, abs, a fractional power, ...) is replaced by a fresh symbol, one per
   distinct call, and every Piecewise by its branches times indicator symbols; what is left is a
   rational function of free symbols, and SymPy decides whether *that* is 0 by expanding and
   cancelling, a decision procedure for polynomials.
2. **rewrite**: ``sp.simplify`` of the expression, of its ``rewrite(exp)`` and of its
   ``rewrite(log)`` (catches identities between functions, like sigmoid = (1 + tanh(y/2))/2,
   that atomizing keeps apart).
3. **split** (only when asked, ``split=y``): the cases y > 0, y < 0 and y = 0, each by 1 and 2;
   a formula with kinks (max, Heaviside, Piecewise) is usually smooth on each side.

Why a True can be trusted (the decider can fail to prove; it never proves falsely):

* Atomizing only forgets: two calls get the same symbol only when they are the same call
  (same function, syntactically equal expanded argument), and a call's value depends only on
  its argument.  The symmetries used are identities for every argument: exp(u + v) = exp(u)
  exp(v) (and exp(c u) = exp(u)^c for rational c, and exp(u) > 0, used only for real u),
  f(-u) = -f(u) for odd f, f(-u) = f(u) for even f.  An indicator stands for a 0/1 value, so
  I^k = I is exact.  A rational function that cancels to 0 *as a function of free symbols* is 0
  for every value the symbols stand for, in particular for the real calls; so the original
  expression is 0 wherever it is defined.  Two calls that are equal but written differently get
  different symbols: then the cancellation fails and the answer is "not proved", never "equal".
* The rewrites are SymPy's: each is an identity wherever the expression is defined.  simplify is
  not a decision procedure, so it too can only fail to find the 0.
* The split covers the real line exactly (y = p, y = -p with p > 0, and y = 0).
* Out of time (the budget, ``seconds``) is "not proved".

So ``is_zero(e)`` is False both for "e is not 0" and for "no proof found": callers that need
"differs" must show a point where it differs.

>>> import sympy as sp
>>> y = sp.Symbol("y", real=True)
>>> is_zero(sp.tanh(y) - (sp.exp(y) - sp.exp(-y)) / (sp.exp(y) + sp.exp(-y)))
True
>>> is_zero(1 / (1 + sp.exp(-y)) - (1 + sp.tanh(y / 2)) / 2)  # needs the rewrite strategy
True
>>> is_zero(sp.Piecewise((1, y > 0), (0, True)) - sp.Heaviside(y, 0), split=y)  # needs the split
True
>>> is_zero(sp.Piecewise((1, y > 0), (0, True)) - sp.Heaviside(y, 1), split=y)  # differs at y = 0
False
"""
import contextlib
import signal
import threading
import time

import sympy as sp

#: CPU seconds one :func:`is_zero` may take, all strategies together (then: not proved).
SECONDS = 5.0

_ODD = {sp.sign, sp.tanh, sp.sinh, sp.sin, sp.tan, sp.atan, sp.erf, sp.asinh}
_EVEN = {sp.Abs, sp.cosh, sp.cos}


class OutOfTime(Exception):
    """Raised inside a :func:`time_limit` block when its budget runs out."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise :class:`OutOfTime` in the block after ``seconds`` of CPU time; yields the budget's token.

    The budget counts this process's CPU seconds (``ITIMER_PROF``), not the wall clock: what SymPy proves
    within it is then the same on an idle machine and on a busy one (with wall time, a proof that takes
    3.5 s under load ran out, and the emitter silently printed a form without its tails).  A runaway SymPy
    step burns CPU, so it is still stopped.  The alarm is a signal, so the limit applies in the main thread
    only (elsewhere the block runs unlimited).  Limits nest: when an enclosing limit is due first, it is left
    alone to fire; otherwise it is paused and re-armed, with the time spent here deducted, when the block ends.

    >>> import time
    >>> with time_limit(0.05):
    ...     time.sleep(0.1)  # waiting costs no CPU
    >>> try:
    ...     with time_limit(0.05):
    ...         while True:
    ...             pass
    ... except OutOfTime:
    ...     print("out of time")
    out of time
    """
    token = object()
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield token
        return
    outer, _ = signal.getitimer(signal.ITIMER_PROF)
    if outer and outer <= seconds:
        yield token  # the enclosing limit fires first
        return

    def alarm(signum, frame):
        raise OutOfTime(token)

    started = time.process_time()
    previous = signal.signal(signal.SIGPROF, alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield token
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if outer:
            signal.setitimer(signal.ITIMER_PROF, max(outer - (time.process_time() - started), 1e-3))


def atomize(expr, table):
    """Replace every function application by a symbol, bottom-up, one symbol per distinct call.

    ``exp(u)``, ``tanh(u)``, ``log(u)``, ``sign(u)`` ... become symbols keyed on the call with its
    argument expanded, and each Piecewise((e1, c1), (e2, c2), ..., (ek, True)) becomes
    e1*I1 + e2*(1-I1)*I2 + ... with an indicator symbol per condition.  ``table`` (a dict, call ->
    symbol) is shared by every expression that must use the same symbols.

    >>> import sympy as sp
    >>> y = sp.Symbol("y", real=True)
    >>> table = {}
    >>> atomize(sp.exp(2 * y) * sp.log(y + 1) - sp.exp(-y), table)
    _f0**2*_f1 - 1/_f0
    >>> sorted(map(str, table))
    ['exp(y)', 'log(y + 1)']
    """
    def atom(e):
        """The symbol for the call e, with odd/even symmetry and exp(u + v) = exp(u) exp(v) applied."""
        arg = sp.expand(e.args[0]) if e.args else None
        if e.func == sp.exp:  # exp(sum c_k m_k) -> prod atom(exp(m_k))^c_k
            out = sp.Integer(1)
            for term in sp.Add.make_args(arg):
                c, m = term.as_coeff_Mul()
                if not (c.is_Integer or m.is_extended_real):  # exp(c m) = exp(m)^c needs exp(m) > 0
                    c, m = sp.Integer(1), term
                positive = bool(m.is_extended_real)  # exp of a real is positive; of a complex, anything
                out *= table.setdefault(sp.exp(m), sp.Dummy(f"f{len(table)}", positive=positive or None)) ** c
            return out
        sign = 1
        if len(e.args) == 1 and e.func in _ODD | _EVEN:
            flipped = sp.expand(-arg)
            if sp.default_sort_key(flipped) < sp.default_sort_key(arg):
                arg, sign = flipped, (-1 if e.func in _ODD else 1)
        key = e.func(arg) if len(e.args) == 1 else e.func(*[sp.expand(a) for a in e.args])
        return sign * table.setdefault(key, sp.Dummy(f"f{len(table)}"))

    def piecewise(pw):
        total, outside = sp.Integer(0), sp.Integer(1)
        for e, c in pw.args:
            if c == sp.true:
                return total + outside * e
            c = c.func(sp.expand(c.lhs - c.rhs), 0) if isinstance(c, sp.core.relational.Relational) else c
            ind = table.setdefault(c, sp.Dummy(f"I{len(table)}"))
            total += outside * ind * e
            outside *= 1 - ind
        return total

    def is_call(e):
        return isinstance(e, (sp.Function, sp.Abs)) and not isinstance(e, sp.Piecewise) or \
            (e.is_Pow and not e.exp.is_Integer)

    expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), piecewise)
    return expr.replace(is_call, atom)


def reduces_to_zero(expr, table=None):
    """Strategy 1 alone: the atomized ``expr`` cancels to 0 (no time limit of its own).

    >>> import sympy as sp
    >>> y = sp.Symbol("y", real=True)
    >>> reduces_to_zero(sp.exp(y) * sp.exp(-y) - 1), reduces_to_zero(sp.exp(y) - 1)
    (True, False)
    """
    if expr == 0:
        return True
    table = {} if table is None else table
    atomized = atomize(expr, table)
    indicators = {v for k, v in table.items() if isinstance(k, sp.core.relational.Relational)}
    # over one denominator first: expanding a sum of fractions before `together` can multiply out every
    # denominator against every term (minutes for a 3-2-2 sigmoid network), over one it takes milliseconds
    numerator = sp.expand(sp.fraction(sp.together(atomized))[0])
    if indicators:
        numerator = sp.expand(numerator.replace(lambda e: e.is_Pow and e.base in indicators, lambda e: e.base))
    if numerator == 0:
        return True
    reduced = sp.expand(atomized)
    if reduced == 0:
        return True
    if indicators:  # I**k = I for an indicator
        reduced = sp.expand(reduced.replace(lambda e: e.is_Pow and e.base in indicators, lambda e: e.base))
        if reduced == 0:
            return True
    numerator, _ = sp.fraction(sp.together(reduced))
    return sp.expand(numerator) == 0


def _rewrites_to_zero(expr):
    """Strategy 2: simplify finds 0 in the expression, or in its exp or log rewrite."""
    return any(sp.simplify(form) == 0 for form in (expr, expr.rewrite(sp.exp), expr.rewrite(sp.log)))


_KINKS = (sp.Abs, sp.sign, sp.Piecewise, sp.Heaviside, sp.Max, sp.Min)


def _decide(expr, table, rewrite, split):
    if reduces_to_zero(expr, table):
        return True
    if split is not None and split in expr.free_symbols and expr.has(*_KINKS):
        # a kink in the split symbol: on each side it is gone and the cheap strategy usually settles it,
        # long before simplify has finished with the whole
        p = sp.Dummy("p", positive=True)
        if all(reduces_to_zero(expr.xreplace({split: v}), table) for v in (p, -p, sp.Integer(0))):
            return True
    if rewrite and _rewrites_to_zero(expr):
        return True
    if split is None or split not in expr.free_symbols:
        return False
    p = sp.Dummy("p", positive=True)
    return all(_decide(expr.xreplace({split: v}), table, rewrite, None) for v in (p, -p, sp.Integer(0)))


def is_zero(expr, *, table=None, seconds=SECONDS, rewrite=True, split=None):
    """True when ``expr`` (an expression, or a matrix: every entry) is proved identically 0.

    ``table`` shares the atoms' symbols across calls (see :func:`atomize`); ``seconds`` bounds the
    whole decision (None: no limit of its own); ``rewrite=False`` keeps to strategy 1; ``split``
    is a real symbol whose sign cases are tried when the whole fails.  False means "not proved".
    """
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [sp.sympify(expr, strict=True)]
    table = {} if table is None else table
    try:
        with time_limit(seconds) as budget:
            return all(_decide(e, table, rewrite, split) for e in entries)
    except OutOfTime as exc:
        if exc.args != (budget,):
            raise  # an enclosing budget ran out: it is the enclosing caller's to handle
        return False


def equal(left, right, **options):
    """``is_zero(left - right, **options)``: the two formulas are proved equal."""
    return is_zero(left - right, **options)
