"""Convolution and pooling as matrix-form nodes: each defined by its explicit entry, evaluated by one NumPy form.

A signal of c channels of h x w positions is a (c h w) x beta matrix (rows in C order, one example per
column), so a convolution is a linear map of that matrix and the layer programs stay matrix forms.  Each node's
``_entry`` is its definition in SymPy (the sum over the window, written once): ``as_explicit`` makes it explicit
at concrete sizes, where ``Matrix.jacobian`` derives the layer's Jacobians and the exact verification compares
the fast forms with them.  ``numeric`` evaluates it through the NumPy form of :mod:`symbackprop.engine.windows`
(the same function the emitted module runs), at any precision.

``g`` = (c_in, h, w, c_out, kh, kw, sh, sw, ph, pw).

>>> W, b, S = sp.Matrix([[1, 2, 3, 4]]), sp.Matrix([[10]]), sp.Matrix(sp.symbols("x1:10"))
>>> g = (1, 3, 3, 1, 2, 2, 1, 1, 0, 0)
>>> K = Columns(S, g).as_explicit()
>>> K.T
Matrix([[x1, x2, x4, x5, x2, x3, x5, x6, x4, x5, x7, x8, x5, x6, x8, x9]])
>>> Conv(W, b, K, g).as_explicit().T
Matrix([[x1 + 2*x2 + 3*x4 + 4*x5 + 10, x2 + 2*x3 + 3*x5 + 4*x6 + 10, x4 + 2*x5 + 3*x7 + 4*x8 + 10, x5 + 2*x6 + 3*x8 + 4*x9 + 10]])
"""
from itertools import product

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from symbackprop.engine import windows


def geometry_sizes(g):
    """(oh, ow) of the geometry g."""
    _c_in, h, w, _c_out, kh, kw, sh, sw, ph, pw = g
    return windows.out_size(h, kh, sh, ph), windows.out_size(w, kw, sw, pw)


class WindowOp(MatrixExpr):
    """A node over window geometry g: ``operands`` are matrix forms; ``function`` names its NumPy form."""

    function = None
    #: positions of the operands the NumPy form only multiplies from the left with ``@`` (the kernel W): the
    #: high-precision evaluation may pass them as an object whose ``@`` is an exact integer product
    left_factors = ()

    def __new__(cls, *operands_and_geometry):
        *operands, g = operands_and_geometry
        return sp.Basic.__new__(cls, *operands, sp.Tuple(*[sp.Integer(v) for v in g]))

    @property
    def operands(self):
        return self.args[:-1]

    @property
    def g(self):
        return tuple(int(v) for v in self.args[-1])

    @property
    def beta(self):
        return self.operands[-1].shape[1]

    def numeric(self, *arrays):
        """The node's value through its NumPy form (any dtype, object arrays of mpmath numbers too)."""
        return getattr(windows, self.function)(*arrays, self.g)

    def _reads(self, y, x):
        """Window positions (p, q, i, j) whose output (i, j) reads input (y, x) through kernel offset (p, q)."""
        _c_in, _h, _w, _c_out, kh, kw, sh, sw, ph, pw = self.g
        oh, ow = geometry_sizes(self.g)
        for p, q in product(range(kh), range(kw)):
            i, ri = divmod(y + ph - p, sh)
            j, rj = divmod(x + pw - q, sw)
            if ri == 0 and rj == 0 and 0 <= i < oh and 0 <= j < ow:
                yield p, q, i, j

    def _window(self, i, j):
        """The in-range input positions (p, q, y, x) of output (i, j)'s window (zero padding reads nothing)."""
        _c_in, h, w, _c_out, kh, kw, sh, sw, ph, pw = self.g
        for p, q in product(range(kh), range(kw)):
            y, x = i * sh + p - ph, j * sw + q - pw
            if 0 <= y < h and 0 <= x < w:
                yield p, q, y, x

    def __str__(self):
        return f"{type(self).__name__}({', '.join(map(str, self.operands))})"

    __repr__ = __str__

    def _sympystr(self, printer):
        return f"{type(self).__name__}({', '.join(printer._print(a) for a in self.operands)})"


class Columns(WindowOp):
    """K = the window view of S (im2col): entry ((c, p, q, i, j), b) is S[c, i s + p - ph, j s + q - pw] of example b,
    0 where the window reads the padding.  Named once in the forward program, read by the forward product and by
    the weight gradient."""

    function = "columns"

    @property
    def shape(self):
        oh, ow = geometry_sizes(self.g)
        return (self.g[0] * self.g[4] * self.g[5] * oh * ow, self.beta)

    def _entry(self, r, col, **kwargs):
        (S,) = self.operands
        _c_in, h, w, _c_out, kh, kw, sh, sw, ph, pw = self.g
        oh, ow = geometry_sizes(self.g)
        cpq, ij = divmod(int(r), oh * ow)
        (c, pq), (i, j) = divmod(cpq, kh * kw), divmod(ij, ow)
        p, q = divmod(pq, kw)
        y, x = i * sh + p - ph, j * sw + q - pw
        return S[(c * h + y) * w + x, col] if 0 <= y < h and 0 <= x < w else sp.S.Zero


def window_row(g, c, p, q, i, j):
    """The row of the window view K holding kernel offset (p, q) of channel c at output position (i, j)."""
    _c_in, _h, _w, _c_out, kh, kw = g[:6]
    oh, ow = geometry_sizes(g)
    return (((c * kh + p) * kw + q) * oh + i) * ow + j


class Conv(WindowOp):
    """Y = W * S + b from the window view K of S: entry (o, i, j) of an example is
    b_o + sum_{c,p,q} W[o, c, p, q] K[(c, p, q, i, j)]."""

    function = "conv_forward"
    left_factors = (0,)

    @property
    def shape(self):
        oh, ow = geometry_sizes(self.g)
        return (self.g[3] * oh * ow, self.beta)

    def _entry(self, r, col, **kwargs):
        W, b, K = self.operands
        c_in, _h, _w, _c_out, kh, kw = self.g[:6]
        oh, ow = geometry_sizes(self.g)
        o, rest = divmod(int(r), oh * ow)
        i, j = divmod(rest, ow)
        return b[o, 0] + sp.Add(*[W[o, (c * kh + p) * kw + q] * K[window_row(self.g, c, p, q, i, j), col]
                                  for c in range(c_in) for p, q in product(range(kh), range(kw))])


class ConvGradW(WindowOp):
    """sum over examples and positions of D[o, i, j] times the input entry that W[o, c, p, q] met there, read
    from the window view K."""

    function = "conv_grad_W"

    @property
    def shape(self):
        return (self.g[3], self.g[0] * self.g[4] * self.g[5])

    def _entry(self, o, k, **kwargs):
        D, K = self.operands
        _c_in, _h, _w, _c_out, kh, kw = self.g[:6]
        oh, ow = geometry_sizes(self.g)
        c, pq = divmod(int(k), kh * kw)
        p, q = divmod(pq, kw)
        return sp.Add(*[D[(int(o) * oh + i) * ow + j, col] * K[window_row(self.g, c, p, q, i, j), col]
                        for i, j, col in product(range(oh), range(ow), range(K.shape[1]))])


class ConvGradB(WindowOp):
    """sum over examples and positions of D[o, i, j]."""

    function = "conv_grad_b"

    @property
    def shape(self):
        return (self.g[3], 1)

    def _entry(self, o, _, **kwargs):
        (D,) = self.operands
        oh, ow = geometry_sizes(self.g)
        return sp.Add(*[D[int(o) * oh * ow + r, col] for r in range(oh * ow) for col in range(D.shape[1])])


class ConvGradS(WindowOp):
    """Entry (c, y, x): sum of W[o, c, p, q] D[o, i, j] over the outputs (i, j) that read (y, x) through (p, q):
    the full convolution of delta with the flipped kernel."""

    function = "conv_grad_S"
    left_factors = (0,)

    @property
    def shape(self):
        return (self.g[0] * self.g[1] * self.g[2], self.beta)

    def _entry(self, r, col, **kwargs):
        W, D = self.operands
        _c_in, h, w, c_out, kh, kw = self.g[:6]
        oh, ow = geometry_sizes(self.g)
        c, rest = divmod(int(r), h * w)
        y, x = divmod(rest, w)
        return sp.Add(*[W[o, (c * kh + p) * kw + q] * D[(o * oh + i) * ow + j, col]
                        for o in range(c_out) for p, q, i, j in self._reads(y, x)])


class MaxPool(WindowOp):
    """The largest entry of each window."""

    function = "pool_max"

    @property
    def shape(self):
        oh, ow = geometry_sizes(self.g)
        return (self.g[0] * oh * ow, self.beta)

    def _entry(self, r, col, **kwargs):
        (S,) = self.operands
        h, w = self.g[1], self.g[2]
        oh, ow = geometry_sizes(self.g)
        c, rest = divmod(int(r), oh * ow)
        i, j = divmod(rest, ow)
        return sp.Max(*[S[(c * h + y) * w + x, col] for _, _, y, x in self._window(i, j)])


class MaxPoolBack(WindowOp):
    """delta of each window routed to its first arg-max: entry (c, y, x) sums D over the windows whose first
    largest entry is (y, x).  The operands are S, the window maxima T = MaxPool(S) the forward step computed (the
    NumPy form compares S with them instead of taking the maxima again; the entry below is defined by S alone),
    and D."""

    function = "pool_max_back"

    @property
    def shape(self):
        return (self.g[0] * self.g[1] * self.g[2], self.beta)

    def _entry(self, r, col, **kwargs):
        S, _T, D = self.operands
        h, w = self.g[1], self.g[2]
        oh, ow = geometry_sizes(self.g)
        c, rest = divmod(int(r), h * w)
        y, x = divmod(rest, w)
        total = []
        for _, _, i, j in self._reads(y, x):
            window = [S[(c * h + yy) * w + xx, col] for _, _, yy, xx in self._window(i, j)]
            at = [(yy, xx) for _, _, yy, xx in self._window(i, j)].index((y, x))
            first = sp.And(*[window[at] > v for v in window[:at]], *[window[at] >= v for v in window[at + 1:]])
            total.append(sp.Piecewise((D[(c * oh + i) * ow + j, col], first), (0, True)))
        return sp.Add(*total)


class AvgPool(WindowOp):
    """The mean of each window."""

    function = "pool_avg"

    @property
    def shape(self):
        oh, ow = geometry_sizes(self.g)
        return (self.g[0] * oh * ow, self.beta)

    def _entry(self, r, col, **kwargs):
        (S,) = self.operands
        h, w, kh, kw = self.g[1], self.g[2], self.g[4], self.g[5]
        oh, ow = geometry_sizes(self.g)
        c, rest = divmod(int(r), oh * ow)
        i, j = divmod(rest, ow)
        return sp.Add(*[S[(c * h + y) * w + x, col] for _, _, y, x in self._window(i, j)]) / (kh * kw)


class AvgPoolBack(WindowOp):
    """delta / (kh kw) spread over each window it averaged."""

    function = "pool_avg_back"

    @property
    def shape(self):
        return (self.g[0] * self.g[1] * self.g[2], self.beta)

    def _entry(self, r, col, **kwargs):
        (D,) = self.operands
        h, w, kh, kw = self.g[1], self.g[2], self.g[4], self.g[5]
        oh, ow = geometry_sizes(self.g)
        c, rest = divmod(int(r), h * w)
        y, x = divmod(rest, w)
        return sp.Add(*[D[(c * oh + i) * ow + j, col] for _, _, i, j in self._reads(y, x)]) / (kh * kw)
