"""Tests of symbackprop.book.audit / book_claims: every verdict pinned, every counterexample recomputed here.

The audit runs once per test session (module fixture); each assertion recomputes the number it pins
independently (by hand-written NumPy or SymPy), so an engine change that flips a verdict is caught.
"""
import json
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp

from symbackprop.book import audit as book
from symbackprop.cli import main

# Every claim's verdict.  A change here must be a deliberate change of the audit, argued in docs/errata.md.
FAILS = {"ch1.listing2", "sec2.5.norm_requirement", "sec3.2.mse.norm", "sec3.2.cross_entropy.norm", "sec3.2.bce.norm",
         "table3.5.relu", "table3.5.bce", "sec4.2.pattern_count", "ch4.listing.cost_derivative",
         "ch5.listing.gradient_scale", "tut.softmax_T5"}
CONDITIONAL = {"sec3.3.diagonal", "table3.5.softmax", "tut.sigmoid_bce_delta", "tut.backprop_2layer", "tut.softmax_T0.1"}


@pytest.fixture(scope="module")
def outcomes():
    return {o.claim.id: o for o in book.audit()}


def test_every_verdict_is_pinned(outcomes):
    # holds / fails / conditional, claim by claim; no check may break
    assert not [i for i, o in outcomes.items() if o.verdict == book.BROKEN]
    assert {i for i, o in outcomes.items() if o.verdict == "fails"} == FAILS
    assert {i for i, o in outcomes.items() if o.verdict == "conditional"} == CONDITIONAL
    assert len(outcomes) >= 90 and len(set(outcomes)) == len(outcomes)


def test_registry_covers_the_issue(outcomes):
    # the sections the issue lists, each with at least one claim
    prefixes = ["eq7", "eq8_10", "eq15", "eq16_17", "eq19", "eq20_23", "eq34", "eq37", "eq39", "eq42", "eq45", "eq50_51",
                "eq53", "eq58", "eq61", "eq65_66", "sec4.7", "eq67", "eq69", "eq72", "eq74", "eq80", "eq85", "eq87",
                "eq89", "table3.5.sigmoid", "table3.5.tanh", "table3.5.softmax", "table3.5.relu", "table3.5.mse",
                "table3.5.mae", "table3.5.cross_entropy", "table3.5.bce", "appA", "appB", "appC", "appE", "appG",
                "sec2.5", "ch1.game", "ch1.listing1", "ch3.listing", "ch4.listing", "ch5.listing", "tut."]
    for p in prefixes:
        assert any(i.startswith(p) for i in outcomes), p
    assert all(o.claim.statement_latex for o in outcomes.values())


def test_failing_claims_carry_correction_and_counterexample(outcomes):
    for i in FAILS:
        f = outcomes[i].finding
        assert f.correct and f.counterexample and f.evidence, i
    for i in CONDITIONAL:
        assert outcomes[i].finding.condition, i


def test_chapter1_numbers(outcomes):
    # the game: 1(0.9) + 2(1.5) + 3(-0.1) + 4(0.3) = 4.8 and the learned vector gives 3.14
    assert np.isclose(np.dot([1, 2, 3, 4], [0.9, 1.5, -0.1, 0.3]), 4.8)
    assert np.isclose(np.dot([1, 2, 3, 4], [0.9, 0.97, -0.3, 0.3]), 3.14)
    assert outcomes["ch1.game.initial"].verdict == outcomes["ch1.game.final"].verdict == "holds"
    # the 3x4 listing: rows 2 and 3 give 2.89 and 6.73, not 2.71 and 6.63
    W = np.array([[0.9, 0.97, -0.3, 0.3], [0.1, 0.5, 0.8, -0.1525], [1.0, 2.0, 0.9, -0.2425]])
    result = W @ np.array([1, 2, 3, 4])
    assert np.allclose(result, [3.14, 2.89, 6.73])
    f = outcomes["ch1.listing2"].finding
    assert "2.89" in f.summary and "6.73" in f.summary and "-0.1975" in f.correct and "-0.2675" in f.correct
    assert np.allclose(np.array([[0.1, 0.5, 0.8, -0.1975], [1.0, 2.0, 0.9, -0.2675]]) @ [1, 2, 3, 4], [2.71, 6.63])


def test_relu_row_counterexample(outcomes):
    # relu(y) = 0 near y = -1, so relu'(-1) = 0, while max{0, 1} = 1
    y = sp.Symbol("y", real=True)
    assert sp.diff(sp.Max(0, y), y).subs(y, -1) == 0 and sp.Max(0, 1) == 1
    assert "at y = -1" in outcomes["table3.5.relu"].finding.counterexample


def test_bce_row_counterexample(outcomes):
    # n = 2, a = (1/2, 1/2), z = (1, 0): dE/da_1 = -1/(2 a_1) = -1; the printed (a - z)/(a(1 - a)) gives -2
    a1 = sp.Symbol("a1", positive=True)
    half = sp.Rational(1, 2)
    E = -(sp.log(a1) + sp.log(1 - half)) / 2
    assert sp.diff(E, a1).subs(a1, half) == -1
    assert (half - 1) / (half * (1 - half)) == -2
    f = outcomes["table3.5.bce"].finding
    assert "printed -2, derived -1" in " ".join(f.evidence) and "with n = 1 the two agree: True" in f.evidence


def test_mse_and_mae_rows_hold(outcomes):
    # d/da (z - a)^2 / n = -2(z - a)/n ; d/da |a - z| / n = sign(a - z)/n away from a = z
    a, z, n = sp.symbols("a z n", real=True)
    assert sp.simplify(sp.diff((z - a) ** 2 / n, a) + 2 * (z - a) / n) == 0
    assert outcomes["table3.5.mse"].verdict == outcomes["table3.5.mae"].verdict == "holds"


def test_softmax_row_is_the_diagonal_only(outcomes):
    # softmax at y = (0, 0): da_1/dy_2 = -a_1 a_2 = -1/4
    y1, y2 = sp.symbols("y1 y2", real=True)
    a1 = sp.exp(y1) / (sp.exp(y1) + sp.exp(y2))
    assert sp.diff(a1, y2).subs({y1: 0, y2: 0}) == sp.Rational(-1, 4)
    assert "-1/4" in outcomes["sec3.3.diagonal"].finding.counterexample


def test_norm_counterexamples(outcomes):
    # MSE, n = 1: E(2) = 4 != 2 E(1) = 2; cross-entropy: z = (1, 0), P = (1, 1/2) gives E = 0 with P != z
    assert (2 ** 2) != 2 * (1 ** 2)
    assert -(1 * np.log(1) + 0 * np.log(0.5)) / 2 == 0
    assert "homogeneity fails" in outcomes["sec3.2.mse.norm"].finding.counterexample
    assert outcomes["sec3.2.mae.norm"].verdict == "holds"
    assert "E != 0 although P = z" in " ".join(outcomes["sec3.2.bce.norm"].finding.evidence)  # BCE(1/2, 1/2) = log 2


def test_pattern_count(outcomes):
    # between dE/da^L and dy^1/dW^1 there are L - 1 matrices W^L..W^2
    ev = outcomes["sec4.2.pattern_count"].finding.evidence
    assert any("L = 2:" in e and "1 weight matrices" in e for e in ev)
    assert any("L = 4:" in e and "3 weight matrices" in e for e in ev)


def _ratios(text):
    return [float(v) for v in text.rsplit("[", 1)[1].split("]")[0].split(",")]


def test_listing_gradient_scales(outcomes):
    # ch. 4: P - z is n/2 = 5 times d/dP mean((z - P)^2) for n = 10; ch. 5: n * beta / 2 = 320 for beta = 64
    ch4 = outcomes["ch4.listing.cost_derivative"].finding.evidence[0]
    assert np.allclose(_ratios(ch4), 10 / 2, rtol=1e-5)
    ch5 = outcomes["ch5.listing.gradient_scale"].finding.evidence
    assert np.allclose(_ratios(ch5[0]), 10 * 64 / 2, rtol=1e-4)
    assert np.allclose(_ratios(ch5[1]), 10 * 32 / 2, rtol=1e-4)
    assert outcomes["ch4.listing.backprop"].verdict == "holds"


def test_tutorial_temperature_values(outcomes):
    # softmax([2, 1, 0.5] / T): T = 0.1 gives (1.0, 0.0, 0.0); T = 5 gives (0.391, 0.320, 0.289)
    def softmax(v, T):
        e = np.exp(np.array(v) / T)
        return e / e.sum()
    assert np.allclose(softmax([2, 1, 0.5], 0.1).round(2), [1.0, 0.0, 0.0])
    assert np.allclose(softmax([2, 1, 0.5], 5).round(2), [0.39, 0.32, 0.29])
    assert "0.32" in outcomes["tut.softmax_T5"].finding.correct
    assert outcomes["tut.softmax_values"].verdict == "holds"


def test_tutorial_backprop_needs_one_output(outcomes):
    # compute_loss averages over n * m entries, backward divides by m only: ratio n = 2 for two outputs
    text = outcomes["tut.backprop_2layer"].finding.counterexample
    assert abs(float(text.split("=")[-1]) - 2.0) < 1e-4


def test_cli_table_and_formats(tmp_path, capsys):
    assert main(["verify-book", "--only", "ch1.game.initial", "table3.5.bce"]) == 0
    out = capsys.readouterr().out
    assert "table3.5.bce" in out and "fails" in out and "2 claims" in out
    target = tmp_path / "r.json"
    assert main(["verify-book", "--only", "table3.5.relu", "--format", "json", "-o", str(target)]) == 0
    data = json.loads(target.read_text())
    entry = data["claims"][0]
    assert entry["id"] == "table3.5.relu" and entry["verdict"] == "fails" and entry["evidence"] and entry["statement"]
    assert main(["verify-book", "--only", "eq7.xW_form", "--format", "md"]) == 0
    assert "## `eq7.xW_form`" in capsys.readouterr().out
    assert main(["verify-book", "--show", "sec2.5.norm_requirement"]) == 0
    shown = capsys.readouterr().out
    assert "counterexample:" in shown and "the check:" in shown


def test_cli_errors(capsys, monkeypatch, tmp_path):
    assert main(["verify-book", "--only", "no.such.claim"]) == 2
    assert "no claim 'no.such.claim'" in capsys.readouterr().err
    assert main(["verify-book", "--only", "eq7.xW_form", "-o", str(tmp_path / "missing" / "r.md")]) == 2

    def broken():
        raise ZeroDivisionError("boom")
    fake = [book.Claim("x.broken", "nowhere", "x", False, broken)]
    monkeypatch.setattr("symbackprop.book.claims.CLAIMS", fake)
    assert main(["verify-book"]) == 1  # a broken check is the only non-zero exit
    assert "broken" in capsys.readouterr().out


def test_tex_report_compiles(tmp_path):
    tex = tmp_path / "book.tex"
    assert main(["verify-book", "--only", "table3.5.softmax", "tut.weighted_sum", "ch5.listing.matmul",
                 "--format", "tex", "-o", str(tex)]) == 0
    assert tex.read_text().startswith("\\documentclass")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], check=False,
                         cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "book.pdf").exists()
