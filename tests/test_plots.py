"""symbackprop/plots.py: the numbers behind the pictures, the pictures, ``symbackprop plot``.

The curves are checked against derivatives written by hand here (not by SymPy); the descent path
against its closed form; the Jacobian patterns against the book's structure (diagonal for an
element-wise activation, full for softmax, row i of entry i of the column-vector of matrices).
Drawing tests need matplotlib (the ``plot`` extra) and are skipped without it; the message shown
without matplotlib is tested always.
"""
import sys

import numpy as np
import pytest
import sympy as sp

from symbackprop.cli import main
from symbackprop.demo import plots
from symbackprop.engine.activations import Y
from symbackprop.engine.jacobians import derive
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SymbackpropError


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


YS = np.linspace(-6, 6, 241)


def _sigmoid(y):
    return 1 / (1 + np.exp(-y))


HAND = {  # a'(y) by hand (tutorial, book table 3.5); relu'(0) = 0 as the engine defines it
    "sigmoid": lambda y: _sigmoid(y) * (1 - _sigmoid(y)),
    "tanh": lambda y: 1 - np.tanh(y) ** 2,
    "relu": lambda y: (y > 0).astype(float),
    "leaky_relu": lambda y: np.where(y > 0, 1.0, 0.01),
    "elu": lambda y: np.where(y > 0, 1.0, np.exp(y)),
    "softplus": _sigmoid,
    "identity": lambda y: np.ones_like(y),
    "step": lambda y: np.zeros_like(y),
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_derivative_curves_match_hand_derivatives(name):
    ys, _, da = plots.activation_curve(name, YS)
    assert np.allclose(da, HAND[name](ys), rtol=1e-12, atol=1e-15)


def test_tutorial_table_of_vanishing_gradients():
    # tutorial: sigmoid'(x) at x = -10, -5, 0, 5, 10 is near 0 at the ends, 0.25 at 0; relu' is 0 or 1
    marks = np.array([-10.0, -5.0, 0.0, 5.0, 10.0])
    _, _, sig = plots.activation_curve("sigmoid", marks)
    assert np.allclose(sig, [4.5396e-05, 6.6481e-03, 0.25, 6.6481e-03, 4.5396e-05], rtol=1e-4)
    assert plots.activation_curve("relu", marks)[2].tolist() == [0, 0, 0, 1, 1]


def test_best_factor_through_layers():
    # max sigma' = 1/4 at y = 0; max relu' = max tanh' = 1: (1/4)^L shrinks, 1^L does not
    best, powers = plots.gradient_through_layers("sigmoid", 5)
    assert best == sp.Rational(1, 4) and powers[-1] == sp.Rational(1, 4 ** 5)
    assert plots.gradient_through_layers("relu", 3)[0] == 1
    assert plots.gradient_through_layers("tanh", 3)[0] == 1


def test_softmax_has_no_curve():
    with pytest.raises(SymbackpropError, match="not element-wise"):
        plots.activation_curve("softmax")


def test_numeric_falls_back_when_lambdify_cannot():
    expr = sp.Piecewise((Y ** 2, Y > 1), (sp.sin(Y), True))
    ys = np.array([-1.0, 0.5, 2.0])
    assert np.allclose(plots.numeric(expr, ys), [np.sin(-1.0), np.sin(0.5), 4.0], rtol=1e-14)


@pytest.mark.parametrize("loss,c", [("w1**2 + w2**2", (2, 2)), ("w1^2 + 3*w2^2", (2, 6))])
def test_descent_path_is_the_closed_form(loss, c):
    # loss = a w1^2 + b w2^2: w_k = w_0 (1 - lr * 2a)^k coordinate-wise
    lr, start, steps = 0.05, (4.0, -3.0), 12
    path = plots.descent_path(loss, start, lr, steps)
    k = np.arange(steps + 1)
    assert np.allclose(path[:, 0], start[0] * (1 - lr * c[0]) ** k, rtol=1e-12)
    assert np.allclose(path[:, 1], start[1] * (1 - lr * c[1]) ** k, rtol=1e-12)
    assert np.allclose(path[:, 2], c[0] / 2 * path[:, 0] ** 2 + c[1] / 2 * path[:, 1] ** 2, rtol=1e-12)


def test_descent_refuses_unsafe_text():
    for text in ("__import__(w1)", "open(w1)"):
        with pytest.raises(SymbackpropError, match="unexpected character|unknown name"):
            plots.descent_path(text)


def test_sparsity_patterns_have_the_books_structure():
    d = derive(NetworkSpec.from_options("3,4,5", "tanh,softmax", "cross_entropy"))
    (l1, _, da1, dw1), (l2, _, da2, dw2) = plots.sparsity_patterns(d)
    assert (l1, l2) == (1, 2)
    assert (da1 == np.eye(4, dtype=bool)).all()  # element-wise: da/dy diagonal (eq. 14)
    assert da2.all()  # softmax: every a_i depends on every y_j
    for n, m, dw in ((4, 3, dw1), (5, 4, dw2)):
        assert dw.shape == (n * n, m)
        for i in range(n):  # entry i of dy/dW: zero except row i (eq. 16-17)
            block = dw[i * n:(i + 1) * n]
            assert block[i].all() and not np.delete(block, i, axis=0).any()


def test_without_matplotlib_the_message_says_how_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SymbackpropError, match=r"pip install \"symbackprop\[plot\]\""):
        plots.require_matplotlib()
    assert main(["plot", "descent", "-o", str(tmp_path / "d.png")]) == 2
    assert 'pip install "symbackprop[plot]"' in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# -- pictures ----------------------------------------------------------------------------------------
def test_every_figure_draws_and_saves(mpl, tmp_path):
    from matplotlib.figure import Figure

    figures = {
        "activations": plots.activations_figure(),
        "one": plots.activation_figure("elu"),
        "vanishing": plots.vanishing_gradient_figure(),
        "cost": plots.cost_figure([0.3, 0.2, 0.1]),
        "descent": plots.descent_figure(),
        "sparsity": plots.sparsity_figure(),
        "faces": plots.faces_figure([np.zeros(400), np.ones(400)], ["a", "b"]),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        path = plots.save(fig, tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plots.save(figures["cost"], tmp_path / "cost.svg")
    assert "<svg" in svg.read_text()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".png"] * 7 + [".svg"]  # no temporary file left


def test_save_refuses_bad_paths(mpl, tmp_path):
    fig = plots.cost_figure([1.0])
    (tmp_path / "x.png").write_bytes(b"keep")
    with pytest.raises(SymbackpropError, match="--force"):
        plots.save(fig, tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes() == b"keep"
    with pytest.raises(SymbackpropError, match="ending in"):
        plots.save(fig, tmp_path / "x.jpg")
    with pytest.raises(SymbackpropError, match="does not exist"):
        plots.save(fig, tmp_path / "no" / "x.png")
    with pytest.raises(SymbackpropError, match="finite"):
        plots.cost_figure([1.0, float("nan")])


def test_plot_command(mpl, tmp_path, capsys):
    history = tmp_path / "h.txt"
    history.write_text("0.5\n0.25, 0.125\n")
    cases = [["descent", "--lr", "0.2", "--start", "1,2"], ["activations", "--names", "relu,tanh"],
             ["vanishing", "--steps", "4"], ["cost", "--history", str(history)],
             ["jacobians", "--layers", "2,3", "--activations", "softmax", "--loss", "mse"]]
    for k, case in enumerate(cases):
        out = tmp_path / f"p{k}.png"
        assert main(["plot", *case, "-o", str(out)]) == 0, case
        assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", "descent", "-o", str(tmp_path / "p0.png")]) == 2  # exists, no --force
    assert main(["plot", "descent", "--force", "-o", str(tmp_path / "p0.png")]) == 0
    bad = tmp_path / "bad.txt"
    bad.write_text("one, two")
    for case in (["cost"], ["cost", "--history", str(bad)], ["descent", "--start", "4"],
                 ["activations", "--names", "nope"], ["jacobians", "--layers", "2,100", "--activations", "sigmoid", "--loss", "mse"]):
        assert main(["plot", *case, "-o", str(tmp_path / "bad.png")]) == 2, case
    assert not (tmp_path / "bad.png").exists()
