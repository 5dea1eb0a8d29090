"""Appendices D-H: the gradient (eq. 102-103), the outer product (eq. 104), continuous learning (eq. 105-106),
the batch error as a norm (proposition 1) and the list of topics of appendix H."""
import numpy as np
import sympy as sp

from symbackprop.book.model import CONDITIONAL, FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import is_norm_of_difference, latex
from symbackprop.engine.costs import get_cost

PART = Part("appendix D")
claim = PART.claim
U, V = sp.symbols("u v", real=True)


def _rates(g, count=721):
    """The directional derivatives g . (cos t, sin t) over ``count`` angles t in [0, 2 pi]."""
    angles = np.linspace(0, 2 * np.pi, count)
    return angles, np.cos(angles) * g[0] + np.sin(angles) * g[1]


@claim("appD.inner_product", "appendix D, eq. 102", r"$c\cdot d=|c|\,|d|\cos\theta$, largest when $\cos\theta=1$ "
       r"($c$ and $d$ parallel)", reconstructed=True, equations=(102,),
       passage="is maximum when c and d are parallel, or collinear, or, in other words, have the same direction.")
def inner_product_and_angle():
    c = np.array([3.0, 4.0])
    angles, rates = _rates(c)
    best = float(angles[int(np.argmax(rates))])
    return expect(abs(rates.max() - 5.0) < 1e-4 and abs(best - np.arctan2(4, 3)) < 0.01, "over unit vectors d, "
                  "c . d peaks at |c| when d is parallel to c", compared=[Comparison(
                      "c = (3, 4), 720 unit vectors d", rf"\max_d c\cdot d={rates.max():.6f}\ \text{{at }}"
                      rf"\theta={best:.4f}", r"|c|=5\ \text{at the angle of } c=0.9273", "float64")],
                  values={"max": float(rates.max()), "angle": best})


@claim("appD.steepest", "appendix D, eq. 103", r"$\nabla_df=\nabla f\cdot d=|\nabla f|\cos\theta$ for $|d|=1$, "
       r"largest for $d=\nabla f/|\nabla f|$, where it equals $|\nabla f|$", reconstructed=True, equations=(103,),
       passage="this directional derivative coincides with the magnitude of the gradient of that same function.")
def directional_derivative_is_largest_along_gradient():
    f = U ** 2 + 3 * V
    g = [float(sp.diff(f, s).subs({U: 1, V: 0})) for s in (U, V)]
    t = sp.Symbol("t", real=True)
    unit = sp.Matrix(g) / sp.sqrt(sum(v ** 2 for v in g))
    along = sp.diff(f.subs({U: 1 + t * unit[0], V: t * unit[1]}), t).subs(t, 0)
    _angles, rates = _rates(g)
    norm = float(np.hypot(*g))
    return expect(abs(rates.max() - norm) < 1e-4 and abs(float(along) - norm) < 1e-9, "the rate along grad f/|grad "
                  "f| is |grad f|, the largest over all unit directions; along -grad f it is -|grad f|",
                  compared=[Comparison("f = u^2 + 3v at (1, 0)", rf"\nabla_df={float(along):.6f}\ \text{{(sp.diff "
                                       r"along } d=\nabla f/|\nabla f|)", rf"|\nabla f|=\sqrt{{13}}={norm:.6f}",
                                       f"over 720 unit directions the rates range from {rates.min():.6f} to "
                                       f"{rates.max():.6f}")], values={"max": float(rates.max()), "norm": norm})


@claim("appD.scalar_direction", "appendix D, after eq. 103", r"``$\nabla_df$ and $d$ both have the same direction. "
       r"From this, it follows that $\nabla_df$ has the same direction as $\nabla f$''",
       passage="From this, it follows that \\( \\nabla_d f\\) has the same direction as \\( \\nabla f\\)")
def directional_derivative_is_a_number():
    f = U ** 2 + 3 * V
    grad = sp.Matrix([sp.diff(f, U), sp.diff(f, V)]).subs({U: 1, V: 0})
    d = grad / grad.norm()
    value = sp.nsimplify((grad.T * d)[0])
    return finding(FAILS, "$\\nabla_df$ is a number (the rate of change along $d$); it is the unit vector $d$ that "
                   "has the direction of $\\nabla f$", [(f"f = u^2 + 3v at (1, 0): $\\nabla f={latex(grad.T)}$, "
                                                         f"$d={latex(d.T)}$, $\\nabla_df={latex(value)}$, a scalar")],
                   correct=r"when $\nabla_df$ is largest, $d$ has the direction of $\nabla f$: $d=\nabla f/|\nabla f|$"
                           r", and $\nabla_df=|\nabla f|$",
                   counterexample="f = u^2 + 3v at (1, 0): grad f = (2, 3), and the largest directional derivative "
                                  "is sqrt(13), a number, which has no direction",
                   reading="``$\\nabla_df$'' read as ``$d$''", values={"largest_rate": str(value)})


@claim("appD.sum_of_partials", "appendix D", r"``The sum of these partial derivatives gives, in a way, the "
       r"magnitude of the function's total rate of change''",
       passage="The sum of these partial derivatives gives, in a way, the magnitude of the function\u2019s total rate "
               "of change.")
def gradient_magnitude_is_not_the_sum():
    f = U - V
    partials = [sp.diff(f, U), sp.diff(f, V)]
    total, magnitude = sum(partials), sp.sqrt(sum(p ** 2 for p in partials))
    return finding(FAILS, "the magnitude of the gradient is the square root of the sum of the squared partials, not "
                   "their sum", [f"f = u - v: partials {partials}, their sum {total}, $|\\nabla f|={latex(magnitude)}$"],
                   correct=r"$|\nabla f|=\sqrt{\sum_i\left(\frac{\partial f}{\partial x_i}\right)^2}$ is the largest "
                           r"rate of change (eq. 103)",
                   counterexample="f = u - v: the partials 1 and -1 sum to 0, but f changes at rate sqrt(2) along "
                                  "(1, -1)/sqrt(2)", values={"sum": int(total), "magnitude": str(magnitude)})


@claim("appD.saddle", "appendix D, last paragraph", r"$-\nabla f$ points to the smallest rate ``provided that the "
       r"point where it is being calculated is not a saddle point or a cusp''",
       passage="provided that the point where it is being calculated is not a saddle point or a cusp.")
def proviso_is_a_nonzero_gradient():
    minimum = sp.Matrix([sp.diff(U ** 2 + V ** 2, s) for s in (U, V)]).subs({U: 0, V: 0})
    return finding(CONDITIONAL, "the direction $-\\nabla f$ exists wherever $f$ is differentiable with $\\nabla f\\ne0$;"
                   " at every critical point, a minimum or maximum as much as a saddle, it is the zero vector",
                   [f"f = u^2 + v^2 at its minimum (0, 0): $\\nabla f={latex(minimum.T)}$ (not a saddle, not a cusp)"],
                   condition="the point is not a critical point ($\\nabla f\\ne0$) and $f$ is differentiable there",
                   correct="provided that $\\nabla f\\ne0$ at the point (it is not a minimum, maximum or saddle) and "
                           "$f$ is differentiable there (not a cusp)",
                   values={"gradient_at_minimum": [int(v) for v in minimum]})


@claim("appE.outer", "appendix E, eq. 104", r"$e\otimes c=e\,c$ ($m\times1$ times $1\times n$) $=[e_ic_j]$, an "
       r"$m\times n$ matrix; the lengths may differ", reconstructed=True, equations=(104,), chapter="appendix E",
       passage="Note that, for the outer product, the number of elements in each vector does not need to be the same.")
def outer_product_is_column_times_row():
    e, c = sp.Matrix(sp.symbols("e1:4")), sp.Matrix([sp.symbols("c1:3")])
    M = e * c
    ok = M.shape == (3, 2) and all(M[i, j] == e[i] * c[j] for i in range(3) for j in range(2))
    ok = ok and np.allclose(np.outer([1, 2, 3], [4, 5]), np.array([[1], [2], [3]]) @ np.array([[4, 5]]))
    return expect(ok, "the outer product is the matrix product of a column and a row", compared=[
        Comparison("m = 3, n = 2", r"e\,c", latex(M), "entry by entry; np.outer agrees")])


# -- appendix F: continuous learning -------------------------------------------------------------------
@claim("appF.telescoping", "appendix F, eq. 105", r"$W^l_{t+1}=W^l_1-\sum_{\tau=1}^{t}\eta_\tau\frac{\partial E}"
       r"{\partial W^l}\Big|_\tau$ (and the same for $b^l$)", reconstructed=True, equations=(105,),
       chapter="appendix F", passage="they can be shown, as we will see next, in the explicit form of a summation whose "
                                     "terms all have a small coefficient")
def updates_telescope_to_a_sum():
    rng = np.random.default_rng(9)
    W = W0 = rng.normal(size=(2, 3))
    steps = [(0.1 / (t + 1), rng.normal(size=(2, 3))) for t in range(20)]
    for eta, g in steps:
        W = W - eta * g
    diff = float(np.max(np.abs(W - (W0 - sum(eta * g for eta, g in steps)))))
    return expect(diff < 1e-12, "t updates add up to the initial weights minus the sum of the steps", compared=[
        Comparison("20 steps with $\\eta_t=0.1/t$ (float64)", r"W_{21}\ \text{(iterated)}",
                   r"W_1-\sum_{\tau=1}^{20}\eta_\tau g_\tau", f"largest difference {diff:.1e}")],
        values={"max_difference": diff})


def _descent_vs_flow(c, steps=2000):
    """Gradient descent on E = w^2/2 with eta_t = c/sqrt(t) against the gradient flow w(s) = w_1 e^{-s}, at the
    accumulated time s_t = sum eta: the largest |w_t - w(s_t)| over the run."""
    w, s, worst = 1.0, 0.0, 0.0
    for t in range(1, steps + 1):
        eta = c / np.sqrt(t)
        w, s = w - eta * w, s + eta
        worst = max(worst, abs(w - np.exp(-s)))
    return worst, s


@claim("appF.integral", "appendix F, eq. 106", r"$W^l(t)=W^l_{t_0}-\int_{t_0}^{t}\frac{\partial E}{\partial W^l}\,"
       r"d\tau$ with $\eta_{\tau+1}=d\tau$, ``the difference between two instants $\tau+1$ and $\tau$''",
       reconstructed=True, equations=(106,), chapter="appendix F",
       passage="where we set \\( \\eta_{\\tau+1}=d\\tau\\), because if \\( \\eta\\) is small enough")
def integral_needs_accumulated_time():
    runs = {c: _descent_vs_flow(c) for c in (0.1, 0.01)}
    return finding(CONDITIONAL, "the sum becomes an integral in the accumulated learning time $s=\\sum\\eta_\\tau$ "
                   "(the gradient flow $\\frac{dW}{ds}=-\\frac{\\partial E}{\\partial W}$), not in the step count "
                   "$\\tau$, whose instants $\\tau$ and $\\tau+1$ differ by 1",
                   [f"E = w^2/2, w_1 = 1, eta_t = {c}/sqrt(t), 2000 steps: accumulated time s = {s:.3f}, largest "
                    f"|w_t - e^{{-s_t}}| = {worst:.1e}" for c, (worst, s) in runs.items()],
                   condition="$\\tau$ read as the accumulated time $s_t=\\sum_{k\\le t}\\eta_k$ (so that "
                             "$ds=\\eta_{t+1}$), and the integral as the limit $\\eta\\to0$ at fixed $s$",
                   correct=r"$W^l(s)=W^l(s_0)-\int_{s_0}^{s}\frac{\partial E}{\partial W^l}\big(W(\sigma)\big)\,d\sigma$, "
                           r"$s_t=\sum_{k\le t}\eta_k$",
                   values={str(c): worst for c, (worst, _s) in runs.items()})


# -- appendix G and H --------------------------------------------------------------------------------------
@claim("appG.batch_norm", "appendix G, proposition 1",
       r"if $E_j$ is a norm, $E=\frac1\beta\sum_{j=1}^{\beta}E_j(A^j)$ is a norm on $\mathbb{R}^{r\times\beta}$",
       chapter="appendix G", passage="If \\( E_j\\) is a norm, then \\( E=\\frac{1}{\\beta}\\sum_{j=1}^{\\beta}"
                                     "E_j(A^j)\\) is also one.")
def mean_of_column_norms_is_a_norm():
    rng = np.random.default_rng(10)

    def norm(M):
        return np.abs(M).sum(axis=0).mean()
    worst = 0.0
    for _ in range(200):
        Um, Vm, c = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal()
        worst = max(worst, abs(norm(c * Um) - abs(c) * norm(Um)), norm(Um + Vm) - norm(Um) - norm(Vm))
    return expect(worst < 1e-12, "the mean of column norms is a norm: positivity, homogeneity and the triangle "
                  "inequality carry over column by column",
                  [f"E_j = L1 norm, 200 random 3 x 4 matrices: worst violation {max(worst, 0.0):.1e}",
                   "the premise matters: ch. 5 uses MSE, whose E_j is not a norm (" +
                   is_norm_of_difference(get_cost("mse"))[0] + "), so the proposition does not cover it"],
                  values={"worst": worst})


TOPICS = ("Weight Initialization", "Data Normalization", "Learning Rate and Optimizers", "Regularization",
          "Network Architectures", "Data Engineering and Preprocessing", "Training Techniques",
          "Learning Curves and Evaluation", "Transfer Learning")


@claim("appH.count", "appendix H", r"``Below are 9 essential topics'' (H.1-H.9)", chapter="appendix H",
       passage="Below are 9 essential topics for making neural network learning possible or for enhancing it")
def nine_topics():
    return expect(len(TOPICS) == 9, "appendix H lists nine topics, H.1 to H.9", [", ".join(TOPICS)],
                  values={"topics": len(TOPICS)})


@claim("appH.examples_label", "appendix H.9", r"the label before the examples of H.9: ``Exemplos:''",
       chapter="appendix H", passage="Exemplos:")
def label_left_in_portuguese():
    labels = {f"H.{k}": "Examples:" for k in range(1, 9)} | {"H.9": "Exemplos:"}
    odd = [k for k, v in labels.items() if v != "Examples:"]
    return finding(FAILS, "H.9 labels its examples in Portuguese (\u201cExemplos:\u201d); H.1-H.8 say "
                   "\u201cExamples:\u201d", [f"labels differing from H.1-H.8: {odd}"], correct="Examples:",
                   counterexample="H.1 to H.8 each introduce their list with \u201cExamples:\u201d",
                   values={"odd": odd})
