"""The two alternative representations of the perceptron (book sec. 2.3), shown equivalent.

* **The xW form.**  The linearity y = W x + b written with x on the left:
  y^T = x^T W^T + b^T.  The columns of W^T are the neurons.
* **Weights and bias in one matrix.**  The bias becomes the last column of W,
  b_i = w_{i,m+1}, and the input gets a trailing 1, x_{m+1} = 1:
  y = [W | b] [x; 1].

Each function returns an :class:`Equivalence` (a verdict and its evidence):
for one layer at concrete sizes (the difference is the zero matrix), for one
layer with symbolic sizes n, m (the Sum forms agree, via :mod:`symbackprop.proofs`),
and for a whole network: the forward pass and the error are the same
expressions, and for the folded form the gradient by the augmented matrix,
computed by SymPy with fresh symbols v^l_ij, is [dE/dW^l | dE/db^l].

>>> xw_form(3, 2).verdict
'equivalent'
>>> folded_bias_symbolic().verdict
'equivalent'
"""
import time
from dataclasses import dataclass, field

import sympy as sp

from symbackprop.engine.activations import get_activation
from symbackprop.engine.costs import get_cost
from symbackprop.engine.network import Network
from symbackprop.engine.spec import NetworkSpec
from symbackprop.engine.zero import is_zero
from symbackprop.errors import SizeError, SpecError
from symbackprop.proofs import Reduction, i, j, m, n

#: Whole-network checks differentiate the explicit composed E, so they are for small networks.
MAX_NETWORK_PARAMS = 80


@dataclass
class Equivalence:
    """The verdict of one comparison between the standard and an alternative representation."""

    name: str
    claim: str
    sizes: object  # a tuple of concrete sizes, or "symbolic"
    verdict: str = "not equivalent"
    evidence: list = field(default_factory=list)  # (description, SymPy expression or None)
    seconds: float = 0.0
    objects: dict = field(default_factory=dict, repr=False)  # the SymPy objects compared, for further use

    @property
    def holds(self):
        return self.verdict == "equivalent"

    def text(self):
        lines = [f"{self.name} ({self.sizes}): {self.claim}"]
        lines += [f"  - {d}" + ("" if e is None else f": {sp.sstr(e)}") for d, e in self.evidence]
        lines.append(f"  Verdict: {self.verdict}")
        return "\n".join(lines)

    def to_dict(self):
        return {"name": self.name, "claim": self.claim, "sizes": self.sizes if isinstance(self.sizes, str)
                else list(self.sizes), "verdict": self.verdict, "holds": self.holds,
                "evidence": [{"description": d, "expression": None if e is None else sp.sstr(e)}
                             for d, e in self.evidence],
                "seconds": round(self.seconds, 4)}

    def __str__(self):
        return self.text()


def compare(name, claim, standard, alternative, sizes="concrete"):
    """The verdict on ``alternative == standard`` (matrices or scalars): the difference must expand to zero.

    >>> x, y = sp.symbols("x y")
    >>> compare("demo", "(x + y)^2 = x^2 + 2xy + y^2", (x + y) ** 2, x**2 + 2*x*y + y**2).verdict
    'equivalent'
    >>> compare("demo", "(x + y)^2 = x^2 + y^2", (x + y) ** 2, x**2 + y**2).verdict
    'not equivalent'
    """
    started = time.perf_counter()
    difference = sp.expand(alternative - standard)
    result = Equivalence(name, claim, sizes)
    result.evidence += [("standard", standard), ("alternative", alternative), ("difference, expanded", difference)]
    return _finish(result, [difference], started)


def _finish(result, differences, started):
    """'equivalent' when every difference (a matrix or a scalar) is proved 0 by :func:`symbackprop.engine.zero.is_zero`."""
    zero = all(is_zero(d) for d in differences)
    result.verdict = "equivalent" if zero else "not equivalent"
    result.seconds = time.perf_counter() - started
    return result


def _layer(n_out, n_in):
    for size in (n_out, n_in):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SpecError(f"layer sizes must be positive integers, got {size!r}")
    return Network(NetworkSpec((n_in, n_out), (get_activation("identity"),), get_cost("mse")))


# -- one layer, concrete sizes -------------------------------------------------------------------------------------
def xw_form(n_out=3, n_in=2):
    """x^T W^T + b^T equals (W x + b)^T for an n_out x n_in layer.

    >>> print(xw_form(2, 2).evidence[1][1])
    Matrix([[b1_1 + w1_1_1*x1 + w1_1_2*x2, b1_2 + w1_2_1*x1 + w1_2_2*x2]])
    """
    started = time.perf_counter()
    net = _layer(n_out, n_in)
    W, b, x = net.W(1), net.b(1), net.x
    column, row = W * x + b, x.T * W.T + b.T
    result = Equivalence("xW form", "x^T W^T + b^T = (W x + b)^T", (n_out, n_in))
    result.evidence += [("(W x + b)^T", column.T), ("x^T W^T + b^T", row), ("difference", row - column.T)]
    return _finish(result, [row - column.T], started)


def folded_bias(n_out=3, n_in=2):
    """[W | b] [x; 1] equals W x + b: the bias is the last column of the augmented matrix.

    >>> folded_bias(2, 1).evidence[0][1]
    Matrix([
    [w1_1_1, b1_1],
    [w1_2_1, b1_2]])
    """
    started = time.perf_counter()
    net = _layer(n_out, n_in)
    W, b, x = net.W(1), net.b(1), net.x
    W_aug, x_aug = W.row_join(b), x.col_join(sp.Matrix([[1]]))
    difference = W_aug * x_aug - (W * x + b)
    result = Equivalence("bias folded into W", "[W | b] [x; 1] = W x + b", (n_out, n_in))
    result.evidence += [("W_aug = [W | b]", W_aug), ("x_aug = [x; 1]", x_aug), ("difference", difference)]
    return _finish(result, [difference], started)


# -- one layer, symbolic sizes -------------------------------------------------------------------------------------
def xw_form_symbolic():
    """(x^T W^T)_i + b_i = y_i for any n x m layer, with (W^T)_{ji} = W_{ij} (Sum form).

    >>> xw_form_symbolic().holds
    True
    """
    started = time.perf_counter()
    W, WT, b, x = (sp.IndexedBase(s) for s in ("W", "WT", "b", "x"))
    y_i = sp.Sum(W[i, j] * x[j], (j, 1, m)) + b[i]
    row_i = sp.Sum(x[j] * WT[j, i], (j, 1, m)) + b[i]  # entry i of the row x^T W^T + b^T
    transposed = row_i.replace(lambda e: isinstance(e, sp.Indexed) and e.base == WT,
                               lambda e: W[e.indices[1], e.indices[0]])
    result = Equivalence("xW form", "(x^T W^T + b^T)_i = (W x + b)_i", "symbolic")
    result.evidence += [("y_i", y_i), ("entry i of x^T W^T + b^T", row_i), ("with (W^T)_ji = W_ij", transposed)]
    rest = Reduction({i: (1, n)}).normal_form(transposed - y_i)
    result.evidence.append(("difference, reduced", rest))
    return _finish(result, [rest], started)


def folded_bias_symbolic():
    """Sum_{j=1}^{m+1} V_ij u_j = y_i with V_ij = W_ij, u_j = x_j for j <= m, V_{i,m+1} = b_i, u_{m+1} = 1.

    The sum to m + 1 is split as Sum_{j=1}^{m} + (term j = m + 1); inside the first
    sum j <= m holds, at j = m + 1 it does not, which picks the Piecewise branches.
    """
    started = time.perf_counter()
    W, b, x = (sp.IndexedBase(s) for s in ("W", "b", "x"))
    V = lambda col: sp.Piecewise((W[i, col], col <= m), (b[i], True))  # W_aug entries
    u = lambda col: sp.Piecewise((x[col], col <= m), (1, True))  # x_aug entries
    augmented = sp.Sum(V(j) * u(j), (j, 1, m + 1))
    split = sp.Sum(V(j) * u(j), (j, 1, m)) + V(m + 1) * u(m + 1)
    y_i = sp.Sum(W[i, j] * x[j], (j, 1, m)) + b[i]
    result = Equivalence("bias folded into W", "[W | b] [x; 1] = W x + b", "symbolic")
    result.evidence += [("entry i of W_aug x_aug", augmented), ("the sum split at j = m + 1", split)]
    rest = Reduction({i: (1, n)}).normal_form(split - y_i)
    result.evidence.append(("difference, reduced (Piecewise by the range of j)", rest))
    return _finish(result, [rest], started)


# -- whole networks ------------------------------------------------------------------------------------------------
def _network(spec):
    net = Network(spec)
    if spec.n_params > MAX_NETWORK_PARAMS:
        raise SizeError(f"the whole-network comparison differentiates the explicit error; {spec.describe()} has "
                        f"{spec.n_params} parameters, the limit is {MAX_NETWORK_PARAMS}")
    return net


def _default_spec(spec):
    return spec if spec is not None else NetworkSpec.from_options("2,3,2", "tanh,sigmoid", "mse")


def network_xw_form(spec=None):
    """Whole network in row form: s^T W^T + b^T layer after layer gives the same y^l, a^l and E.

    >>> network_xw_form().verdict
    'equivalent'
    """
    started = time.perf_counter()
    spec = _default_spec(spec)
    net = _network(spec)
    row, differences = net.x.T, []
    for l in range(1, net.L + 1):
        y_row = row * net.W(l).T + net.b(l).T
        row = sp.Matrix([net.activations[l](list(y_row))])
        differences.append(sp.expand(y_row - net.forward[l][0].T))
        differences.append(row - net.forward[l][1].T)
    E_row = net.cost(list(row), list(net.z))
    differences.append(E_row - net.error())
    result = Equivalence("xW form, whole network", "row-vector forward pass gives the same y^l, a^l and E",
                         tuple(spec.sizes))
    result.evidence.append((f"E in the row form ({spec.describe()})", E_row))
    for l in range(1, net.L + 1):
        result.evidence.append((f"layer {l}: y_row - (y^{l})^T", differences[2 * l - 2]))
        result.evidence.append((f"layer {l}: a_row - (a^{l})^T", differences[2 * l - 1]))
    result.evidence.append(("E_row - E", differences[-1]))
    return _finish(result, differences, started)


def network_folded_bias(spec=None):
    """Whole network with V^l = [W^l | b^l] and signals [s; 1]: same E, and dE/dV^l = [dE/dW^l | dE/db^l].

    The augmented network gets its own symbols v{l}_{i}_{j}; SymPy differentiates
    its error by them; then V^l is replaced by [W^l | b^l] and compared with the
    gradients of the standard error.

    >>> network_folded_bias().verdict
    'equivalent'
    """
    started = time.perf_counter()
    spec = _default_spec(spec)
    net = _network(spec)
    V = {l: sp.Matrix([[sp.Symbol(f"v{l}_{r + 1}_{c + 1}", real=True) for c in range(net.n(l - 1) + 1)]
                       for r in range(net.n(l))]) for l in range(1, net.L + 1)}
    s = net.x
    for l in range(1, net.L + 1):
        s = sp.Matrix(net.activations[l](list(V[l] * s.col_join(sp.Matrix([[1]])))))
    E_aug = net.cost(list(s), list(net.z))
    folded = {V[l][r, c]: net.W(l).row_join(net.b(l))[r, c] for l in V for r in range(V[l].rows)
              for c in range(V[l].cols)}
    E = net.error()
    differences, gradients = [E_aug.xreplace(folded) - E], {}
    for l in range(1, net.L + 1):
        gradients[l] = V[l].applyfunc(lambda v: sp.diff(E_aug, v))
        dE_dWb = net.W(l).applyfunc(lambda w: sp.diff(E, w)).row_join(net.b(l).applyfunc(lambda v: sp.diff(E, v)))
        differences.append(gradients[l].xreplace(folded) - dE_dWb)
    result = Equivalence("bias folded into W, whole network", "same E; dE/dW_aug^l = [dE/dW^l | dE/db^l]",
                         tuple(spec.sizes))
    result.objects.update({"V": V, "E_aug": E_aug, "dE_dV": gradients, "x": net.x, "z": net.z})
    result.evidence.append(("E - E_aug with V^l = [W^l | b^l]", differences[0]))
    for l in range(1, net.L + 1):
        result.evidence.append((f"layer {l}: dE_aug/dV^{l} - [dE/dW^{l} | dE/db^{l}]", differences[l]))
    return _finish(result, differences, started)


def all_alternatives(spec=None):
    """Every comparison of this module (concrete, symbolic, whole network)."""
    return [xw_form(), folded_bias(), xw_form_symbolic(), folded_bias_symbolic(),
            network_xw_form(spec), network_folded_bias(spec)]

