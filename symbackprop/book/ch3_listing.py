"""Chapter 3, sec. 3.7: the single-neuron listing on the book's own "little faces", its annotations, and the
"Real Lesson" that explains what the neuron learned (eq. 24).
"""
from functools import cache

import numpy as np
import sympy as sp

from symbackprop.book.model import FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import central, forms_finding, latex, network_forms, sigmoid
from symbackprop.engine.costs import get_cost
from symbackprop.engine.symbols import A, Z

PART = Part("ch. 3")
claim = PART.claim
TRAIN, TESTS = ("gross1", "gross2", "gross3", "thin1", "thin2", "thin3"), ("thin4", "gross4", "thin5")


@cache
def little_faces():
    """(X_train, z_train, tests): the listing's download_and_prepare_image, on the shipped copies of the images."""
    from symbackprop.demo.images import little_face

    def load(name):
        return little_face(name).astype(int)
    return np.array([load(n) for n in TRAIN]), np.array([0, 0, 0, 1, 1, 1]), {n: load(n) for n in TESTS}


@cache
def train_little_faces(seed):
    """The listing of sec. 3.7, lines 1-47 (W initialised from NumPy seed ``seed``)."""
    X_train, z_train, tests = little_faces()
    W, b = np.random.RandomState(seed).randn(X_train.shape[1]) * 0.01, 0.0
    history = []
    for _ in range(30):
        total = 0.0
        for x, z in zip(X_train, z_train):
            P = sigmoid(np.dot(W, x) + b)
            total += (z - P) ** 2
            dE_dy = 2 * (P - z) * (P * (1 - P))
            W = W - 0.1 * dE_dy * x
            b = b - 0.1 * dE_dy
        history.append(total / len(X_train))
    return W, b, history, X_train, tests


@claim("ch3.listing.images", "sec. 3.7, listings of steps 1-2", r"each little face is $20\times20$ pixels: 400 "
       r"weights, \texttt{reshape(20, 20)}", passage="W is a 1D vector (not a matrix) with 400 weights.")
def images_have_400_pixels():
    X_train, _, tests = little_faces()
    sizes = sorted({x.size for x in (*X_train, *tests.values())})
    return expect(sizes == [400] and 20 * 20 == 400, "every image of the book's repository has 400 = 20 x 20 pixels",
                  [f"pixel counts: {sizes}"], values={"sizes": sizes})


@claim("ch3.text.backgrounds", "sec. 3.7, 'A Real Lesson'", r"the Gross faces have white strokes on a black "
       r"background (mostly $x_i=0$), the Thin faces black strokes on white (mostly $x_i=1$)",
       passage="The former have white strokes on a black background, and the others have, on the contrary, black "
               "strokes on a white background.")
def gross_faces_are_mostly_black():
    X_train, _, tests = little_faces()
    share = {n: float(x.mean()) for n, x in zip(TRAIN, X_train)} | {n: float(x.mean()) for n, x in tests.items()}
    ok = all((v < 0.5) == n.startswith("gross") for n, v in share.items())
    return expect(ok, "the share of ones is below 1/2 for every gross face and above 1/2 for every thin face",
                  [", ".join(f"{n} {v:.2f}" for n, v in share.items())], values={"share_of_ones": share})


@claim("ch3.listing.cost_derivative", "sec. 3.7, listing step 2, lines 1-14",
       r"\texttt{mean\_squared\_error}$=(z-P)^2$ has derivative \texttt{2*(P-z)}; \texttt{sigmoid\_derivative(a)}"
       r"$=a(1-a)$ is $a'(y)$ at $a=a(y)$",
       passage="return 2 * (P - z) # Keeping the factor of 2 for fidelity to the formal derivative")
def listing_cost_and_sigmoid_derivatives():
    P, z, y = 0.3, 1.0, 0.7
    fd_cost = central(lambda: float((z - box[0]) ** 2), box := np.array([P]), 0)
    fd_sig = central(lambda: float(sigmoid(ybox[0])), ybox := np.array([y]), 0)
    engine = get_cost("mse").derivative.subs({A: sp.Rational(3, 10), Z: 1})
    ok = abs(fd_cost - 2 * (P - z)) < 1e-8 and abs(fd_sig - sigmoid(y) * (1 - sigmoid(y))) < 1e-8
    return expect(ok, "the listing's cost and its derivative agree (n = 1), and so do sigmoid and a(1 - a)",
                  compared=[Comparison("dE/dP at P = 0.3, z = 1", f"2(P-z)={2 * (P - z):.8f}",
                                       rf"\text{{central difference}}={fd_cost:.8f}",
                                       f"float64, h = 1e-6; the engine's d(a - z)^2/da = {engine}"),
                            Comparison("da/dy at y = 0.7", f"a(1-a)={sigmoid(y) * (1 - sigmoid(y)):.8f}",
                                       rf"\text{{central difference}}={fd_sig:.8f}", "float64, h = 1e-6")],
                  values={"fd_cost": fd_cost, "fd_sigmoid": fd_sig})


@claim("ch3.listing.eq17_single_neuron", "sec. 3.7, step 3", r"for one neuron eq. 17 simplifies: "
       r"$\frac{\partial E}{\partial W}=\left(\frac{\partial E}{\partial a}\frac{\partial a}{\partial y}\right)x^T$, "
       r"a scalar times the input", equations=(17,), passage="The expression 17 simplifies because, in this example, "
                                                              "the weight matrix")
def single_neuron_gradient_is_scalar_times_x():
    d = network_forms("4,1", "sigmoid", "mse").d
    chain, net = d.chain_product(1), d.network
    scalar = (d[1].dE_da * d[1].da_dy)[0, 0]
    simplified = scalar * net.x.T
    ok = sp.simplify(chain - simplified) == sp.zeros(1, 4)
    return forms_finding(("4,1", "sigmoid", "mse"), (1,), ("W",), (("direct", "chain"),),
                         "with one neuron the column of matrices collapses to (dE/da da/dy) x^T", lambda forms: (ok, [
                             Comparison("dE/dW of a 4-input neuron", r"\text{eq. 17 (the column-vector of matrices)}",
                                        latex(sp.Symbol("delta")) + r"\,x^T", "sp.simplify of the difference is the "
                                        "zero row").text()]))


@claim("ch3.listing.annotation1", "sec. 3.7, annotation (1)", r"$y=[w_1,\dots,w_{400}]\cdot[x_1,\dots,x_{400}]^t+b"
       r"=w_1x_1+\dots+w_{400}x_{400}+b$", passage="which in turn is equivalent to \\( y=w_{1}x_1+\\dots "
                                                    "+w_{400}x_{400} +b\\)")
def annotation_one_is_the_dot_product():
    rng = np.random.default_rng(11)
    w, x, b = rng.normal(size=400), rng.integers(0, 2, 400), 0.3
    row_times_column = (w[None, :] @ x[:, None])[0, 0] + b
    explicit = sum(wi * xi for wi, xi in zip(w, x)) + b
    return expect(abs(row_times_column - explicit) < 1e-12, "a row times a column is the sum of the products",
                  compared=[Comparison("400 random weights, a binary image", f"{row_times_column:.12f}",
                                       f"{explicit:.12f}", "float64")])


@claim("ch3.listing.annotation2", "sec. 3.7, annotation (2)", r"$P=\frac{1}{1+e^{-(w_1x_1,\dots,w_{400}x_{400}+b)}}$",
       passage=r"We return the sigmoid activation function \( P=a(y)=\frac{1}{1+e^{-y}}="
               r"\frac{1}{1+e^{-(W\cdot x+b)}}=\frac{1}{1+e^{-(w_{1}x_1,\dots , w_{400}x_{400} +b)}}\).")
def annotation_two_exponent():
    return finding(FAILS, "the exponent lists the products with commas; it is their sum",
                   ["annotation (1) of the same listing writes the sum $w_1x_1+\\dots+w_{400}x_{400}+b$"],
                   correct=r"$P=\frac{1}{1+e^{-(w_1x_1+\dots+w_{400}x_{400}+b)}}$",
                   counterexample="with commas, e^{-(w_1x_1, ..., b)} is e to the power of a vector of 400 entries, "
                                  "not a number", reading="the commas read as plus signs")


@claim("ch3.listing.learns", "sec. 3.7, steps 3-5",
       r"trained on gross1-3 and thin1-3, the single neuron's average cost decreases and it labels thin4 Thin and "
       r"gross4 Gross ($P>0.5$ means Thin)", passage="We use a threshold of 0.5 to make the final decision.")
def neuron_learns_the_faces():
    evidence, ok, values = [], True, {}
    for seed in range(5):
        W, b, history, _, tests = train_little_faces(seed)
        P = {n: float(sigmoid(np.dot(W, x) + b)) for n, x in tests.items()}
        ok &= history[-1] < history[0] and P["thin4"] > 0.5 > P["gross4"] and P["thin5"] > 0.5
        values[seed] = P
        evidence.append(f"seed {seed}: average cost {history[0]:.4f} to {history[-1]:.6f}; P(thin4) = "
                        f"{P['thin4']:.4f}, P(gross4) = {P['gross4']:.4f}, P(thin5) = {P['thin5']:.4f}")
    return expect(ok, "on the book's own images the neuron learns and classifies the test faces correctly",
                  evidence + ["images read from symbackprop/data/little_faces (the book's repository copies)"],
                  values=values)


@claim("ch3.text.eq24", "sec. 3.7, 'A Real Lesson', eq. 24",
       r"after training $-1\ll w_i\ll1$, and for an image with a predominance of zeros "
       r"$y=\sum_i w_ix_i+b$ is negative (the lower half of the sigmoid)", reconstructed=True, equations=(24,),
       passage="whose sum ends up having the result we arrived at in 24")
def mostly_black_image_gives_negative_y():
    evidence, ok = [], True
    for seed in range(5):
        W, b, _, X_train, tests = train_little_faces(seed)
        ys = [float(np.dot(W, x) + b) for x in (*X_train[:3], tests["gross4"])]
        ok &= np.abs(W).max() < 1 and max(ys) < 0
        evidence.append(f"seed {seed}: max |w_i| = {np.abs(W).max():.3f}; y for gross1-3, gross4 = "
                        f"{[round(v, 2) for v in ys]}")
    return expect(ok, "the weights stay well inside (-1, 1) and y < 0 for every mostly-black (gross) image", evidence)


@claim("ch3.text.sum_bounds", "sec. 3.7, 'A Real Lesson'", r"$0\le\sum x_i\le400$ for $x_i\in\{0,1\}$",
       passage="in the equally unlikely case that all positions were equal to one, the sum would be 400!")
def pixel_sum_bounds():
    X_train, _, tests = little_faces()
    counts = [int(x.sum()) for x in (*X_train, *tests.values())]
    return expect(all(0 <= c <= 400 for c in counts), "400 binary pixels sum to between 0 and 400",
                  [f"ones per image (gross1-3, thin1-3, thin4, gross4, thin5): {counts}"], values={"counts": counts})


@claim("ch3.text.sum_index", "sec. 3.7, 'A Real Lesson'", r"$\sum_{i=0}^{400}x_i$ over the pixels of $x=[x_1,\dots,"
       r"x_{400}]$", passage="Now, we need to see that \\( 0\\le \\sum_{i=0}^{400} x_i \\le 400\\)")
def pixel_sum_index_starts_at_one():
    terms = len(range(400 + 1))
    return finding(FAILS, f"the sum from i = 0 to 400 has {terms} terms, but the image has 400 pixels "
                   "$x_1,\\dots,x_{400}$: there is no $x_0$", [f"len(range(0, 401)) = {terms}"],
                   correct=r"$0\le\sum_{i=1}^{400}x_i\le400$", counterexample="i = 0 names x_0, which the text never "
                   "defines (x = [x_1, ..., x_400], two sentences earlier)", reading="the sum taken from i = 1",
                   values={"terms": terms})
