"""Evaluate the derivation's matrix forms at high precision, at any width.

One Python object per weight does not scale (the 2000-2000-10 network has four million weights).
So the evaluation point is chosen to make the linear algebra exact and cheap:

* weights are *dyadic* numbers w = k / 2^p with small integers k (:class:`Dyadic`), stored once as a
  float64 array that holds those integers exactly;
* signals, linearities and deltas are mpmath numbers of F + 64 bits, F about 3.3 bits per decimal digit
  asked for (:class:`Fixed`): one number per entry of a layer, never per weight;
* a product W V is computed exactly: V is put on one fixed-point grid k 2^e (e from its largest entry),
  the integers k are cut into 16-bit limbs, BLAS multiplies the integer matrix W by the limbs in float64
  (every partial sum stays below 2^53, so no rounding happens), and the limbs are put back together as
  Python integers.  Only the conversion back to mpmath numbers rounds;
* element-wise formulas (a'(y), the output delta, the cost) are the engine's SymPy expressions,
  lambdified for mpmath and applied entry by entry at F + 64 bits.

>>> import sympy as sp
>>> W = Dyadic.from_float(np.array([[0.5, -0.25], [1.0, 2.0]]))
>>> x = Fixed.from_values([[1], [3]], 80)
>>> [float(v) for v in (W @ x).to_mpf().flat]
[-0.25, 7.0]
>>> ev = Evaluator({sp.MatrixSymbol("W", 2, 2): W, sp.MatrixSymbol("x", 2, 1): x}, 80)
>>> [float(v) for v in ev.value(sp.MatrixSymbol("W", 2, 2).T * sp.MatrixSymbol("x", 2, 1)).to_mpf().flat]
[3.5, 5.75]
"""
import itertools
from fractions import Fraction
from functools import cache

import mpmath
import numpy as np
import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix

from symbackprop.engine.forms import Elementwise


class Fixed:
    """A matrix of high-precision numbers (mpmath, ``F`` bits), one object per entry of a layer.

    Sums and products round at F + 64 bits; a product with a :class:`Dyadic` weight matrix is exact
    before that rounding (see the module docstring).  The name recalls that a weight product puts the
    vector on one fixed-point grid, chosen from its largest entry.
    """

    __slots__ = ("F", "v")

    def __init__(self, v, F):
        self.v, self.F = v, F

    @property
    def shape(self):
        return self.v.shape

    @classmethod
    def from_values(cls, rows, F):
        """From numbers (ints, floats, Fractions, mpf), rounded to F + 64 bits."""
        arr = np.empty(np.shape(rows), dtype=object)
        with mpmath.workprec(F + 64):
            for idx, value in np.ndenumerate(np.asarray(rows, dtype=object)):
                arr[idx] = to_mpf(value)
        return cls(arr, F)

    def to_mpf(self):
        """The entries as mpmath numbers."""
        return self.v

    def at(self, F):
        """The same numbers, computed on at another precision."""
        return Fixed(self.v, F)

    @property
    def T(self):
        return Fixed(self.v.T, self.F)

    def _op(self, fn):
        with mpmath.workprec(self.F + 64):
            return Fixed(fn(), self.F)

    def __add__(self, other):
        return self._op(lambda: self.v + other.v)

    def __sub__(self, other):
        return self._op(lambda: self.v - other.v)

    def __neg__(self):
        return self._op(lambda: -self.v)

    def hadamard(self, other):
        return self._op(lambda: self.v * other.v)

    def times(self, number):
        """Times a rational number."""
        q = Fraction(int(number.p), int(number.q)) if isinstance(number, sp.Rational) else Fraction(number)
        return self._op(lambda: self.v * mpmath.mpf(q.numerator) / q.denominator)

    def matmul(self, other):
        """Fixed times Fixed: on integers when both fit one grid each without loss (:func:`grid_product`), else
        the object-array product of mpf numbers."""
        product = grid_product(self, other)
        return Fixed(product, self.F) if product is not None else self._op(lambda: np.dot(self.v, other.v))

    def grid(self):
        """(integers k, exponent e) with v = k 2^e: the whole matrix on the fixed-point grid of its largest entry."""
        # the top bit of the largest entry, read off each mpf's (sign, mantissa, exponent, bit count)
        top = max((x._mpf_[2] + x._mpf_[3] for x in self.v.flat if x._mpf_[1]), default=0)
        e = top - (self.F + 64)
        ints = np.empty(self.shape, dtype=object)
        for idx, x in np.ndenumerate(self.v):
            ints[idx] = _on_grid(x, e)
        return ints, e

    def __repr__(self):
        return f"Fixed({self.shape[0]}x{self.shape[1]}, {self.F} bits)"


class Dyadic:
    """A weight matrix k / 2^p with integers k, held as float64 (exact)."""

    __slots__ = ("_fixed", "k", "p")

    def __init__(self, k, p):
        self.k, self.p = k, p
        self._fixed = {}

    @classmethod
    def from_float(cls, values, p=None):
        """float64 values that are multiples of 2^-p (p found when not given)."""
        values = np.asarray(values, dtype=float)
        if p is None:
            p = 0
            while np.any(values * 2.0 ** p != np.round(values * 2.0 ** p)):
                p += 1
        k = values * 2.0 ** p
        if np.abs(k).max(initial=0) >= 2 ** 53:
            raise ValueError("dyadic numbers need |k| < 2^53")
        return cls(k, p)

    @property
    def shape(self):
        return self.k.shape

    @property
    def values(self):
        return self.k * 2.0 ** -self.p

    @property
    def T(self):
        return Dyadic(self.k.T, self.p)

    def __matmul__(self, x):
        """W x, exact before one rounding (see the module docstring)."""
        ints, e = x.grid()
        product = _exact_product(self.k, ints)
        prec, make, from_man_exp = x.F + 64, mpmath.mp.make_mpf, mpmath.libmp.from_man_exp
        out = np.empty(product.shape, dtype=object)
        for idx, k in np.ndenumerate(product):
            out[idx] = make(from_man_exp(int(k), e - self.p, prec, "n"))
        return Fixed(out, x.F)

    def fixed(self, F):
        """The same numbers as a Fixed matrix (converted once per precision)."""
        if F not in self._fixed:
            make, from_man_exp = mpmath.mp.make_mpf, mpmath.libmp.from_man_exp
            out = np.empty(self.shape, dtype=object)
            for idx, k in np.ndenumerate(self.k):
                out[idx] = make(from_man_exp(int(k), -self.p))
            self._fixed[F] = Fixed(out, F)
        return self._fixed[F]


def grid_product(a, b):
    """a @ b for Fixed a, b, exactly on integers then rounded once to F + 64 bits -- or None when some nonzero
    entry would keep fewer than F bits on its matrix's grid (a row of 1e-300 beside rows of order 1: the mpf
    product keeps each entry's own precision there, a grid would not).  Several times faster than the
    object-array product of mpf numbers.

    >>> a = Fixed.from_values([[0.5, -3]], 80)
    >>> [float(v) for v in grid_product(a, Fixed.from_values([[2], [1]], 80)).flat]
    [-2.0]
    >>> grid_product(a, Fixed.from_values([[2], [Fraction(1, 10 ** 300)]], 80)) is None
    True
    """
    (ka, ea), (kb, eb) = a.grid(), b.grid()
    pairs = itertools.chain(zip(ka.flat, a.v.flat), zip(kb.flat, b.v.flat))
    if not all(abs(k).bit_length() >= a.F or not x for k, x in pairs):  # a nonzero entry keeps F bits
        return None
    product = np.dot(ka, kb)  # Python integers: no rounding
    make, from_man_exp, prec = mpmath.mp.make_mpf, mpmath.libmp.from_man_exp, a.F + 64
    out = np.empty(product.shape, dtype=object)
    for idx, k in np.ndenumerate(product):
        out[idx] = make(from_man_exp(int(k), ea + eb, prec, "n"))
    return out


def exact_mpf(man, exp):
    """man 2^exp as an mpmath number with every bit kept (whatever the working precision)."""
    return mpmath.mp.make_mpf(mpmath.libmp.from_man_exp(int(man), exp))


def _on_grid(x, e):
    """round(x / 2^e) as an integer, from x's own mantissa and exponent (no rounding but the last)."""
    sign, man, exp, _ = mpmath.mpf(x)._mpf_ if not isinstance(x, mpmath.mpf) else x._mpf_
    shift = exp - e
    k = man << shift if shift >= 0 else (man + (1 << (-shift - 1))) >> -shift
    return -k if sign else k


def to_mpf(value):
    if isinstance(value, float):
        return mpmath.mpf(value)  # exact: a float is a dyadic number of 53 bits
    if isinstance(value, mpmath.mpc):
        raise ArithmeticError("a complex number (log of a negative?)")  # noqa: TRY004
    if isinstance(value, mpmath.mpf):
        return +value
    if isinstance(value, (int, np.integer)):
        return mpmath.mpf(int(value))
    q = Fraction(value)
    return mpmath.mpf(q.numerator) / q.denominator


def _exact_product(k, v):
    """k @ v for a float64 integer matrix k and an object array v of Python integers, exactly.

    v is cut into limbs of 16 bits (8 when k's entries are large): each column sum of k times a limb stays
    below 2^53, so float64 BLAS adds it up without rounding.
    """
    rows, inner = k.shape
    cols = v.shape[1]
    top = float(np.abs(k).max(initial=1)) * inner
    limb = 16 if top * 2.0 ** 16 < 2.0 ** 53 else 8
    if top * 2.0 ** limb >= 2.0 ** 53:
        raise ValueError("the exact product needs smaller weights or fewer inputs")
    flat = v.reshape(-1)
    signs = np.array([1.0 if x >= 0 else -1.0 for x in flat])
    magnitudes = [abs(int(x)) for x in flat]
    width = max(1, max(magnitudes, default=0).bit_length())
    step = limb // 8
    nbytes = step * -(-width // limb)
    count = nbytes // step
    limbs = np.frombuffer(b"".join(m.to_bytes(nbytes, "little") for m in magnitudes), dtype="<u2" if step == 2 else "u1")
    limbs = limbs.reshape(inner, cols, count).astype(float) * signs.reshape(inner, cols, 1)
    partial = (k @ limbs.reshape(inner, -1)).reshape(rows, cols, count).astype(np.int64)
    out = np.zeros((rows, cols), dtype=object)
    for t in range(count - 1, -1, -1):  # Horner over the limbs, in Python integers
        out = (out << limb) + partial[:, :, t].astype(object)
    return out


@cache
def scalar_function(formula, symbols):
    """The engine's scalar formula as an mpmath function of ``symbols`` (one lambdify per formula)."""
    return sp.lambdify(symbols, formula, "mpmath")


def elementwise(formula, symbols, arguments, F):
    """Apply a scalar formula entry by entry to Fixed arguments of one shape."""
    f = scalar_function(formula, tuple(symbols))
    shape = arguments[0].shape
    values = [a.to_mpf() for a in arguments]
    out = np.empty(shape, dtype=object)
    with mpmath.workprec(F + 64):
        for idx in np.ndindex(shape):
            value = mpmath.mpmathify(f(*[v[idx] for v in values]))
            if not isinstance(value, mpmath.mpf) or not mpmath.isfinite(value):
                raise ArithmeticError(f"{sp.sstr(formula)} is {value} at {[v[idx] for v in values][:3]}"[:200])
            out[idx] = value
    return Fixed(out, F)


class Evaluator:
    """Values of matrix forms, given the values of their leaves (:class:`Fixed` or :class:`Dyadic`).

    A product is evaluated from the side where a vector stands, so ``Delta S^T v`` never forms the
    n x m matrix ``Delta S^T``: a projection u^T (form) v costs what the layer's vectors cost.
    """

    def __init__(self, leaves, F, numbers=None):
        self.leaves, self.F = dict(leaves), F
        self.numbers = numbers or {}  # scalar symbols (beta) -> numbers
        self.memo = {}  # element-wise nodes already evaluated (a'(Y^l) is read by every chain through layer l)

    def bind(self, symbol, value):
        self.leaves[symbol] = value
        self.memo = {e: v for e, v in self.memo.items() if not e.has(symbol)}

    def value(self, expr):
        """The form's value as Fixed (a Dyadic leaf is returned as it is)."""
        if isinstance(expr, sp.MatrixSymbol):
            try:
                return self.leaves[expr]
            except KeyError:
                raise KeyError(f"no value for {expr} ({expr.shape})") from None
        if isinstance(expr, sp.Transpose):
            return self.value(expr.arg).T
        if isinstance(expr, sp.MatAdd):
            terms = [self._fixed(self.value(t)) for t in expr.args]
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            return total
        if isinstance(expr, sp.MatMul):
            return self._product(expr)
        if isinstance(expr, sp.HadamardProduct):
            parts = [self._fixed(self.value(t)) for t in expr.args]
            total = parts[0]
            for p in parts[1:]:
                total = total.hadamard(p)
            return total
        if isinstance(expr, Elementwise):
            if expr not in self.memo:
                arguments = [self._fixed(self.value(m)) for m in expr.arguments.values()]
                self.memo[expr] = elementwise(expr.formula, tuple(expr.arguments), arguments, self.F)
            return self.memo[expr]
        if isinstance(expr, sp.OneMatrix):
            rows, cols = (int(self._number(d)) for d in expr.shape)
            return Fixed(np.full((rows, cols), mpmath.mpf(1), dtype=object), self.F)
        if isinstance(expr, DiagMatrix):
            d = self._fixed(self.value(expr.args[0]))
            n = d.shape[0] * d.shape[1]
            out = np.full((n, n), mpmath.mpf(0), dtype=object)
            out[np.arange(n), np.arange(n)] = d.v.reshape(-1)
            return Fixed(out, self.F)
        if isinstance(expr, sp.Identity):
            n = int(self._number(expr.shape[0]))
            return Fixed(np.diag([mpmath.mpf(1)] * n).astype(object), self.F)
        raise TypeError(f"cannot evaluate {type(expr).__name__}: {expr}")

    def _number(self, x):
        return sp.sympify(x).xreplace(self.numbers)

    def _fixed(self, v):
        return v.fixed(self.F) if isinstance(v, Dyadic) else v

    def _product(self, expr):
        coefficient, matrices = expr.as_coeff_matrices()
        coefficient = self._number(coefficient)
        if not coefficient.is_Rational:
            raise TypeError(f"cannot evaluate the coefficient {coefficient}")
        # from the side of the vector: left to right when the first factor is a row
        leftward = matrices[0].shape[0] == 1 and len(matrices) > 1
        order = matrices if leftward else matrices[::-1]
        acc = self.value(order[0])
        for m in order[1:]:
            acc = self._times(acc, m) if leftward else self._times_left(m, acc)
        return self._fixed(acc).times(coefficient) if coefficient != 1 else self._fixed(acc)

    def _times(self, left, m):
        """left (Fixed) times the form m."""
        if isinstance(m, DiagMatrix):
            d = self._fixed(self.value(m.args[0]))
            return self._fixed(left).hadamard(Fixed(np.broadcast_to(d.v.reshape(1, -1), left.shape), self.F))
        right = self.value(m)
        if isinstance(right, Dyadic):
            return (right.T @ self._fixed(left).T).T
        return self._fixed(left).matmul(right)

    def _times_left(self, m, right):
        """The form m times right (Fixed)."""
        if isinstance(m, DiagMatrix):
            d = self._fixed(self.value(m.args[0]))
            return Fixed(np.broadcast_to(d.v.reshape(-1, 1), right.shape), self.F).hadamard(self._fixed(right))
        left = self.value(m)
        right = self._fixed(right)
        if isinstance(left, Dyadic):
            return left @ right
        return left.matmul(right)


def fixed_bits(digits):
    """Bits of the fixed-point grid for ``digits`` significant digits, with room to spare."""
    return int(digits * 3.33) + 64
