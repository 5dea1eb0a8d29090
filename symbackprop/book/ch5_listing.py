"""Chapter 5, sec. 5.3: the TensorFlow listing with hand-coded backpropagation, run in NumPy with Keras' layout
(rows are examples, a Dense kernel is inputs x outputs) on synthetic data of MNIST's shapes."""
from functools import cache

import numpy as np

from symbackprop.book.model import FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import central, relu, sigmoid

PART = Part("ch. 5")
claim = PART.claim


def listing5_gradients(kernels, biases, x, z):
    """Lines 25-67 of the sec. 5.3 listing: (E as Keras' MeanSquaredError reports it, [dW, db, ...])."""
    a, activations, linearities = x, [x], []
    for K, c in zip(kernels[:-1], biases[:-1]):
        y = a @ K + c
        a = relu(y)
        linearities.append(y)
        activations.append(a)
    y_final = a @ kernels[-1] + biases[-1]
    P = sigmoid(y_final)
    linearities.append(y_final)
    activations.append(P)
    E = float(np.mean(np.mean((z - P) ** 2, axis=-1)))  # tf.keras.losses.MeanSquaredError(): mean over the batch
    dE_dy = (P - z) * (P * (1 - P))
    grads = []
    for l in reversed(range(len(kernels))):
        grads.insert(0, dE_dy.sum(axis=0))
        grads.insert(0, activations[l].T @ dE_dy)
        if l > 0:
            dE_dy = (dE_dy @ kernels[l].T) * (linearities[l - 1] > 0)
    return E, grads


@cache
def listing5_ratios(beta):
    """Listing gradient / central difference of the reported E, at the 2 largest entries of each kernel."""
    rng = np.random.RandomState(1)
    dims = [784, 128, 64, 10]
    kernels = [rng.randn(dims[i], dims[i + 1]) * 0.1 for i in range(3)]
    biases = [rng.randn(dims[i + 1]) * 0.1 for i in range(3)]
    x, z = rng.uniform(size=(beta, 784)), np.eye(10)[rng.randint(0, 10, size=beta)]
    _, grads = listing5_gradients(kernels, biases, x, z)
    ratios = []
    for l in range(3):
        g = grads[2 * l]
        for index in np.argsort(-np.abs(g).ravel())[:2]:
            ij = np.unravel_index(index, g.shape)
            ratios.append(float(g[ij] / central(lambda: listing5_gradients(kernels, biases, x, z)[0], kernels[l], ij)))
    return ratios


@claim("ch5.listing.gradient_scale", "sec. 5.3, training listing, lines 10-36 and 57",
       r"the loop optimises the MSE averaged over the batch (eq. 86): \texttt{dE\_daL = P\_batch - z\_batch}, "
       r"\texttt{dE\_dW} the SUM of the outer products", equations=(86,),
       passage="As we are training in batches, the final error we optimize at each step is the average of the "
               "individual errors for each example in the batch, a concept formalized in 86.")
def applied_gradient_scale():
    ratios64, ratios32 = listing5_ratios(64), listing5_ratios(32)
    return finding(
        FAILS, "the applied gradient is n * beta / 2 = 320 times the gradient of the cost E the loop reports",
        [("the last batch of an epoch has 60000 - 937 * 64 = 32 examples: ratio "
         f"{[round(r, 4) for r in ratios32]}"),
         ("factor 5 = n/2 from P - z instead of 2(P - z)/n (n = 10), factor beta from summing instead of averaging "
         "(eq. 87 has 1/beta); the direction is right, the effective rate is 0.32 instead of 0.001")],
        compared=[Comparison("784-128-64-10, batch 64, synthetic data, Keras layout",
                             r"\text{listing's } \frac{\partial E}{\partial K^l}",
                             r"\text{central difference of MeanSquaredError}",
                             f"ratio at the 2 largest entries of each kernel: {[round(r, 4) for r in ratios64]}")],
        correct=r"for $E=\frac{1}{n\beta}\sum_{j}\sum_i(z_{ij}-P_{ij})^2$: \texttt{dE\_daL = 2*(P\_batch - z\_batch)"
                r"/(10*batch)}, or keep the code and say it descends on $\sum_j\frac12\lVert P^j-z^j\rVert^2$",
        counterexample="beta = 2, n = 10, all z = 0, P^1 = (0.5, 0, ...), P^2 = 0: E = 0.25/20 = 0.0125, "
                       "dE/dP^1_1 = 2(0.5)/20 = 0.05, but the listing uses 0.5 (10 times more; 320 at beta = 64)",
        values={"ratios64": ratios64, "ratios32": ratios32})


@claim("ch5.listing.matmul", "sec. 5.3, training listing, lines 50-65",
       r"\texttt{tf.matmul(a\_previous, dE\_dy, transpose\_a=True)} is the sum of the outer products of the batch; "
       r"\texttt{dE\_dy @ kernel}$^T$ propagates to the previous layer",
       passage="Matrix multiplication (a_previous^T @ dE_dy) is the")
def matmul_is_the_sum_of_outer_products():
    rng = np.random.default_rng(8)
    a, d, K = rng.normal(size=(6, 4)), rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    summed = sum(np.outer(d[j], a[j]) for j in range(6))  # the book's delta_j (x) s_j, shape of W^l (3 x 4)
    diff = float(np.max(np.abs(a.T @ d - summed.T)))
    back = float(np.max(np.abs(d @ K.T - (K @ d.T).T)))  # W^T delta per example with W = K^T
    return expect(diff < 1e-12 and back < 1e-12, "a^T dE_dy = (sum_j delta_j (x) s_j)^T, and dE_dy K^T is W^T delta "
                  "row by row", compared=[
                      Comparison("batch 6, 4 inputs, 3 outputs", r"a^T\,\mathtt{dE\_dy}",
                                 r"\left(\sum_j\delta_j\otimes s_j\right)^T", f"largest difference {diff:.1e}"),
                      Comparison("the backward step", r"\mathtt{dE\_dy}\,K^T", r"(W^T\delta_j)^T\ (W=K^T)",
                                 f"largest difference {back:.1e}")], values={"sum": diff, "back": back})


@claim("ch5.listing.kernel_shape", "sec. 5.3, training listing, line 56", r"``[inputs, batch] @ [batch, outputs] -> "
       r"[inputs, outputs], which is the shape of $W^l$''", passage="[inputs, outputs], which is the shape of W^l.")
def keras_kernel_is_the_transpose():
    inputs, outputs = 784, 128
    kernel = (inputs, outputs)
    book_W = (outputs, inputs)  # W^l is n_l x n_{l-1}: rows are neurons (sec. 2.1, eq. 46-48)
    return finding(FAILS, "[inputs, outputs] is the shape of the Keras kernel, which is $(W^l)^T$; the book's $W^l$ "
                   "is [outputs, inputs]", [f"layer 1: kernel {kernel}, the book's W^1 {book_W}"],
                   correct="[inputs, outputs], the shape of the Keras kernel, $(W^l)^T$",
                   counterexample="layer 1 of the listing: 784 inputs, 128 neurons; the book's W^1 has 128 rows (one "
                                  "per neuron) and 784 columns, the gradient computed here is 784 x 128",
                   reading="$W^l$ read as the Keras kernel, the transpose of the book's $W^l$",
                   values={"kernel": kernel, "book_W": book_W})
