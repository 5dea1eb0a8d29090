"""Pictures of the mathematics: activations with their derived derivatives, costs, descent, Jacobians.

Every curve is computed from the engine's SymPy objects: an activation's ``formula`` and the
``derivative`` SymPy found for it, the gradient of a loss surface found by ``sp.diff``, the
non-zero pattern of each layer's Jacobians read off :mod:`symbackprop.engine.jacobians`.  The
numbers are computed by the functions without a ``_figure`` suffix, which need only NumPy;
the ``*_figure`` functions draw them with matplotlib (the optional ``plot`` extra), on the
headless Agg canvas (no display, no global pyplot state), and return the
``matplotlib.figure.Figure``.  :func:`save` writes PNG, SVG or PDF atomically.

>>> ys, a, da = activation_curve("sigmoid", ys=[-2.0, 0.0, 2.0])
>>> [round(float(v), 3) for v in da]  # sigma'(y) = sigma(y)(1 - sigma(y)): 0.105, 0.25, 0.105 (tutorial)
[0.105, 0.25, 0.105]
>>> path = descent_path(start=(4.0, 3.0), lr=0.1, steps=2)  # w <- w - 0.1 * 2w = 0.8 w
>>> [tuple(round(float(v), 4) for v in p) for p in path]
[(4.0, 3.0, 25.0), (3.2, 2.4, 16.0), (2.56, 1.92, 10.24)]
"""
from pathlib import Path

import numpy as np
import sympy as sp

from symbackprop.engine.activations import KNOWN, get_activation
from symbackprop.engine.symbols import Y
from symbackprop.errors import SymbackpropError
from symbackprop.support import files

INSTALL_HINT = 'pip install "symbackprop[plot]"  (or: pip install matplotlib)'
#: The distributions the pictures import: the ``plot`` extra installs them, and so does the README's first
#: command (tests/test_readme.py compares that command with setup.cfg's extras).
NEEDS = ("matplotlib",)
FORMATS = (".png", ".svg", ".pdf")
#: The element-wise activations drawn by :func:`activations_figure` (softmax is a vector function).
ELEMENTWISE = tuple(n for n in KNOWN if get_activation(n).elementwise)


def require_matplotlib():
    """Import matplotlib, or raise a SymbackpropError saying how to install it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise SymbackpropError(f"pictures need matplotlib, which is not installed: {INSTALL_HINT}") from None


def new_figure(width=8.0, height=4.5):
    """A Figure on the headless Agg canvas (never a window, never pyplot's global state)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig, path, force=False, dpi=110):
    """Write ``fig`` to ``path`` (.png, .svg or .pdf) via a temporary file and rename."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise SymbackpropError(f"cannot write a picture to {path}: use a name ending in {', '.join(FORMATS)}")
    fmt = path.suffix[1:].lower()
    return files.write_atomic(path, force=force, writer=lambda out: fig.savefig(out, format=fmt, dpi=dpi),
                              example="picture.png")


# -- numbers (NumPy only) --------------------------------------------------------------------
def _activation(activation):
    return get_activation(activation) if isinstance(activation, str) else activation


def numeric(expr, ys):
    """Values of a SymPy expression in ``y`` on the points ``ys``, float64.

    The expression is lambdified to NumPy, and the result is checked against SymPy's own
    evaluation at three of the points; if they disagree (a lambdify trap), SymPy evaluates
    every point instead.
    """
    ys = np.asarray(ys, dtype=float)
    values = None
    try:
        with np.errstate(all="ignore"):
            values = np.broadcast_to(np.asarray(sp.lambdify(Y, expr, "numpy")(ys), dtype=float), ys.shape)
    except (TypeError, ValueError, NameError, AttributeError):
        values = None
    probe = np.unique(np.clip(np.searchsorted(ys, [ys.min(), 0.3, ys.max()]), 0, len(ys) - 1))
    if values is None or any(not np.isclose(values[i], float(expr.subs(Y, ys[i])), rtol=1e-9, atol=1e-12)
                             for i in probe):
        values = np.array([float(expr.subs(Y, v)) for v in ys])
    return np.array(values, dtype=float)


def activation_curve(activation, ys=None):
    """(ys, a(ys), a'(ys)) for an element-wise activation; a' is the derivative SymPy derived."""
    act = _activation(activation)
    if not act.elementwise:
        raise SymbackpropError(f"{act.label()} is not element-wise: a_i depends on every y_k, so it has no "
                               f"curve a(y); see sparsity_patterns for its full Jacobian")
    ys = np.linspace(-5, 5, 401) if ys is None else np.asarray(ys, dtype=float)
    return ys, numeric(act.formula, ys), numeric(act.derivative, ys)


def gradient_through_layers(activation, layers=10):
    """The largest factor a'(y) can contribute, and that factor to the powers 1..layers.

    In the recursion delta^l = a'(y^l) (.) (W^{l+1})^T delta^{l+1} (eq. 65) each layer multiplies by
    a'(y^l); sigmoid's is at most 1/4, so ten sigmoid layers shrink delta by at least 4^10.

    >>> best, powers = gradient_through_layers("sigmoid", layers=3)
    >>> best, powers
    (1/4, [1/4, 1/16, 1/64])
    """
    act = _activation(activation)
    d = act.derivative
    try:
        best = sp.calculus.util.maximum(d, Y, sp.Reals)
    except (NotImplementedError, ValueError, TypeError):
        best = None
    if best is None or not best.is_finite:
        best = sp.nsimplify(round(float(numeric(d, np.linspace(-20, 20, 4001)).max()), 12))
    return best, [best ** k for k in range(1, layers + 1)]


def descent_path(loss="w1**2 + w2**2", start=(4.0, 3.0), lr=0.1, steps=20):
    """Gradient descent on a loss in w1, w2: rows (w1, w2, loss), the gradient derived by sp.diff.

    ``loss`` is parsed by the restricted grammar of :func:`symbackprop.engine.expressions.parse_expression`.
    """
    from symbackprop.engine.expressions import parse_expression

    w1, w2 = sp.symbols("w1 w2", real=True)
    expr = parse_expression(loss, {"w1": w1, "w2": w2}) if isinstance(loss, str) else loss
    grad = [sp.diff(expr, w) for w in (w1, w2)]
    f = sp.lambdify((w1, w2), expr, "math")
    g = sp.lambdify((w1, w2), grad, "math")
    w = [float(start[0]), float(start[1])]
    rows = [(w[0], w[1], f(*w))]
    for _ in range(int(steps)):
        d = g(*w)
        w = [w[0] - lr * d[0], w[1] - lr * d[1]]
        rows.append((w[0], w[1], f(*w)))
    return np.array(rows)


def sparsity_patterns(derivation):
    """Per layer: (l, label, da/dy pattern (n x n bool), dy/dW pattern (n entries stacked: n*n x m bool)).

    The patterns are the non-zero entries of the engine's matrices: da/dy is diagonal for an
    element-wise activation and full for softmax (eq. 14); entry i of the column-vector of
    matrices dy/dW is zero except its row i (eq. 16-17).

    >>> from symbackprop.engine.spec import NetworkSpec
    >>> from symbackprop.engine.jacobians import derive
    >>> (l, label, da, dw), = sparsity_patterns(derive(NetworkSpec.from_options("2,3", "softmax", "mse")))
    >>> int(da.sum()), dw.shape, int(dw.sum())  # softmax: all 9 entries; 3 matrices 3 x 2, one row each
    (9, (9, 2), 6)
    """
    out = []
    for layer in derivation:
        da = np.array([[entry != 0 for entry in row] for row in sp.Matrix(layer.da_dy).tolist()], dtype=bool)
        dw = np.vstack([np.array(sp.Matrix(m).tolist(), dtype=object) != 0 for m in layer.dy_dW]).astype(bool)
        out.append((layer.l, layer.activation.label(), da, dw))
    return out


def shortest_derivative(activation):
    """a'(y) as SymPy derived it, or written through a (e.g. a(1 - a)) when that is shorter.

    >>> shortest_derivative(get_activation("sigmoid"))
    a*(1 - a)
    """
    from symbackprop.latex.notation import tidy_signs

    act = _activation(activation)
    in_a = act.derivative_in_a
    if in_a is not None and sp.count_ops(in_a) < sp.count_ops(act.derivative):
        return tidy_signs(in_a)
    return act.derivative


def formula_text(expr):
    """A formula as matplotlib can typeset it: mathtext, or plain text by branches for a Piecewise.

    >>> formula_text(sp.Piecewise((1, Y > 0), (0, True)))
    '1 if y > 0, else 0'
    """
    if isinstance(expr, sp.Piecewise):
        *branches, (last, _) = expr.args
        return ", ".join(f"{sp.sstr(e)} if {sp.sstr(c)}" for e, c in branches) + f", else {sp.sstr(last)}"
    return f"${sp.latex(expr)}$"


# -- figures (matplotlib) ----------------------------------------------------------------------
def activation_figure(activation, ys=None):
    """One activation a(y) and its SymPy-derived derivative a'(y)."""
    act = _activation(activation)
    fig = new_figure(6, 4)
    _draw_activation(fig.add_subplot(), act, ys)
    return fig


def _draw_activation(ax, act, ys=None):
    ys, a, da = activation_curve(act, ys)
    ax.plot(ys, a, lw=2, label="a(y)")
    ax.plot(ys, da, lw=2, ls="--", label="a'(y) (SymPy)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_title(f"{act.label()}:  a'(y) = {formula_text(shortest_derivative(act))}", fontsize=9)
    ax.set_xlabel("y")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def activations_figure(names=ELEMENTWISE):
    """Every element-wise activation with its derivative, in a grid."""
    acts = [_activation(n) for n in names]
    cols = min(3, len(acts))
    rows = -(-len(acts) // cols)
    fig = new_figure(4.2 * cols, 3.2 * rows)
    for k, act in enumerate(acts):
        _draw_activation(fig.add_subplot(rows, cols, k + 1), act)
    fig.suptitle("Activations a(y) and the derivatives a'(y) that SymPy derived")
    return fig


def vanishing_gradient_figure(layers=10):
    """Sigmoid vs ReLU: a'(y) on [-10, 10], and the best-case factor a'^L through L layers (eq. 65)."""
    fig = new_figure(11, 4.2)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ys = np.linspace(-10, 10, 801)
    marks = np.array([-10.0, -5.0, 0.0, 5.0, 10.0])  # the tutorial's table
    for name, colour in (("sigmoid", "C0"), ("relu", "C1")):
        _, _, da = activation_curve(name, ys)
        left.plot(ys, da, color=colour, lw=2, label=f"{name}'(y)")
        _, _, at = activation_curve(name, marks)
        left.plot(marks, at, "o", color=colour)
        best, powers = gradient_through_layers(name, layers)
        right.semilogy(range(1, layers + 1), [float(p) for p in powers], "o-", color=colour,
                       label=f"{name}: (max a' = {sp.sstr(best)})^L")
    left.set_title("a'(y): sigmoid's slope vanishes for |y| > 5 (dots: tutorial's points)", fontsize=9)
    left.set_xlabel("y")
    left.grid(alpha=0.3)
    left.legend()
    right.set_title("best case of the factor a'(y) through L layers of the recursion (eq. 65)", fontsize=9)
    right.set_xlabel("layers L")
    right.grid(alpha=0.3, which="both")
    right.legend()
    return fig


def cost_figure(history, title="Error evolution during training", ylabel="mean error E"):
    """The cost history of a training run, one point per epoch (the book's ch. 3 plot)."""
    history = np.asarray(history, dtype=float)
    if history.ndim != 1 or history.size == 0 or not np.isfinite(history).all():
        raise SymbackpropError("a cost history must be a non-empty list of finite numbers, one per epoch")
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    ax.plot(np.arange(1, history.size + 1), history, "o-", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def descent_figure(loss="w1**2 + w2**2", start=(4.0, 3.0), lr=0.1, steps=20):
    """The tutorial's picture: gradient descent on a loss surface, as a 3-D surface and as contours."""
    path = descent_path(loss, start, lr, steps)
    w1, w2 = sp.symbols("w1 w2", real=True)
    from symbackprop.engine.expressions import parse_expression

    expr = parse_expression(loss, {"w1": w1, "w2": w2}) if isinstance(loss, str) else loss
    f = sp.lambdify((w1, w2), expr, "numpy")
    reach = max(5.0, float(np.abs(path[:, :2]).max()) * 1.1)
    G1, G2 = np.meshgrid(np.linspace(-reach, reach, 60), np.linspace(-reach, reach, 60))
    L = np.broadcast_to(f(G1, G2), G1.shape)
    fig = new_figure(11, 4.8)
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax3.plot_surface(G1, G2, L, alpha=0.45, cmap="viridis")
    ax3.plot(path[:, 0], path[:, 1], path[:, 2], "r.-", ms=7, lw=1.5)
    ax3.set_xlabel("w1")
    ax3.set_ylabel("w2")
    ax3.set_zlabel("loss")
    ax = fig.add_subplot(1, 2, 2)
    ax.contour(G1, G2, L, levels=15, cmap="viridis")
    ax.plot(path[:, 0], path[:, 1], "r.-", ms=7)
    ax.annotate("start", path[0, :2])
    ax.set_aspect("equal")
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.set_title(f"{len(path) - 1} steps, lr = {lr}: w <- w - lr grad, grad = ({sp.sstr(sp.diff(expr, w1))}, "
                 f"{sp.sstr(sp.diff(expr, w2))})", fontsize=9)
    fig.suptitle(f"Gradient descent on loss = {sp.sstr(expr)}")
    return fig


def sparsity_figure(derivation=None):
    """Non-zero pattern of da^l/dy^l and of the column-vector of matrices dy^l/dW^l, per layer.

    Default network 3-4-5 sigmoid, softmax: a diagonal Jacobian next to softmax's full one.
    """
    if derivation is None:
        from symbackprop.engine.jacobians import derive
        from symbackprop.engine.spec import NetworkSpec

        derivation = derive(NetworkSpec.from_options("3,4,5", "sigmoid,softmax", "cross_entropy"))
    patterns = sparsity_patterns(derivation)
    if max(max(da.shape[0], dw.shape[1]) for _, _, da, dw in patterns) > 64:
        raise SymbackpropError("the sparsity picture draws layers of at most 64 neurons and inputs; "
                               "use a smaller network (the pattern is the same at every size)")
    tallest = max(dw.shape[0] for _, _, _, dw in patterns)
    fig = new_figure(3.0 * len(patterns), 2.6 + 0.22 * tallest)
    grid = fig.add_gridspec(2, len(patterns), height_ratios=(1, max(1.0, 0.22 * tallest / 2.2)))
    for k, (l, label, da, dw) in enumerate(patterns):
        n, m = da.shape[0], dw.shape[1]
        ax = fig.add_subplot(grid[0, k])
        _cells(ax, da, "Greys")
        kind = "diagonal" if da.sum() == np.trace(da) else "full"
        ax.set_title(f"da^{l}/dy^{l} ({label}): {kind} {n}x{n}", fontsize=8)
        ax = fig.add_subplot(grid[1, k])
        _cells(ax, dw, "Blues")
        for i in range(1, n):
            ax.axhline(i * n - 0.5, color="black", lw=1.5)
        ax.set_title(f"dy^{l}/dW^{l}: column of {n} matrices {n}x{m}\n(entry i is zero but row i = s^T)", fontsize=8)
        ax.set_yticks([i * n + (n - 1) / 2 for i in range(n)], [f"i={i + 1}" for i in range(n)], fontsize=7)
    fig.suptitle(f"Non-zero entries of the Jacobians of {derivation.spec.describe()}", fontsize=10)
    return fig


def _cells(ax, pattern, cmap):
    """A boolean matrix drawn cell by cell, with a thin grid between cells."""
    rows, cols = pattern.shape
    ax.imshow(pattern, cmap=cmap, vmin=0, vmax=1.3, interpolation="nearest")
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="lightgrey", lw=0.5)
    ax.tick_params(which="both", length=0)
    ax.set_xticks([])
    ax.set_yticks([])


def faces_figure(images, titles, side=20):
    """Little-faces images (flattened side x side) with a title each, in a row (the book's ch. 3 listing)."""
    fig = new_figure(1.7 * len(images), 2.1)
    for k, (image, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(1, len(images), k + 1)
        ax.imshow(np.asarray(image).reshape(side, side), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    return fig


# -- input files ---------------------------------------------------------------------------------
def read_history(path):
    """Numbers, one per line or separated by commas/spaces (e.g. the errors a training run printed)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SymbackpropError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise SymbackpropError(f"{path} must hold numbers only (one cost per epoch)") from None
