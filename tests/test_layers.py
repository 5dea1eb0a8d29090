"""Layer kinds beyond the perceptron (dense, layernorm, residual): spec, derivation, verification, proofs, emission.

The independent witnesses: torch autograd in float64 (torch.nn.functional.layer_norm, the residual sum written
in torch), central differences of the composed error at twice the precision, SymPy's own differentiation of
the composed error, and planted errors that must be caught.
"""
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from symbackprop.emission.layers import emit_layers
from symbackprop.engine import layers as kinds
from symbackprop.engine.layered import LayeredDerivation, gradient_symbol
from symbackprop.engine.layers_spec import LayeredSpec, read_spec_text
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SpecError
from symbackprop.verification.evaluate import fixed_bits
from symbackprop.verification.layers import NumericPass, chain_equals_fast, verify_layers

torch = pytest.importorskip("torch")

SPEC = """input = 3
cost = "cross_entropy"
[[layers]]
kind = "dense"
size = 4
activation = "tanh"
[[layers]]
kind = "layernorm"
eps = 0.001
[[layers]]
kind = "residual"
activation = "relu"
[[layers]]
kind = "dense"
size = 2
activation = "softmax"
"""


def module(spec, dtype="float64"):
    namespace = {}
    exec(compile(emit_layers(spec, dtype), "model.py", "exec"), namespace)  # noqa: S102 -- our own emitted module
    return namespace


# -- the spec -----------------------------------------------------------------------------------------------
def test_spec_file_and_old_form():
    """[[layers]] reads as a LayeredSpec with parameters named by position; the old form still reads as before."""
    spec = read_spec_text(SPEC)
    assert isinstance(spec, LayeredSpec)
    assert spec.sizes == (3, 4, 4, 4, 2)
    assert [name for layer in spec.layers for name, _ in layer.params()] == ["W1", "b1", "g2", "h2", "W3", "b3",
                                                                             "W4", "b4"]
    assert spec.layers[1].eps == sp.Rational(1, 1000)
    old = read_spec_text('sizes = [2, 3, 1]\nactivations = ["tanh", "sigmoid"]\ncost = "bce"\n')
    assert old == NetworkSpec.from_options("2,3,1", "tanh,sigmoid", "bce")


@pytest.mark.parametrize("edit, words", [
    (("eps = 0.001", "epsilon = 0.001"), ["line 9", "layer 2 (layernorm)", "'epsilon'"]),
    (('activation = "relu"', 'activation = "rleu"'), ["line 12", "layer 3 (residual)", "'activation'", "rleu"]),
    (("size = 4\n", ""), ["line 3", "layer 1 (dense)", "'size'"]),
    (("eps = 0.001", "eps = -1"), ["line 9", "'eps'", "positive"]),
    (('kind = "layernorm"', 'kind = "conv3d"'), ["line 8", "layer 2", "conv3d", "known kinds"]),
    (("input = 3", "input = [1, 8, 8]"), ["layer 1 (dense)", "put a flatten before it"]),
])
def test_spec_errors_name_layer_key_line(edit, words):
    """A wrong spec file is refused with one message naming the layer, the key and its line."""
    with pytest.raises(SpecError) as info:
        read_spec_text(SPEC.replace(*edit))
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("arch, words", [
    ("dense(4,tanh) residual(size=3) dense(1,sigmoid)", ["layer 2 (residual)", "'size'"]),
    ("dense(4,tanh) layernorm", ["layer 2 (layernorm)", "last layer must be dense"]),
    ("dense(4,tanh", ["unbalanced"]),
    ("dense(4,tanh) 3x3", ["layer 2", "cannot read"]),
    ("dense(1,softmax)", ["softmax needs a vector of 2 or more neurons"]),
    ("dense(2,relu) dense(1,relu)", ["log"]),  # relu outputs break bce's log
])
def test_arch_errors(arch, words):
    """The compact form is read by its grammar only; every mistake is one clear SpecError."""
    with pytest.raises(SpecError) as info:
        LayeredSpec.from_arch(arch, "3", "bce")
    for word in words:
        assert word in str(info.value)


# -- verification: (a) = (b) = (c) ---------------------------------------------------------------------------
@pytest.mark.parametrize("arch, n0, cost", [("layernorm dense(1,sigmoid)", "2", "mse"),
                                             ("residual(tanh) dense(1,sigmoid)", "2", "bce")])
def test_exact(arch, n0, cost):
    """SymPy reduces (a) direct - (b) chain and (b) chain - (c) fast form to 0 for every parameter."""
    report = verify_layers(LayeredDerivation(LayeredSpec.from_arch(arch, n0, cost)), method="exact",
                           exact_seconds=120)
    assert report.passed and {c.method for c in report.checks} == {"exact"}
    assert {c.forms for c in report.checks} == {"(a) direct = (b) chain", "(b) chain = (c) fast"}


ARCHS = [
    ("dense(5,tanh) layernorm residual(relu) dense(3,softmax)", "4", "cross_entropy"),
    ("layernorm dense(6,sigmoid) " + "residual(tanh) " * 8 + "dense(2,sigmoid)", "3", "bce"),
    ("dense(5,elu) layernorm dense(4,softmax) layernorm dense(2,identity)", "3", "mse"),
    ("residual(softsign) layernorm dense(2,sigmoid)", "3", "mae"),
]
CUSTOM = ["softsign=y/(1+abs(y))"]


@pytest.mark.parametrize("arch, n0, cost", ARCHS)
def test_high_precision(arch, n0, cost):
    """At 50 digits, (b) chain = (c) fast and (a) central differences = (c) for every parameter of every layer."""
    spec = LayeredSpec.from_arch(arch, n0, cost, custom_activations=CUSTOM)
    report = verify_layers(LayeredDerivation(spec), method="high-precision", seed=3)
    assert report.passed, report.table()
    assert len(report.checks) == 2 * sum(len(layer.params()) for layer in spec.layers)


def _mutants():
    """Planted errors in each kind's fast form: a wrong sign, a lost term, a lost identity."""
    ln, res, dense = kinds.LayerNorm.backward, kinds.Residual.backward, kinds.Dense.backward

    def layernorm_without_projection(self, layer, M, G, output=None):
        _, grads, inner = ln(self, layer, M, G, output)
        return sp.HadamardProduct(M.R(layer.l), sp.HadamardProduct(self._g(layer, M), G)), grads, inner

    def layernorm_wrong_gain(self, layer, M, G, output=None):
        delta_in, grads, inner = ln(self, layer, M, G, output)
        return delta_in, {**grads, f"g{layer.l}": grads[f"h{layer.l}"]}, inner

    def residual_without_identity(self, layer, M, G, output=None):
        delta_in, grads, inner = res(self, layer, M, G, output)
        return delta_in - G, grads, inner

    def dense_without_transpose(self, layer, M, G, output=None):
        delta_in, grads, inner = dense(self, layer, M, G, output)
        return 2 * delta_in, grads, inner

    return [("LayerNorm", layernorm_without_projection), ("LayerNorm", layernorm_wrong_gain),
            ("Residual", residual_without_identity), ("Dense", dense_without_transpose)]


@pytest.mark.parametrize("kind, mutant", _mutants(), ids=lambda m: getattr(m, "__name__", m))
def test_mutations_are_caught(monkeypatch, kind, mutant):
    """A planted error in any kind's fast form fails the verification (every method) and changes the module."""
    spec = LayeredSpec.from_arch("dense(3,tanh) layernorm residual(tanh) dense(2,sigmoid)", "2", "mse")
    good = module(spec)
    monkeypatch.setattr(getattr(kinds, kind), "backward", mutant)
    report = verify_layers(LayeredDerivation(spec), method="high-precision")
    assert not report.passed
    small = {"LayerNorm": "dense(2,tanh) layernorm dense(1,sigmoid)", "Dense": "dense(2,tanh) dense(1,sigmoid)",
             "Residual": "dense(2,tanh) residual(tanh) dense(1,sigmoid)"}[kind]
    exact = chain_equals_fast(LayeredDerivation(LayeredSpec.from_arch(small, "2", "mse")), 30)
    assert not all(c.passed for c in exact)
    bad = module(spec)
    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(2, 5)), rng.uniform(size=(2, 5))
    params = good["init_params"](seed=1)
    g, b = good["gradients"](params, X, Z), bad["gradients"](params, X, Z)
    assert any(not np.allclose(g[k], b[k]) for k in g)


# -- emission: emitted = derivation = torch ---------------------------------------------------------------------
def torch_gradients(spec, params, X, Z):
    """dE/dtheta by torch autograd in float64, the network written in torch's own layers."""
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda y: y,
            "elu": torch.nn.functional.elu, "softsign": torch.nn.functional.softsign,
            "softmax": lambda y: torch.softmax(y, 0)}
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    s = torch.tensor(X, dtype=torch.float64)
    for layer in spec.layers:
        l = layer.l
        if layer.kind == "layernorm":
            s = torch.nn.functional.layer_norm(s.T, (s.shape[0],), P[f"g{l}"][:, 0], P[f"h{l}"][:, 0],
                                               eps=float(layer.eps)).T
        else:
            a = acts[layer.activation.name](P[f"W{l}"] @ s + P[f"b{l}"])
            s = s + a if layer.kind == "residual" else a
    z = torch.tensor(Z, dtype=torch.float64)
    e = {"mse": lambda: (s - z) ** 2, "mae": lambda: (s - z).abs(), "cross_entropy": lambda: -z * torch.log(s),
         "bce": lambda: -(z * torch.log(s) + (1 - z) * torch.log(1 - s))}[spec.cost.name]()
    (e.sum() / e.numel()).backward()
    return {k: v.grad.numpy() for k, v in P.items()}


def derivation_gradients(spec, params, X, Z):
    """The derivation's backward program evaluated at 50 digits at the same point (float64 values, exactly)."""
    d = LayeredDerivation(spec)
    beta = X.shape[1]
    M = d.names(beta)
    leaves = {sp.MatrixSymbol(k, *v.shape): np.vectorize(mpmath.mpf, otypes=[object])(v) for k, v in params.items()}
    leaves[M.S(0)] = np.vectorize(mpmath.mpf, otypes=[object])(X)
    leaves[M.Z] = np.vectorize(mpmath.mpf, otypes=[object])(Z)
    run = NumericPass(d, leaves, fixed_bits(50), beta).backward()
    return {k: np.array(run.value(gradient_symbol(k, v.shape)), dtype=float) for k, v in params.items()}


def _point(spec, seed):
    rng = np.random.default_rng(seed)
    m = module(spec)
    params = m["init_params"](seed=seed)
    for k in params:
        if k[0] in "gh":
            params[k] = params[k] + rng.normal(0, 0.3, params[k].shape)
    X = rng.normal(size=(spec.input, 7)) * 2
    Z = rng.uniform(0.05, 0.95, size=(spec.sizes[-1], 7))
    if not spec.layers[-1].activation.elementwise:
        Z = Z / Z.sum(axis=0)
    return m, params, X, Z


def _relative(a, b):
    return max(np.abs(a[k] - b[k]).max() / max(np.abs(b[k]).max(), 1e-300) for k in b)


@pytest.mark.parametrize("arch, n0, cost", ARCHS + [
    ("dense(4,sigmoid) residual(tanh) layernorm dense(3,sigmoid)", "5", cost) for cost in ("mse", "mae", "bce")
] + [("layernorm residual(relu) dense(3,softmax)", "4", cost) for cost in ("mse", "cross_entropy")])
def test_emitted_equals_derivation_and_torch(arch, n0, cost):
    """Emitted float64 gradients = the derivation at 50 digits (1e-10) = torch autograd float64 (1e-10)."""
    spec = LayeredSpec.from_arch(arch, n0, cost, custom_activations=CUSTOM)
    m, params, X, Z = _point(spec, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emitted = m["gradients"](params, X, Z)
    assert _relative(emitted, derivation_gradients(spec, params, X, Z)) < 1e-10
    assert _relative(emitted, torch_gradients(spec, params, X, Z)) < 1e-10


def test_emitted_api_float32_and_files(tmp_path):
    """The module's public API works end to end in float32: forward, loss, train, save, load, the command line."""
    spec = read_spec_text(SPEC)
    m = module(spec, "float32")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 40))
    Z = np.eye(2)[(X[0] + X[1] > 0).astype(int)].T
    params = m["init_params"](seed=0)
    P, cache = m["forward"](params, X)
    assert P.dtype == np.float32 and cache["N2"].dtype == np.float32
    history = m["train"](params, X, Z, epochs=30, lr=0.5, batch_size=8)
    assert history[-1] < history[0] / 2
    assert all(g.dtype == np.float32 for g in m["gradients"](params, X, Z).values())
    m["save"](params, str(tmp_path / "p.npz"))
    assert np.array_equal(m["load"](str(tmp_path / "p.npz"))["W3"], params["W3"])
    np.savez(tmp_path / "d.npz", X=X, Z=Z)
    assert m["main"]([str(tmp_path / "d.npz"), "--epochs", "2", "--quiet"]) == 0
    with pytest.raises(ValueError, match="shape"):
        m["loss"](params, X.T, Z)


def test_deep_sigmoid_stalls_where_residual_learns():
    """20 sigmoid layers barely move in 40 epochs; the same depth of residual blocks learns (the identity term)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 200))
    Z = (np.sin(X[0]) * X[1] > 0).astype(float)[None]
    plain = LayeredSpec.from_arch("dense(8,sigmoid) " * 19 + "dense(1,sigmoid)", "4", "bce")
    deep = LayeredSpec.from_arch("dense(8,tanh) " + "residual(sigmoid) " * 18 + "dense(1,sigmoid)", "4", "bce")
    losses = {}
    for name, spec in (("plain", plain), ("residual", deep)):
        m = module(spec)
        params = m["init_params"](seed=0)
        history = m["train"](params, X, Z, epochs=40, lr=0.1, batch_size=10)
        losses[name] = (history[0] - history[-1]) / history[0]
    assert losses["plain"] < 0.05 and losses["residual"] > 0.3, losses


# -- proofs ------------------------------------------------------------------------------------------------------
def test_kind_proofs():
    """The residual recursion and the layer norm's Jacobian and fast form are proved for symbolic n; wrong
    claims are not."""
    from symbackprop.proofs.kinds import prove_kinds, prove_layernorm_backward
    from symbackprop.proofs.reduction import j, n

    assert all(p.proved for p in prove_kinds())
    wrong = lambda gG, x, sigma: (gG[j] - sp.Sum(gG[j], (j, 1, n)) / n) / sigma  # drops x (.) mean(x (.) gG)
    assert not prove_layernorm_backward(claim=wrong).proved


# -- the command line -------------------------------------------------------------------------------------------
def test_cli(tmp_path, capsys):
    """derive/verify/emit read --arch and [[layers]] files; mistakes exit 2 with one line."""
    from symbackprop.cli import main

    path = tmp_path / "net.toml"
    path.write_text(SPEC)
    assert main(["derive", str(path)]) == 0
    assert "Layer 2: layernorm" in capsys.readouterr().out
    assert main(["verify", "--arch", "layernorm dense(2,softmax)", "--input", "3", "--loss", "cross_entropy"]) == 0
    assert main(["emit", str(path), "-o", str(tmp_path / "m.py")]) == 0
    capsys.readouterr()
    assert main(["derive", "--arch", "dense(3,tanh) pool", "--input", "2", "--loss", "mse"]) == 2
    assert "unknown kind 'pool'" in capsys.readouterr().err
    assert main(["derive", "--arch", "dense(3,tanh)", "--loss", "mse"]) == 2
    capsys.readouterr()
    assert main(["emit", str(path), "--style", "book", "-o", str(tmp_path / "b.py")]) == 2  # one style for kinds
    assert "--style book is the perceptron's" in capsys.readouterr().err and not (tmp_path / "b.py").exists()


def test_latex_compiles(tmp_path):
    """derive --latex writes a document with a section per kind that pdflatex compiles."""
    import shutil

    from symbackprop.cli import main

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    out = tmp_path / "d.tex"
    assert main(["derive", "--arch", "dense(2,tanh) layernorm residual(relu) dense(2,softmax)", "--input", "2",
                 "--loss", "cross_entropy", "--latex", str(out), "--pdf"]) == 0
    text = out.read_text()
    assert all(f": {kind}" in text for kind in ("dense", "layernorm", "residual"))
    assert (tmp_path / "d.pdf").exists()


def test_high_precision_verification_shows_its_progress(capsys):
    """verify_layers(progress=True) counts the parameters it has checked on standard error (one summary line when
    that is not a terminal); without it, nothing is written there."""
    d = LayeredDerivation(LayeredSpec.from_arch("conv2d(2,2,relu) flatten dense(2,softmax)", "1,4,4", "cross_entropy"))
    assert verify_layers(d, method="high-precision", progress=True).passed
    assert "verifying parameters at high precision: 4/4" in capsys.readouterr().err
    assert verify_layers(d, method="high-precision").passed
    assert capsys.readouterr().err == ""
