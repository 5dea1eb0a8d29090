"""Tests of symbackprop.latex.printing and symbackprop.latex.document: the derivation as a LaTeX document.

The printed entries are checked against derivatives computed here independently (sp.diff of
the composed error of one layer); the documents are compiled with pdflatex (skipped when it
is absent) and read back with pdftotext.
"""
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp

from symbackprop.cli import build_parser, spec_from_args
from symbackprop.engine.jacobians import derive
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SymbackpropError
from symbackprop.latex import document as latex
from symbackprop.latex.notation import tex_width, tidy_signs
from symbackprop.latex.printing import EXPLICIT_MAX_LIMIT, DerivationPrinter
from symbackprop.support import files
from symbackprop.verification.verify import Check, VerificationReport, verify

HAVE_PDFLATEX = shutil.which("pdflatex") is not None and shutil.which("pdftotext") is not None
needs_pdflatex = pytest.mark.skipif(not HAVE_PDFLATEX, reason="pdflatex/pdftotext not installed (.ci/install_latex.sh)")
ARTEFACTS = ("Subs", "Derivative", "_xi", "\\operatorname{Sum}", "KroneckerDelta", "Piecewise", "IndexedBase")


def spec(sizes, acts, cost, batch=None):
    return NetworkSpec.from_options(sizes, acts, cost, batch)


def passing_report(derivation):
    """A report for networks too large to verify inside a unit test (verify has its own tests)."""
    checks = [Check(l.l, f"dE/dW^{l.l}", "(b) chain = (c) outer", "high-precision", 3, 1e-50, 1e-30, True)
              for l in derivation]
    return VerificationReport(derivation.spec.describe(), checks, derivation.output_delta.summary(), 0, 50)


# -- the printer ---------------------------------------------------------------------------------
def test_tidy_signs_keeps_the_value():
    # tidy_signs only regroups minus signs: e - tidy_signs(e) == 0 for random products of sums
    a, z, y = sp.symbols("a z y")
    rng = random.Random(1)
    atoms = [a - 1, z - a, -a + 2, a + z, y - z, sp.exp(-y)]
    for _ in range(30):
        factors = rng.sample(atoms, 3)
        e = rng.choice([-1, 2, sp.Rational(-1, 3)]) * sp.Mul(*factors)
        assert sp.simplify(tidy_signs(e) - e) == 0
    assert sp.latex(tidy_signs(-a * (a - 1))) == r"a \left(1 - a\right)"  # sigmoid's a'(y) as the book writes it


def test_tex_width_orders_formulas():
    # a fraction is as wide as its wider part; more terms are wider
    assert tex_width(r"\frac{a}{b}") < tex_width("a + b")
    assert tex_width("a + b + c + d") > tex_width("a + b")
    assert tex_width(r"w^{1}_{2,3}") < tex_width("w123")


def _numeric(expr, values):
    return float(expr.xreplace(values).evalf(30))


@pytest.mark.parametrize("act,cost", [("sigmoid", "mse"), ("sigmoid", "bce"), ("tanh", "mae"),
                                      ("softmax", "cross_entropy"), ("softplus", "mse")])
def test_printed_output_delta_is_dE_dy(act, cost):
    # delta^L_i = dE/dy^L_i (eq. 54): the printer's entries (in a, z) against sp.diff of E(a(y)) by y_i
    d = derive(spec("2,3", act, cost))
    layer = d[1]
    entries = DerivationPrinter()._delta_entries(layer)
    ys = list(layer.y)
    a_of_y = layer.activation(ys)
    E = d.network.cost(a_of_y, list(d.network.z))
    rng = random.Random(7)
    point = {y: sp.Rational(rng.randint(-20, 20), 10) for y in ys}
    targets = [sp.Rational(rng.randint(1, 9), 10) for _ in ys]
    if act == "softmax":
        targets = [t / sum(targets) for t in targets]
    point.update(dict(zip(d.network.z, targets)))
    a_values = {ai: av.xreplace(point) for ai, av in zip(layer.a, a_of_y)}
    for i, y in enumerate(ys):
        expected = _numeric(sp.diff(E, y), point)
        got = _numeric(entries[i], {**point, **a_values})
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_printed_hidden_delta_is_the_recursion():
    # delta^1 = a'(y^1) (.) (W^2)^T delta^2 (eq. 65): entry i is a'(y_i) sum_k w^2_{k,i} delta^2_k
    d = derive(spec("2,3,2", "tanh,sigmoid", "mse"))
    layer, net = d[1], d.network
    entries = DerivationPrinter()._delta_entries(layer)
    rng = random.Random(3)
    values = {s: sp.Rational(rng.randint(-9, 9), 10) for s in [*net.W(2), *net.delta_local(2), *layer.y]}
    values.update({a: sp.tanh(values[y]) for a, y in zip(layer.a, layer.y)})
    for i in range(3):
        expected = (1 - sp.tanh(values[layer.y[i]]) ** 2) * sum(
            values[net.W(2)[k, i]] * values[net.delta_local(2)[k]] for k in range(2))
        assert _numeric(entries[i], values) == pytest.approx(float(expected), rel=1e-12)


def test_pieces_explicit_for_small_general_for_large():
    # a 3-4-2 network fits explicitly at --explicit-max 4; the book's 784-128-64-10 falls back to i-th entries
    printer = DerivationPrinter(4)
    small = derive(spec("3,4,2", "sigmoid,sigmoid", "mse"))
    for layer in small:
        assert all(p.explicit for p in printer.layer_pieces(layer).values()), layer.l
    big = derive(spec("784,128,64,10", "relu,relu,sigmoid", "mse"))
    pieces = printer.layer_pieces(big[1])
    assert not pieces["dE_dW"].explicit and "784 exceeds" in pieces["dE_dW"].note
    assert r"\delta^{1}_{i}\, x_{j}" in pieces["dE_dW"].tex  # [dE/dW^1]_ij = delta^1_i x_j (eq. 66)
    assert "x_{784}" in pieces["dy_dW"].tex  # row i of the i-th matrix is x^T (eq. 17)


def test_explicit_outer_product_entries():
    # dE/dW^l = delta^l (x) s^{l-1}: entry (i, j) printed as delta^l_i s_j (eq. 66-68)
    d = derive(spec("3,2", "sigmoid", "mse"))
    tex = DerivationPrinter().layer_pieces(d[1])["dE_dW"].tex
    for i in (1, 2):
        for j in (1, 2, 3):
            assert rf"\delta^{{1}}_{{{i}}} x_{{{j}}}" in tex


def test_repr_latex_renders_a_layer_and_the_derivation():
    d = derive(spec("2,2,1", "tanh,sigmoid", "bce"))
    one, whole = d[2]._repr_latex_(), d._repr_latex_()
    assert one.startswith("$$") and r"\otimes" in one and r"\boldsymbol{\delta}^{2}" in one
    assert whole.index(r"\mathbf{W}^{2}") < whole.index(r"\frac{\partial E}{\partial \mathbf{W}^{1}}")  # L first
    assert not any(a in whole for a in ARTEFACTS)


# -- the document ----------------------------------------------------------------------------------
BOOK_NETWORKS = {
    "neuron": ("400,1", "sigmoid", "mse"),  # ch. 3: one neuron on the 20x20 faces
    "two_layer": ("3,4,2", "sigmoid,sigmoid", "mse"),  # sec. 4.2 at small sizes
    "softmax_batch": ("3,3,3", "tanh,softmax", "cross_entropy", 4),  # ch. 5 batch forms
}


@pytest.fixture(scope="module")
def documents():
    out = {}
    for name, args in BOOK_NETWORKS.items():
        d = derive(spec(*args))
        out[name] = (d, latex.document(d, verify(d)))
    return out


def test_document_follows_the_book(documents):
    _, tex = documents["two_layer"]
    for text in (r"\otimes", r"\odot", r"\top", r"\mathbf{W}^{2}", "cf.\\ eq.~65--66", "cf.\\ eq.~20--23",
                 r"\section{Layer 2 (the output layer)}", r"\section{Layer 1}", r"\section{Verification}"):
        assert text in tex, text
    assert tex.index("Layer 2 (the output layer)") < tex.index(r"\section{Layer 1}")  # from L down to 1
    assert not any(a in tex for a in ARTEFACTS)
    assert "Training in batches" not in tex and "Training in batches" in documents["softmax_batch"][1]
    assert r"\delta_{ij}" in documents["softmax_batch"][1]  # softmax's full Jacobian a_i (delta_ij - a_j)


def test_failed_verification_needs_allow_failed():
    d = derive(spec("2,1", "sigmoid", "mse"))
    report = passing_report(d)
    report.checks[0].passed = False
    with pytest.raises(SymbackpropError, match="verification failed.*--allow-failed"):
        latex.document(d, report)
    tex = latex.document(d, report, allow_failed=True)
    assert r"\textcolor{red}" in tex and "FAILED" in tex


def test_fragment_has_no_preamble():
    d = derive(spec("2,1", "sigmoid", "mse"))
    tex = latex.document(d, passing_report(d), standalone=False)
    assert r"\documentclass" not in tex and r"\end{document}" not in tex and r"\section{Verification}" in tex


@pytest.mark.parametrize("bad", [0, -3, EXPLICIT_MAX_LIMIT + 1, 500])
def test_explicit_max_out_of_range(bad):
    d = derive(spec("2,1", "sigmoid", "mse"))
    with pytest.raises(SymbackpropError, match="explicit-max"):
        latex.document(d, passing_report(d), explicit_max=bad)


# -- the command line and the files ----------------------------------------------------------------
def run_derive(argv):
    args = build_parser().parse_args(["derive", *argv])
    return latex.handle_derive_args(args, derive(spec_from_args(args)))


NET = ["--layers", "2,2,1", "--activations", "tanh,sigmoid", "--loss", "bce"]


def test_cli_writes_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "d.tex"
    assert run_derive([*NET, "--latex", str(out)]) == 0
    first = out.read_text()
    assert first.startswith(r"\documentclass") and "wrote" in capsys.readouterr().out
    with pytest.raises(SymbackpropError, match="exists; pass --force"):
        run_derive([*NET, "--latex", str(out), "--fragment"])
    assert out.read_text() == first  # untouched
    assert run_derive([*NET, "--latex", str(out), "--fragment", "--force"]) == 0
    assert not out.read_text().startswith(r"\documentclass")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.tex"]  # no temporary files left


def test_cli_bad_paths(tmp_path):
    with pytest.raises(SymbackpropError, match="does not exist"):
        run_derive([*NET, "--latex", str(tmp_path / "missing" / "d.tex")])
    with pytest.raises(SymbackpropError, match="is a folder"):
        run_derive([*NET, "--latex", str(tmp_path)])
    with pytest.raises(SymbackpropError, match="too large to typeset"):
        run_derive([*NET, "--latex", str(tmp_path / "d.tex"), "--explicit-max", "40"])
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(SymbackpropError, match="not writable"):
            run_derive([*NET, "--latex", str(locked / "d.tex")])
    assert run_derive(NET) is None  # no --latex: derive prints its normal report


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "d.tex"

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", refuse)  # the one writer every module uses
    with pytest.raises(SymbackpropError, match="No space left"):
        latex.write_atomic(target, "text")
    assert list(tmp_path.iterdir()) == []


def test_cli_main_reports_bad_input(tmp_path, capsys):
    from symbackprop.cli import main

    (tmp_path / "d.tex").write_text("mine")
    assert main(["derive", *NET, "--latex", str(tmp_path / "d.tex")]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "d.tex").read_text() == "mine"


# -- compiled with pdflatex --------------------------------------------------------------------------
def compile_and_read(tmp_path, name, tex):
    path = latex.write_atomic(tmp_path / f"{name}.tex", tex)
    pdf, log = latex.compile_pdf(path)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                            text=True, check=True).stdout).group(1))
    return text, log, pages


@needs_pdflatex
@pytest.mark.parametrize("name", sorted(BOOK_NETWORKS))
def test_book_networks_compile_and_say_it(tmp_path, documents, name):
    d, tex = documents[name]
    text, log, pages = compile_and_read(tmp_path, name, tex)
    assert "Overfull \\hbox" not in log  # nothing sticks out of the page
    assert 3 <= pages <= 12
    for l in range(1, d.L + 1):
        assert f"Layer {l}" in text
    assert "Verification" in text and re.search(r"all \d+ checks hold", text)
    assert "cf. eq. 66" in text or "cf. eq. 65–66" in text
    if name == "softmax_batch":
        assert "Training in batches of β = 4" in text


@needs_pdflatex
def test_book_mnist_network_compiles_with_general_forms(tmp_path):
    # ch. 4's 784-128-64-10: every large layer gets its i-th-entry form, and it still fits the page
    d = derive(spec("784,128,64,10", "relu,relu,sigmoid", "mse"))
    text, log, pages = compile_and_read(tmp_path, "mnist", latex.document(d, passing_report(d)))
    assert "Overfull \\hbox" not in log and pages <= 10
    assert "784 exceeds" in text and "128 × 784" in text


@needs_pdflatex
def test_explicit_max_ten_fits_the_page(tmp_path):
    # the largest allowed --explicit-max: too-wide or too-tall matrices fall back, nothing overfull
    d = derive(spec("10,10,10", "sigmoid,sigmoid", "bce"))
    text, log, _ = compile_and_read(tmp_path, "ten", latex.document(d, passing_report(d), explicit_max=10))
    assert "Overfull \\hbox" not in log
    assert "taller than a page" in text or "wider than the page" in text


@needs_pdflatex
def test_failed_document_compiles_and_says_failed(tmp_path):
    d = derive(spec("2,1", "sigmoid", "mse"))
    report = passing_report(d)
    report.checks[0].passed = False
    text, _, _ = compile_and_read(tmp_path, "failed", latex.document(d, report, allow_failed=True))
    assert "Verification FAILED" in text and "FAIL" in text


@needs_pdflatex
def test_cli_pdf(tmp_path, capsys):
    out = tmp_path / "net.tex"
    assert run_derive([*NET, "--latex", str(out), "--pdf"]) == 0
    assert Path(tmp_path / "net.pdf").stat().st_size > 10_000
    assert "net.pdf" in capsys.readouterr().out
