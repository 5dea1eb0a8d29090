"""Chapter 4, sec. 4.9: the NumPy MNIST listing (784-128-64-10, relu, relu, sigmoid), run verbatim on
synthetic data of the same shapes, against central differences of the cost it prints."""
from functools import cache

import numpy as np

from symbackprop.book import preface
from symbackprop.book.model import CONDITIONAL, FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import central, relu, sigmoid

PART = Part("ch. 4")
claim = PART.claim


def listing4_gradients(W, b, x, z):
    """Lines 21-64 of the sec. 4.9 listing, verbatim in NumPy: (dE_dW, dE_db)."""
    activations, linearities, a_previous = {"a0": x}, {}, x
    L = len(W)
    for l in range(1, L + 1):
        y = np.dot(W[l], a_previous) + b[l]
        linearities[f"y{l}"] = y
        a = sigmoid(y) if l == L else relu(y)
        activations[f"a{l}"] = a
        a_previous = a
    P = activations[f"a{L}"]
    dE_dy = (P - z) * (P * (1 - P))  # mean_squared_error_derivative(z, P) * sigmoid_derivative(P)
    dE_dW, dE_db = {}, {}
    for l in reversed(range(1, L + 1)):
        dE_dW[l] = np.outer(dE_dy, activations[f"a{l - 1}"])
        dE_db[l] = dE_dy
        if l > 1:
            dE_dy = np.dot(W[l].T, dE_dy) * np.where(linearities[f"y{l - 1}"] > 0, 1, 0)
    return dE_dW, dE_db


def listing4_cost(W, b, x, z, half_sum=False):
    """The printed cost np.mean((z - P)^2), or (1/2) sum (z - P)^2 when ``half_sum``."""
    a = x
    for l in range(1, len(W) + 1):
        y = W[l] @ a + b[l]
        a = sigmoid(y) if l == len(W) else relu(y)
    return float(0.5 * np.sum((z - a) ** 2)) if half_sum else float(np.mean((z - a) ** 2))


@cache
def listing4_ratios():
    """Listing gradient / central difference, for the 3 largest entries of each layer: (printed cost, half sum)."""
    rng = np.random.RandomState(0)
    dims = [784, 128, 64, 10]
    W = {l: rng.randn(dims[l], dims[l - 1]) * 0.1 for l in range(1, 4)}
    b = {l: rng.randn(dims[l], 1) * 0.1 for l in range(1, 4)}
    x, z = rng.uniform(size=(784, 1)), np.eye(10)[[3]].T
    gW, _ = listing4_gradients(W, b, x, z)
    ratios, half = [], []
    for l in (1, 2, 3):
        for index in np.argsort(-np.abs(gW[l]).ravel())[:3]:
            ij = np.unravel_index(index, gW[l].shape)
            ratios.append(float(gW[l][ij] / central(lambda: listing4_cost(W, b, x, z), W[l], ij)))
            half.append(float(gW[l][ij] / central(lambda: listing4_cost(W, b, x, z, True), W[l], ij)))
    return ratios, half


@claim("sec4.9.chapter_label", "sec. 4.9, introduction to the listing",
       r"``we will see all about this in Chapter [train-in-batches]''",
       passage="Will train with one vector at a time, instead of batches (we will see all about this in Chapter "
               "[train-in-batches]).")
def chapter_label_resolves():
    label = "train-in-batches"
    resolved = [h for h in preface.HEADINGS if preface._title(h) == f"[{label}]"]
    target = next(h for h in preface.HEADINGS if preface._title(h) == "Training in Batches")  # the chapter the label means
    return finding(FAILS, "an unresolved cross-reference label is printed instead of the chapter number",
                   [f"the label \u201c[{label}]\u201d is not a heading; the chapter it names is \u201c{target}\u201d",
                    f"headings titled “[{label}]”: {len(resolved)} of {len(preface.HEADINGS)}"],
                   correct="we will see all about this in Chapter 5 (Training in Batches)",
                   counterexample=f"no heading of the book is \u201c[{label}]\u201d; \u201c{target}\u201d is chapter 5",
                   values={"target": target, "resolved": len(resolved)})


@claim("sec4.9.chapters", "sec. 4.9, introduction", r"``The objective here is to see the theory and equations from "
       r"Chapters 1, 2, and 3 as explicitly as possible''", passage="The objective here is to see the theory and "
                                                                   "equations from Chapters 1, 2, and 3 as explicitly "
                                                                   "as possible.")
def listing_implements_chapter_four():
    steps = {"forward pass (eq. 6, 11, 46-47)": 2, "costs and activations (sec. 3.5)": 3,
             "backward loop: delta by eq. 65, np.outer by eq. 66-68": 4, "update (eq. 74-78)": 4}
    return finding(CONDITIONAL, "the listing's forward pass and tools come from chapters 2-3, but its backward loop "
                   "and update are chapter 4's recursion (eq. 65-66, 74-78)",
                   [f"{step}: chapter {ch}" for step, ch in steps.items()],
                   condition="read as \u201cthe tools of chapters 1-3\u201d; the multi-layer backpropagation the "
                             "listing implements (\u201cmirroring ... the mathematical derivation we saw in this "
                             "chapter\u201d) is chapter 4's",
                   correct="the theory and equations from Chapters 2 to 4", values={"chapters": sorted(set(steps.values()))})


@claim("ch4.listing.cost_derivative", "sec. 4.9, listing step 2, lines 15-19",
       r"\texttt{mean\_squared\_error}$=\frac1n\sum_i(z_i-P_i)^2$ (\texttt{np.mean}) has derivative \texttt{P - z}",
       passage="def mean_squared_error_derivative(z, P):")
def listing_cost_derivative_scale():
    ratios, _ = listing4_ratios()
    return finding(
        FAILS, "the listing's gradient is 5 times the gradient of the cost it prints (n = 10 outputs: factor n/2)",
        [("P - z is the derivative of $\\frac12\\sum_i(z_i-P_i)^2$; the effective learning rate on the printed cost "
         "is 5 * 0.01 = 0.05")],
        compared=[Comparison("784-128-64-10 relu/relu/sigmoid, synthetic $x\\in[0,1]^{784}$, one-hot z",
                             r"\text{listing's } \frac{\partial E}{\partial W^l}",
                             r"\text{central difference of np.mean}((z-P)^2)",
                             f"ratio at the 3 largest entries of each layer: {[round(r, 6) for r in ratios]}")],
        correct=r"$\frac{\partial}{\partial P_i}\frac1n\sum_k(z_k-P_k)^2=\frac{2(P_i-z_i)}{n}=\frac{P_i-z_i}{5}$ "
                r"for $n=10$ (or keep \texttt{P - z} and print the cost $\frac12\sum_i(z_i-P_i)^2$)",
        counterexample="n = 10, z = 0, P = (0.5, 0, ..., 0): E = 0.25/10 = 0.025 and dE/dP_1 = 2(0.5)/10 = 0.1, "
                       "but the listing uses P_1 - z_1 = 0.5", values={"ratios": ratios})


@claim("ch4.listing.backprop", "sec. 4.9, listing step 3, lines 45-69",
       r"the backward loop computes $\delta^l$ by eq. 65, $\frac{\partial E}{\partial W^l}=\delta^l\otimes a^{l-1}$ "
       r"(\texttt{np.outer}) and $\frac{\partial E}{\partial b^l}=\delta^l$, then updates every layer",
       passage="dE_dW[l] = np.outer(dE_dy, a_previous)")
def listing_backward_loop_is_exact():
    _ratios, half = listing4_ratios()
    worst = max(abs(r - 1) for r in half)
    return expect(worst < 1e-6, "given its seed P - z, the loop is the exact gradient of (1/2) sum (z - P)^2",
                  ["the update comes after the backward loop, so every delta uses $W_t$, as eq. 74-78 require"],
                  compared=[Comparison("784-128-64-10, the 3 largest entries of each layer",
                                       r"\text{listing's } \frac{\partial E}{\partial W^l}",
                                       r"\text{central difference of } \frac12\sum_i(z_i-P_i)^2",
                                       f"ratios {[round(r, 8) for r in half]}")], values={"ratios": half})
