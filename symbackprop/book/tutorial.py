"""The companion tutorial, *Neural Network Fundamentals* (neural_network_fundamentals_tutorial.txt): the values
its listings print, its exercises, and its two-layer network, checked with the engine where it applies."""
import itertools
from fractions import Fraction

import numpy as np
import sympy as sp

from symbackprop.book.model import CONDITIONAL, FAILS, HOLDS, Comparison, Part, expect, finding
from symbackprop.book.shared import central, dot, relu, sigmoid
from symbackprop.engine.activations import get_activation
from symbackprop.engine.costs import get_cost
from symbackprop.engine.simplify import output_delta
from symbackprop.engine.symbols import Y

PART = Part("tutorial", source="tutorial")

#: The words of the tutorial each claim rests on (verbatim).
PASSAGES = {
    "tut.weighted_sum": "# 0.5*0.4 + 0.3*0.6 + 0.2*0.8 - 0.1 = 0.44",
    "tut.sigmoid_values": "# [0.119, 0.269, 0.5, 0.731, 0.881]",
    "tut.sigmoid_derivative_values": "# [0.105, 0.197, 0.25, 0.197, 0.105]",
    "tut.tanh_values": "# [-0.964, -0.762, 0.0, 0.762, 0.964]",
    "tut.relu_values": "print(f\"ReLU: {relu(x)}\") # [0, 0, 0, 1, 2]",
    "tut.leaky_elu_values": "# [-0.865, -0.632, 0, 1, 2]",
    "tut.softmax_values": "# [0.659, 0.242, 0.099]",
    "tut.softmax_T0.1": "# Low temp (0.1): almost one-hot [0.99, 0.01, 0.00]",
    "tut.softmax_T5": "# High temp (5.0): more uniform [0.39, 0.33, 0.28]",
    "tut.explorer_at_0": "Adjust the input value and see how different activation functions transform it in real-time.",
    "tut.forward_practice": "# [1.5, 1.7]",
    "tut.chain_rule_example": "dy_dx = df_dg * dg_dx # = 28",
    "tut.chain_exercise": "dy_dw = 2 * z * x # 2 * 7 * 2 = 28",
    "tut.step_practice": "# 0.6*0.5 + 0.8*0.5 - 0.4 = 0.3",
    "tut.logic_gates": "# AND: only 1 when both inputs are 1",
    "tut.xor": "# Output layer: AND of hidden outputs",
    "tut.linear_stack": "f(g(x)) = W2(W1*x + b1) + b2 = (W2*W1)*x + (W2*b1 + b2) = W'x + b' (still linear!)",
    "tut.activation_ranges": "| Softmax | (0, 1), sum=1 | Multi-class output layer | N/A |",
    "tut.bce_loss": "def compute_loss(A2, Y):",
    "tut.sigmoid_bce_delta": "dZ2 = A2 - Y # Shape: (1, m)",
    "tut.backprop_2layer": "print(f\"Relative difference: {diff:.2e}\")",
    "tut.training": "# Label based on sum",
    "tut.gradient_descent_path": "w1, w2 = 4.0, 3.0",
    "tut.vanishing_gradient": "# Output shows sigmoid gradient near 0 for x=-10, x=10",
}


def claim(claim_id, location, statement_latex, **details):
    return PART.claim(claim_id, location, statement_latex, passage=PASSAGES[claim_id], **details)

# -- the tutorial (neural_network_fundamentals_tutorial.txt) -------------------------------------
def _act_values(name, xs, derivative=False, **params):
    act = get_activation(name, **params)
    f = act.derivative if derivative else act.formula
    return [float(f.subs(Y, v)) for v in xs]


def _softmax_values(logits, T=1):
    return [float(v) for v in get_activation("softmax", T=T)([sp.Rational(str(v)) for v in logits])]


XS = (-2, -1, 0, 1, 2)
# (id, location, what the tutorial prints or states, the computation (engine where it applies), printed, decimals)
PRINTED = (
    ("tut.weighted_sum", "tutorial, Weights and Biases", "0.5*0.4 + 0.3*0.6 + 0.2*0.8 - 0.1 = 0.44",
     lambda: [float(dot([0.5, 0.3, 0.2], [0.4, 0.6, 0.8]) - Fraction("0.1"))], [0.44], 3),
    ("tut.sigmoid_values", "tutorial, Sigmoid Activation", "sigmoid([-2..2]) = [0.119, 0.269, 0.5, 0.731, 0.881]",
     lambda: _act_values("sigmoid", XS), [0.119, 0.269, 0.5, 0.731, 0.881], 3),
    ("tut.sigmoid_derivative_values", "tutorial, Sigmoid Activation",
     "sigmoid'([-2..2]) = [0.105, 0.197, 0.25, 0.197, 0.105]",
     lambda: _act_values("sigmoid", XS, True), [0.105, 0.197, 0.25, 0.197, 0.105], 3),
    ("tut.tanh_values", "tutorial, Tanh", "tanh([-2..2]) = [-0.964, -0.762, 0.0, 0.762, 0.964]",
     lambda: _act_values("tanh", XS), [-0.964, -0.762, 0.0, 0.762, 0.964], 3),
    ("tut.relu_values", "tutorial, ReLU", "relu([-2..2]) = [0, 0, 0, 1, 2], derivative [0, 0, 0, 1, 1]",
     lambda: _act_values("relu", XS) + _act_values("relu", XS, True), [0, 0, 0, 1, 2, 0, 0, 0, 1, 1], 3),
    ("tut.leaky_elu_values", "tutorial, Leaky ReLU and Variants",
     "leaky_relu = [-0.02, -0.01, 0, 1, 2], elu = [-0.865, -0.632, 0, 1, 2]",
     lambda: _act_values("leaky_relu", XS, alpha="0.01") + _act_values("elu", XS, alpha=1),
     [-0.02, -0.01, 0, 1, 2, -0.865, -0.632, 0, 1, 2], 3),
    ("tut.softmax_values", "tutorial, Softmax", "softmax([2.0, 1.0, 0.1]) = [0.659, 0.242, 0.099], sum 1.000",
     lambda: _softmax_values([2.0, 1.0, 0.1]), [0.659, 0.242, 0.099], 3),
    ("tut.softmax_T0.1", "tutorial, Softmax temperature exercise",
     "T = 0.1: 'almost one-hot [0.99, 0.01, 0.00]' for logits [2.0, 1.0, 0.5]",
     lambda: _softmax_values([2.0, 1.0, 0.5], T="0.1"), [0.99, 0.01, 0.00], 2,
     (("the comment is read as an illustration of 'almost one-hot' (the first probability is at least 0.99 "
       "and the others are near 0), not as the printed output"), lambda v: v[0] >= 0.99 and max(v[1:]) < 0.01)),
    ("tut.softmax_T5", "tutorial, Softmax temperature exercise",
     "T = 5.0: 'more uniform [0.39, 0.33, 0.28]' for logits [2.0, 1.0, 0.5]",
     lambda: _softmax_values([2.0, 1.0, 0.5], T=5), [0.39, 0.33, 0.28], 2),
    ("tut.explorer_at_0", "tutorial, Activation Function Explorer", ("at input 0: sigmoid 0.500, tanh 0.000, "
     "ReLU 0, Leaky ReLU 0"), lambda: [_act_values(n, [0])[0] for n in ("sigmoid", "tanh", "relu", "leaky_relu")],
     [0.5, 0.0, 0, 0], 3),
    ("tut.forward_practice", "tutorial, Forward Propagation practice",
     "X = [1, 2], W = [[0.5, 0.5], [0.3, 0.7]]: Z = [1.5, 1.7], ReLU(Z) = [1.5, 1.7]",
     lambda: [float(dot([0.5, 0.5], [1, 2])), float(dot([0.3, 0.7], [1, 2]))] * 2, [1.5, 1.7, 1.5, 1.7], 3),
    ("tut.chain_rule_example", "tutorial, The Chain Rule", "y = (2x + 1)^2 at x = 3: dy/dx = 28",
     lambda: [float(sp.diff((2 * sp.Symbol("x") + 1) ** 2, "x").subs("x", 3))], [28], 3),
    ("tut.chain_exercise", "tutorial, Backpropagation practice",
     "y = (xw + b)^2, x = 2, w = 3, b = 1: z = 7, y = 49, dy/dw = 28, dy/db = 14",
     lambda: _chain_exercise(), [7, 49, 28, 14], 3),
)


def _chain_exercise():
    x, w, b = sp.symbols("x w b")
    y = (x * w + b) ** 2
    at = {x: 2, w: 3, b: 1}
    return [float((x * w + b).subs(at)), float(y.subs(at)), float(sp.diff(y, w).subs(at)), float(sp.diff(y, b).subs(at))]


def _printed_check(compute, printed, decimals, illustration=None):
    """Printed numbers against the computation; ``illustration`` = (reading, test) for a comment that
    is plausibly a rough illustration: if the test holds, the verdict is 'holds under that reading'."""
    def printed_values_match():
        values = compute()
        rounded = [round(v, decimals) for v in values]
        wrong = [(i, p, r) for i, (p, r) in enumerate(zip(printed, rounded)) if abs(p - r) > 10 ** -(decimals + 3)]
        compared = [Comparison("the values", str(list(printed)) + r"\ \text{(printed)}",
                               str(rounded) + rf"\ \text{{(computed, rounded to {decimals} decimals)}}",
                               f"unrounded: {[float(f'{v:.6g}') for v in values]}")]
        found = {"computed": values, "rounded": rounded, "printed": list(printed)}
        if not wrong:
            return finding(HOLDS, "the printed values are the computed ones", compared=compared, values=found)
        i, p, r = wrong[0]
        if illustration and illustration[1](values):
            return finding(CONDITIONAL, f"entry {i + 1} reads {p} but computes to {r}; right as an illustration",
                           compared=compared, correct=f"the listing prints {rounded} (to {decimals} decimals)",
                           condition=illustration[0], values=found)
        return finding(FAILS, f"entry {i + 1} is printed {p} but computes to {r}", compared=compared,
                       correct=f"the values are {rounded} (to {decimals} decimals)",
                       counterexample=f"entry {i + 1}: {values[i]:.6g}, i.e. {r}, not {p}", values=found)
    printed_values_match.__name__ = "printed_values_match"
    return printed_values_match


for _id, _loc, _text, _compute, _printed, _decimals, *_illustration in PRINTED:
    PART.add(_id, _loc, _text, _printed_check(_compute, _printed, _decimals, *_illustration), passage=PASSAGES[_id])


@claim("tut.step_practice", "tutorial, Neurons and Perceptrons practice",
       r"inputs [0.6, 0.8], weights [0.5, 0.5], bias $-0.4$: weighted sum $0.3$, step output 1")
def step_perceptron_sum():
    exact = dot([0.6, 0.8], [0.5, 0.5]) - Fraction("0.4")
    printed = f"{np.dot(np.array([0.6, 0.8]), np.array([0.5, 0.5])) - 0.4}"
    return expect(exact == Fraction("0.3"), "0.6(0.5) + 0.8(0.5) - 0.4 = 0.3 > 0, so the step gives 1",
                  [f"float64 prints the sum as {printed} (the comment gives the exact value)"],
                  compared=[Comparison("the weighted sum", r"0.6(0.5)+0.8(0.5)-0.4", str(exact), "exact decimals")],
                  values={"exact": str(exact), "float": float(printed)})


def _perceptron_gate(y, seed):
    """The tutorial's Perceptron class (step activation, error-driven updates), lr 0.1, 100 epochs."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    w, bias = np.random.RandomState(seed).randn(2) * 0.01, 0.0
    for _ in range(100):
        errors = 0
        for x, target in zip(X, y):
            error = target - (1 if np.dot(x, w) + bias > 0 else 0)
            if error:
                w, bias, errors = w + 0.1 * error * x, bias + 0.1 * error, errors + 1
        if errors == 0:
            break
    return [1 if np.dot(x, w) + bias > 0 else 0 for x in X]


@claim("tut.logic_gates", "tutorial, Complete Perceptron Example and OR practice",
       r"the perceptron learns AND $\to$ 0,0,0,1 and OR $\to$ 0,1,1,1")
def perceptron_learns_and_or():
    runs = {gate: [_perceptron_gate(np.array(y), s) for s in range(10)]
            for gate, y in (("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1]))}
    ok = all(r == [0, 0, 0, 1] for r in runs["AND"]) and all(r == [0, 1, 1, 1] for r in runs["OR"])
    return expect(ok, "both gates are learned for every seed tried (they are linearly separable)",
                   [f"{g}, seeds 0-9: {sorted({tuple(r) for r in rs})}" for g, rs in runs.items()])


@claim("tut.xor", "tutorial, XOR practice", r"hidden OR and NAND neurons, output AND: XOR = 0, 1, 1, 0")
def hard_coded_xor():
    step = lambda v: (v > 0).astype(int)
    W1, b1, W2, b2 = np.array([[1, 1], [-1, -1]]), np.array([-0.5, 1.5]), np.array([[1], [1]]), np.array([-1.5])
    out = [int(step(np.dot(step(np.dot(x, W1.T) + b1), W2) + b2)[0]) for x in ([0, 0], [0, 1], [1, 0], [1, 1])]
    return expect(out == [0, 1, 1, 0], "the hard-coded network computes XOR", [f"outputs: {out}"])


@claim("tut.linear_stack", "tutorial, Why Non-linearity Matters",
       r"$W_2(W_1x+b_1)+b_2=(W_2W_1)x+(W_2b_1+b_2)$: stacked linear layers are linear")
def stacked_linear_layers_are_linear():
    W1, W2 = sp.MatrixSymbol("W1", 2, 3).as_explicit(), sp.MatrixSymbol("W2", 2, 2).as_explicit()
    x, b1, b2 = (sp.MatrixSymbol(n, k, 1).as_explicit() for n, k in (("x", 3), ("b1", 2), ("b2", 2)))
    ok = sp.expand(W2 * (W1 * x + b1) + b2 - ((W2 * W1) * x + (W2 * b1 + b2))) == sp.zeros(2, 1)
    return expect(ok, "the identity holds entry by entry", ["2x3 and 2x2 symbolic matrices, expanded difference 0"])


@claim("tut.activation_ranges", "tutorial, Activation Function Comparison table",
       r"ranges: sigmoid $(0,1)$, tanh $(-1,1)$, ReLU $[0,\infty)$, Leaky ReLU $(-\infty,\infty)$, softmax $(0,1)$ "
       r"summing to 1")
def activation_ranges():
    def limits(f):  # a Piecewise (relu, leaky_relu) tends to its y > 0 branch at +oo and its other branch at -oo
        low, high = (f.args[1].expr, f.args[0].expr) if isinstance(f, sp.Piecewise) else (f, f)
        return sp.limit(low, Y, -sp.oo), sp.limit(high, Y, sp.oo)
    lim = {n: limits(get_activation(n).formula) for n in ("sigmoid", "tanh", "relu", "leaky_relu")}
    ok = lim == {"sigmoid": (0, 1), "tanh": (-1, 1), "relu": (0, sp.oo), "leaky_relu": (-sp.oo, sp.oo)}
    return expect(ok, "the limits at -oo and +oo match the printed ranges (ReLU reaches 0 at y <= 0)",
                   [f"{n}: {a} .. {b}" for n, (a, b) in lim.items()] + ["softmax: see sec2.4.table (sums to 1)"])


def _tut_forward(X, p):
    Z1 = np.dot(p["W1"], X) + p["b1"]
    A1 = relu(Z1)
    Z2 = np.dot(p["W2"], A1) + p["b2"]
    return sigmoid(Z2), {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": sigmoid(Z2)}


def _tut_loss(A2, Yt):
    eps = 1e-8
    return float(-np.mean(Yt * np.log(A2 + eps) + (1 - Yt) * np.log(1 - A2 + eps)))


def _tut_backward(X, Yt, p, cache):
    m = X.shape[1]
    dZ2 = cache["A2"] - Yt
    dZ1 = np.dot(p["W2"].T, dZ2) * (cache["Z1"] > 0)
    return {"dW1": (1 / m) * np.dot(dZ1, X.T), "db1": (1 / m) * np.sum(dZ1, axis=1, keepdims=True),
            "dW2": (1 / m) * np.dot(dZ2, cache["A1"].T), "db2": (1 / m) * np.sum(dZ2, axis=1, keepdims=True)}


@claim("tut.bce_loss", "tutorial, Computing the Loss",
       r"\texttt{compute\_loss} is the binary cross-entropy $-\frac1m\sum[y\log a+(1-y)\log(1-a)]$")
def compute_loss_is_bce():
    Yt, A2 = np.array([[1, 0, 1, 1, 0]]), np.array([[0.9, 0.2, 0.8, 0.7, 0.1]])
    book = float(get_cost("bce")([sp.Rational(str(a)) for a in A2[0]], [int(v) for v in Yt[0]]).evalf())
    value = _tut_loss(A2, Yt)
    return expect(abs(value - book) < 1e-6, "it is the book's BCE (the mean over the m samples, one output each)",
                   [(f"example of the tutorial: compute_loss = {value:.6f}, book's table formula = {book:.6f} "
                    "(-(ln 0.9 + ln 0.8 + ln 0.8 + ln 0.7 + ln 0.9)/5)"), "the 1e-8 inside the logs shifts it by < 1e-7"])


@claim("tut.sigmoid_bce_delta", "tutorial, Computing Gradients for Output Layer",
       r"\texttt{dZ2 = A2 - Y} (simplified for sigmoid + cross-entropy), with $\frac1m$ applied in dW2, db2")
def sigmoid_bce_delta():
    found = output_delta(get_activation("sigmoid"), get_cost("bce"))
    return finding(CONDITIONAL, "for sigmoid + BCE the engine derives delta = (a - z)/n: with one output unit "
                   "(n = 1) dZ2 = A2 - Y is exact", [f"engine: {found.summary()}"],
                   condition="one output unit (n = 1), as in the tutorial's 2-4-1 network; with n outputs and a "
                             "loss averaged over all n*m entries the delta is (A2 - Y)/n")


@claim("tut.backprop_2layer", "tutorial, Complete Backpropagation and gradient-checking exercise",
       r"\texttt{backward\_propagation} returns the gradient of \texttt{compute\_loss}; the numerical check shows a "
       r"tiny relative difference")
def two_layer_backprop_gradient():
    rng = np.random.RandomState(0)
    lines, rel = [], {}
    for n_out in (1, 2):
        p = {"W1": rng.randn(4, 3), "b1": rng.randn(4, 1) * 0.1, "W2": rng.randn(n_out, 4), "b2": np.zeros((n_out, 1))}
        X, Yt = rng.randn(3, 5), rng.randint(0, 2, (n_out, 5))
        grads = _tut_backward(X, Yt, p, _tut_forward(X, p)[1])
        num = central(lambda X=X, p=p, Yt=Yt: _tut_loss(_tut_forward(X, p)[0], Yt), p["W1"], (0, 0))
        rel[n_out] = grads["dW1"][0, 0] / num
        lines.append(f"3-4-{n_out} network, 5 samples: analytic dW1[0,0] / numerical = {rel[n_out]:.6f}")
    lines.append("run in the tutorial's order, `params` then holds the 2-4-1 network of 'Putting It All Together', "
                 "and np.dot(W1 (4x2), X (3x5)) raises a shape error")
    return finding(CONDITIONAL, "right for one output unit; with n outputs the analytic gradient is n times the "
                   "numerical one", lines, values={"ratio": rel},
                   condition="the network has a single output unit (Y of shape (1, m)) and as many inputs as X",
                   correct=r"with $n$ outputs use \texttt{dZ2 = (A2 - Y)/n} (compute\_loss averages over $n\cdot m$ "
                           r"entries)",
                   counterexample=f"3-4-2 network: analytic / numerical = {rel[2]:.4f}")


@claim("tut.training", "tutorial, Putting It All Together",
       r"\texttt{train\_network} on 200 points labelled by $x_1+x_2>0$ learns the task (loss from $\ln2$ down)")
def training_learns_the_task():
    np_state = np.random.get_state()
    try:
        np.random.seed(42)
        X = np.random.randn(2, 200)
        Yt = ((X[0] + X[1]) > 0).astype(int).reshape(1, -1)
        np.random.seed(42)
        p = {"W1": np.random.randn(4, 2) * 0.01, "b1": np.zeros((4, 1)), "W2": np.random.randn(1, 4) * 0.01,
             "b2": np.zeros((1, 1))}
    finally:
        np.random.set_state(np_state)
    losses = []
    for _ in range(1000):
        A2, cache = _tut_forward(X, p)
        losses.append(_tut_loss(A2, Yt))
        g = _tut_backward(X, Yt, p, cache)
        for k in ("W1", "b1", "W2", "b2"):
            p[k] = p[k] - 0.5 * g["d" + k]
    accuracy = float(np.mean((_tut_forward(X, p)[0] > 0.5) == Yt))
    ok = abs(losses[0] - np.log(2)) < 1e-3 and losses[-1] < 0.2 and accuracy > 0.95
    return expect(ok, "the loss falls from ln 2 and the accuracy ends high", [
        (f"epoch 0 loss {losses[0]:.4f} (ln 2 = {np.log(2):.4f}), epoch 999 loss {losses[-1]:.4f}, "
        f"final accuracy {accuracy * 100:.1f}%")])


@claim("tut.gradient_descent_path", "tutorial, gradient descent exercise",
       r"on $L=w_1^2+w_2^2$ from $(4,3)$ with rate 0.1, 20 steps head to the minimum $(0,0)$")
def gradient_descent_on_a_bowl():
    w = np.array([4.0, 3.0])
    losses = [float(w @ w)]
    for _ in range(20):
        w = w - 0.1 * 2 * w
        losses.append(float(w @ w))
    ok = np.allclose(w, 0.8 ** 20 * np.array([4.0, 3.0])) and all(a > b for a, b in itertools.pairwise(losses))
    return expect(ok, "each step multiplies w by 0.8; the loss falls every step",
                   [f"after 20 steps w = {w.round(4).tolist()} = 0.8^20 (4, 3); loss {losses[0]} -> {losses[-1]:.5f}"])


@claim("tut.vanishing_gradient", "tutorial, vanishing-gradient exercise",
       r"sigmoid's gradient is near 0 at $x=\pm10$ while ReLU's stays 1 for $x>0$")
def sigmoid_gradient_vanishes():
    sig = _act_values("sigmoid", (-10, -5, 0, 5, 10), True)
    relu = _act_values("relu", (-10, -5, 0, 5, 10), True)
    ok = sig[0] < 1e-4 and sig[-1] < 1e-4 and relu == [0, 0, 0, 1, 1]
    return expect(ok, "sigmoid' = 4.5e-5 at |x| = 10; relu' = 1 for x > 0", [
        f"sigmoid' at -10, -5, 0, 5, 10: {[f'{v:.6f}' for v in sig]}", f"relu': {relu}"])


