"""Layer kinds beyond the perceptron: each kind is its forward rule, written once as a matrix form.

A layer l reads the signal S^{l-1} (n_{l-1} x beta, one example per column, the book's ch. 5 convention) and
writes S^l.  A kind says three things, and nothing else:

* its parameters' names and shapes (named by the layer's position l: ``W{l}``, ``b{l}``, ``g{l}``, ``h{l}``);
* its forward rule: a list of steps ``(name, form)``, each a SymPy matrix expression over the layer's named
  matrices (``MatrixSymbol``) with the engine's :class:`~symbackprop.engine.forms.Elementwise` node for a scalar
  formula applied entry by entry, or :class:`Activate` for the layer's activation;
* its fast backward form: given Delta^l = dE/dS^l (per example, as columns), the form of Delta^{l-1} and of
  each parameter's gradient (batch means, eq. 87-90).

Everything else is derived from the forward rule: the explicit Jacobians (``Matrix.jacobian`` of the forward
rule made explicit at concrete sizes, :mod:`symbackprop.engine.layered`), the verification that the fast form
equals the chain of those Jacobians and the direct derivative of the composed error, the size-generic proofs
(:mod:`symbackprop.proofs.kinds`), the document and the emitted NumPy code (both print the same forms).

The kinds:

* ``dense``: Y^l = W^l S^{l-1} + b^l 1^T, S^l = a(Y^l) (book eq. 6, 11, 82);
* ``layernorm``: C = S - (1/n) 1 1^T S, V = (1/n) 1 1^T (C (.) C), R = 1/sqrt(V + eps), N = C (.) R,
  S^l = g 1^T (.) N + h 1^T (torch.nn.LayerNorm over the n features, biased variance);
* ``residual``: Y^l = W^l S^{l-1} + b^l 1^T, S^l = S^{l-1} + a(Y^l) (sizes equal).

>>> M = Names(2, {0: 3, 1: 3})
>>> layer = Layer(1, "layernorm", 3, 3)
>>> [str(name) for name, _ in layer.steps(M)]
['C1', 'V1', 'R1', 'N1', 'S1']
>>> KINDS["layernorm"].backward(layer, M, M.Delta(1))[0]
HadamardProduct(R1, HadamardProduct(g1*1, Delta1) - (HadamardProduct((1/3)*1*(HadamardProduct(g1*1, Delta1, N1)), N1)) - (1/3)*1*(HadamardProduct(g1*1, Delta1)))
"""
from dataclasses import dataclass, field
from types import SimpleNamespace

import sympy as sp

from symbackprop.engine import conv, forms

V = sp.Symbol("v", real=True)  # the scalar of the layer-norm step R = 1/sqrt(V + eps)
EPS = sp.Rational(1, 100000)  # torch.nn.LayerNorm's default eps


class Activate(sp.Basic):
    """The layer's activation applied to a named matrix: a(Y) entry by entry, or softmax column by column.

    Kept as its own step so that every reader uses the engine's :class:`Activation` (its formula, its
    derivative, its softmax Jacobian), written once in :mod:`symbackprop.engine.activations`.
    """

    def __new__(cls, activation, argument):
        obj = sp.Basic.__new__(cls, argument)
        obj.activation = activation
        return obj

    @property
    def argument(self):
        return self.args[0]

    @property
    def shape(self):
        return self.argument.shape

    def __str__(self):
        return f"{self.activation.label()}({self.argument})"

    __repr__ = __str__

    def _sympystr(self, printer):
        return str(self)


class Names:
    """The named matrices of a layered network for a batch of ``beta`` examples; ``sizes`` maps l -> n_l."""

    def __init__(self, beta, sizes):
        self.beta, self.sizes = beta, dict(sizes)
        self.L = max(self.sizes)

    def _m(self, name, l, rows, cols):
        return sp.MatrixSymbol(f"{name}{l}", rows, cols)

    def S(self, l):
        """S^l, the signal out of layer l (S^0 = X)."""
        return self._m("S", l, self.sizes[l], self.beta)

    def Delta(self, l):
        """Delta^l = dE/dS^l, column c for example c (not divided by beta)."""
        return self._m("Delta", l, self.sizes[l], self.beta)

    def __getattr__(self, name):  # Y(l), D(l), C(l), ...: an n_l x beta matrix of layer l
        if len(name) == 1 and name.isupper():
            return lambda l: self._m(name, l, self.sizes[l], self.beta)
        raise AttributeError(name)

    @property
    def Z(self):
        return sp.MatrixSymbol("Z", self.sizes[self.L], self.beta)

    # the names the engine's output-delta forms read (forms.output_delta_form): Y^L, A^L = S^L, Z
    @property
    def output(self):
        """The names the engine's output-delta form reads (forms.output_delta_form): Y^L, A^L = S^L, Z."""
        return SimpleNamespace(L=self.L, sizes=(self.sizes[self.L],), Z=self.Z, Y=self.Y, A=self.S)


@dataclass(frozen=True)
class Layer:
    """Layer l of kind ``kind``: n_in -> n_out, its activation (dense, residual) and options (eps)."""

    l: int
    kind: str
    n_in: int
    n_out: int
    activation: object = None
    options: dict = field(default_factory=dict, compare=False)

    @property
    def rule(self):
        return KINDS[self.kind]

    def params(self):
        """[(name, (rows, cols))] of this layer's parameters, in the order gradients are listed."""
        return self.rule.params(self)

    def steps(self, M):
        return self.rule.steps(self, M)

    def label(self):
        """The layer as the compact form writes it: dense(8, tanh), conv2d(4, 3x3, relu, stride=2), maxpool2d(2)."""
        args, keys = [str(self.n_out)] if self.kind == "dense" else [], []
        if self.kind in ("conv2d", "conv1d"):
            g = self.geometry
            args = [str(g[3]), f"{g[4]}x{g[5]}" if self.kind == "conv2d" else str(g[5])]
            keys = [f"stride={g[7]}"] * (g[7] != 1) + [f"padding={g[9]}"] * (g[9] != 0)
        elif self.kind in ("maxpool2d", "avgpool2d"):
            args, keys = [str(self.geometry[4])], [f"stride={self.geometry[7]}"] * (self.geometry[7] != self.geometry[4])
        args += [self.activation.label()] if self.activation is not None else []
        args += keys + ([f"eps={self.eps}"] if "eps" in self.options else [])
        return f"{self.kind}({', '.join(args)})" if args else self.kind

    @property
    def eps(self):
        return self.options.get("eps", EPS)

    @property
    def in_shape(self):
        """The signal's shape (n,), (c, length) or (c, h, w); stored flattened in C order, one column per example."""
        return self.options.get("in_shape", (self.n_in,))

    @property
    def out_shape(self):
        return self.options.get("out_shape", (self.n_out,))

    @property
    def geometry(self):
        """(c_in, h, w, c_out, kh, kw, sh, sw, ph, pw) of a convolution or pooling layer."""
        return self.options["geometry"]

    def stored_shape(self, name):
        """A parameter's shape as the user sees it: conv2d W (c_out, c_in, kh, kw), conv1d W (c_out, c_in, k)."""
        shape = dict(self.params())[name]
        if name[0] == "W" and self.kind in ("conv2d", "conv1d"):
            c_in, _, _, c_out, kh, kw = self.geometry[:6]
            return (c_out, c_in, kh, kw) if self.kind == "conv2d" else (c_out, c_in, kw)
        return shape


def _row_of_ones(M):
    return sp.OneMatrix(1, M.beta)


def _affine(layer, M):
    """W^l S^{l-1} + b^l 1^T (eq. 82)."""
    l = layer.l
    W = sp.MatrixSymbol(f"W{l}", layer.n_out, layer.n_in)
    b = sp.MatrixSymbol(f"b{l}", layer.n_out, 1)
    return W * M.S(l - 1) + b * _row_of_ones(M)


def _mean_gradients(layer, M, D):
    """(1/beta) D (S^{l-1})^T and (1/beta) D 1 (eq. 87-90), D = dE/dY^l."""
    return {f"W{layer.l}": D * M.S(layer.l - 1).T / M.beta, f"b{layer.l}": D * sp.OneMatrix(M.beta, 1) / M.beta}


def _inner_delta(layer, M, G, output):
    """D^l = dE/dY^l: the engine's output delta at the top, else (da/dy)^T G in its fast form (forms.backward_form)."""
    if output is not None:
        found, cost = output
        return forms.output_delta_form(found, layer.activation, cost, M.output)
    return forms.backward_form(layer.activation, M.Y(layer.l), M.H(layer.l) if layer.kind == "residual"
                               else M.S(layer.l), G)


class Dense:
    """y = W s + b, a = a(y): the book's perceptron layer."""

    name = "dense"
    keys = ("size", "activation")

    def params(self, layer):
        return [(f"W{layer.l}", (layer.n_out, layer.n_in)), (f"b{layer.l}", (layer.n_out, 1))]

    def steps(self, layer, M):
        return [(M.Y(layer.l), _affine(layer, M)), (M.S(layer.l), Activate(layer.activation, M.Y(layer.l)))]

    def backward(self, layer, M, G, output=None):
        """(Delta^{l-1}, gradients): D = a'(Y) (.) G, Delta^{l-1} = W^T D (eq. 60), dE/dW = (1/beta) D S^T."""
        D = _inner_delta(layer, M, G, output)
        W = sp.MatrixSymbol(f"W{layer.l}", layer.n_out, layer.n_in)
        return W.T * M.D(layer.l), _mean_gradients(layer, M, M.D(layer.l)), (M.D(layer.l), D)


class Residual:
    """s^l = s^{l-1} + a(W s^{l-1} + b): a dense sub-layer added to its input (He et al. 2016)."""

    name = "residual"
    keys = ("activation",)

    def params(self, layer):
        return Dense.params(self, layer)

    def steps(self, layer, M):
        l = layer.l
        return [(M.Y(l), _affine(layer, M)), (M.H(l), Activate(layer.activation, M.Y(l))), (M.S(l), M.S(l - 1) + M.H(l))]

    def backward(self, layer, M, G, output=None):
        """Delta^{l-1} = Delta^l + W^T D with D = (da/dy)^T Delta^l: the identity term keeps the gradient."""
        D = _inner_delta(layer, M, G, None)
        W = sp.MatrixSymbol(f"W{layer.l}", layer.n_out, layer.n_in)
        return G + W.T * M.D(layer.l), _mean_gradients(layer, M, M.D(layer.l)), (M.D(layer.l), D)


class LayerNorm:
    """a = g (.) (s - mean(s)) / sqrt(var(s) + eps) + h over the features of one example (biased variance)."""

    name = "layernorm"
    keys = ("eps",)

    def params(self, layer):
        return [(f"g{layer.l}", (layer.n_out, 1)), (f"h{layer.l}", (layer.n_out, 1))]

    def steps(self, layer, M):
        l, n = layer.l, layer.n_out
        mean = sp.OneMatrix(n, n) / n  # (1/n) 1 1^T: every row the column means
        return [
            (M.C(l), M.S(l - 1) - mean * M.S(l - 1)),  # s - mean(s)
            (M.V(l), mean * forms.Elementwise(V ** 2, {V: M.C(l)})),  # var(s), biased, in every row
            (M.R(l), forms.Elementwise(1 / sp.sqrt(V + layer.eps), {V: M.V(l)})),  # 1/sigma
            (M.N(l), sp.HadamardProduct(M.C(l), M.R(l))),  # the normalised signal
            (M.S(l), sp.HadamardProduct(self._g(layer, M), M.N(l)) + sp.MatrixSymbol(f"h{l}", n, 1) * _row_of_ones(M)),
        ]

    def _g(self, layer, M):
        return sp.MatrixSymbol(f"g{layer.l}", layer.n_out, 1) * _row_of_ones(M)

    def backward(self, layer, M, G, output=None):
        """Delta^{l-1} = R (.) (Gg - mean(Gg) - N (.) mean(N (.) Gg)) with Gg = g (.) Delta^l; dg, dh: batch means."""
        n = layer.n_out
        mean = sp.OneMatrix(n, n) / n
        Gg = sp.HadamardProduct(self._g(layer, M), G)
        delta_in = sp.HadamardProduct(M.R(layer.l), Gg - mean * Gg - sp.HadamardProduct(
            M.N(layer.l), mean * sp.HadamardProduct(M.N(layer.l), Gg)))
        ones = sp.OneMatrix(M.beta, 1)
        grads = {f"g{layer.l}": sp.HadamardProduct(G, M.N(layer.l)) * ones / M.beta,
                 f"h{layer.l}": G * ones / M.beta}
        return delta_in, grads, None


class Conv2d:
    """y = W * s + b, the cross-correlation of torch Conv2d (zero padding, stride), then a = a(y)."""

    name = "conv2d"
    keys = ("channels", "kernel", "activation", "stride", "padding")

    def params(self, layer):
        c_in, _, _, c_out, kh, kw = layer.geometry[:6]
        return [(f"W{layer.l}", (c_out, c_in * kh * kw)), (f"b{layer.l}", (c_out, 1))]

    def _W(self, layer):
        return sp.MatrixSymbol(f"W{layer.l}", *self.params(layer)[0][1])

    def _K(self, layer, M):
        """K^l, the window view of S^{l-1}: (c_in kh kw oh ow) x beta."""
        return sp.MatrixSymbol(f"K{layer.l}", conv.Columns(M.S(layer.l - 1), layer.geometry).shape[0], M.beta)

    def steps(self, layer, M):
        l, b = layer.l, sp.MatrixSymbol(f"b{layer.l}", layer.geometry[3], 1)
        return [(self._K(layer, M), conv.Columns(M.S(l - 1), layer.geometry)),
                (M.Y(l), conv.Conv(self._W(layer), b, self._K(layer, M), layer.geometry)),
                (M.S(l), Activate(layer.activation, M.Y(l)))]

    def backward(self, layer, M, G, output=None):
        """D = a'(Y) (.) Delta^l; Delta^{l-1} = the full convolution of D with the flipped kernel; dE/dW = the
        correlation of the input with D (batch mean)."""
        l, g = layer.l, layer.geometry
        D = _inner_delta(layer, M, G, output)
        grads = {f"W{l}": conv.ConvGradW(M.D(l), self._K(layer, M), g) / M.beta, f"b{l}": conv.ConvGradB(M.D(l), g) / M.beta}
        return conv.ConvGradS(self._W(layer), M.D(l), g), grads, (M.D(l), D)


class Conv1d(Conv2d):
    """conv2d on (channels, length) signals: a height of 1."""

    name = "conv1d"


class MaxPool2d:
    """The largest entry of each size x size window (stride = size unless given), per channel."""

    name = "maxpool2d"
    keys = ("size", "stride")
    node, back = conv.MaxPool, conv.MaxPoolBack

    def params(self, layer):
        return []

    def steps(self, layer, M):
        return [(M.S(layer.l), self.node(M.S(layer.l - 1), layer.geometry))]

    def backward(self, layer, M, G, output=None):
        """delta routed to each window's first arg-max (as PyTorch)."""
        return conv.MaxPoolBack(M.S(layer.l - 1), M.S(layer.l), G, layer.geometry), {}, None


class AvgPool2d(MaxPool2d):
    """The mean of each size x size window."""

    name = "avgpool2d"
    node = conv.AvgPool

    def backward(self, layer, M, G, output=None):
        """delta / size^2 spread over the window."""
        return conv.AvgPoolBack(G, layer.geometry), {}, None


class Flatten:
    """The (c, h, w) signal as a vector in C order (c, then h, then w), as torch.flatten: the stored matrix itself."""

    name = "flatten"
    keys = ()

    def params(self, layer):
        return []

    def steps(self, layer, M):
        return [(M.S(layer.l), M.S(layer.l - 1))]

    def backward(self, layer, M, G, output=None):
        return G, {}, None


#: the kinds, by the name a spec writes
KINDS = {kind.name: kind for kind in (Dense(), LayerNorm(), Residual(), Conv2d(), Conv1d(), MaxPool2d(), AvgPool2d(),
                                      Flatten())}
#: kinds that read a vector, and kinds that read channels
VECTOR_KINDS, CHANNEL_KINDS = ("dense", "layernorm", "residual"), ("conv2d", "conv1d", "maxpool2d", "avgpool2d")
