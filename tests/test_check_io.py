"""symbackprop check as a user meets it: what counts as a claim, directives, the four output formats, the exit
status, and injection attempts through the document that must do nothing but produce a message."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symbackprop import cli
from symbackprop.claims import check_text
from symbackprop.claims.extract import displays
from symbackprop.claims.output import FORMATS
from symbackprop.cli import main

TRUE = r"\frac{\partial E}{\partial b^{l}} = \delta^{l}"
FALSE = r"\frac{\partial E}{\partial W^{l}} = \Delta^{l} (S^{l-1})^{T}"


def test_every_display_kind_is_a_claim_and_inline_math_is_not():
    # equation, equation*, align (one claim per row, & and \\ handled, \label/\nonumber/\tag ignored), \[ \], $$ $$
    doc = "\n".join([
        r"Inline $a = b$ is prose.",
        r"\begin{equation} " + TRUE + r" \label{eq:one} \end{equation}",
        r"\begin{equation*} " + TRUE + r" \end{equation*}",
        r"\begin{align}",
        r"  \frac{\partial E}{\partial b^{l}} &= \delta^{l} \nonumber \\",
        r"  y^{l} &= W^{l} s^{l-1} + b^{l} \tag{7}",
        r"\end{align}",
        r"\[ " + TRUE + r" \]",
        r"$$ " + TRUE + r" $$",
    ])
    results = check_text(doc)
    assert [r.line for r in results] == [2, 3, 5, 6, 8, 9]
    assert all(r.verdict == "holds" for r in results)


def test_an_align_row_that_starts_with_equals_continues_the_previous_one():
    # A &= B \\ &= C claims A = B and B = C
    rows = displays("\\begin{align*}\n E &= F \\\\\n &= G\n\\end{align*}")[0].rows
    assert rows == [(2, "E = F"), (3, "F = G")]


def test_comments_are_not_claims():
    assert check_text("% \\[ " + FALSE + " \\]\n") == []


def test_markdown_display_math_and_directive():
    # in Markdown the directive is an HTML comment; code fences are not math
    doc = ("<!-- symbackprop: layers=2,3 activations=sigmoid loss=bce -->\n"
           "$$\\delta^{L} = \\frac{1}{n}(a^{L} - z)$$\n"
           "```\n$$ " + FALSE + " $$\n```\n")
    results = check_text(doc, kind="md")
    assert [(r.line, r.verdict) for r in results] == [(2, "holds")]
    assert results.networks and all(n.startswith("2-3 [sigmoid] cost bce") for n in results.networks)


def test_directives_set_the_network_skip_and_define():
    doc = ("% symbackprop: layers=2,3 activations=sigmoid loss=bce\n"
           "\\[ \\delta^{L} = \\frac{1}{n}(a^{L} - z) \\]\n"
           "% symbackprop: skip\n"
           "\\[ \\text{whatever} = 1 \\]\n"
           "% symbackprop: definition\n"
           "\\[ h = \\frac{1}{n}(a^{L} - z) \\]\n"
           "\\[ \\delta^{L} = h \\]\n"
           "% symbackprop: panel\n"
           "\\[ \\delta^{L} = \\frac{1}{n}(a^{L} - z) \\]\n")
    assert [r.verdict for r in check_text(doc)] == ["holds", "skipped", "defined", "holds", "conditional"]


def test_a_spec_for_the_whole_file():
    from symbackprop.engine.spec import NetworkSpec

    spec = NetworkSpec.from_options("3,4,2", "tanh,sigmoid", "bce")
    report = check_text("\\[ \\delta^{L} = \\frac{1}{n}(a^{L} - z) \\]", spec=spec)
    assert report[0].verdict == "holds" and all("3-4-2" in n for n in report.networks)


@pytest.mark.parametrize("doc, note", [
    ("\\input{/etc/passwd}\n\\[ " + TRUE + " \\]", "was not followed"),
    ("\\immediate\\write18{touch PWNED}\n\\[ " + TRUE + " \\]", "never runs anything"),
    ("\\newcommand{\\dEdW}{\\frac{\\partial E}{\\partial W^{l}}}\n\\[ \\dEdW = 0 \\]", "was not expanded"),
    ("\\def\\x{y}\n\\[ " + TRUE + " \\]", "was not expanded"),
])
def test_injection_through_the_document_only_produces_a_message(doc, note, tmp_path, monkeypatch):
    # nothing is read, written or run: a note says what was seen; claims that need the macro are unread
    monkeypatch.chdir(tmp_path)
    report = check_text(doc)
    assert any(note in n for n in report.notes)
    assert not (tmp_path / "PWNED").exists()
    assert all(r.verdict in ("holds", "unread") for r in report)


def test_python_in_a_directive_is_refused_with_a_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    doc = ("% symbackprop: __import__('os').system('touch PWNED')\n"
           "% symbackprop: layers=__import__('os') activations=sigmoid loss=mse\n"
           "\\[ " + TRUE + " \\]\n")
    report = check_text(doc)
    assert not (tmp_path / "PWNED").exists()
    assert len(report.notes) == 2 and all("was not run" in note for note in report.notes)
    assert report[0].verdict == "holds"  # checked on the panel: the refused directive changed nothing


def test_json_has_the_fields_and_the_networks():
    report = check_text("\\[ " + FALSE + " \\]\n\\[ " + TRUE + " \\]")
    data = json.loads(FORMATS["json"](report, ""))
    assert {"claims", "networks", "notes"} <= set(data)
    first = data["claims"][0]
    assert {"line", "latex", "verdict", "evidence", "counterexample"} <= set(first)
    assert first["verdict"] == "fails" and first["counterexample"]["left"] and data["networks"]


def test_text_and_markdown_show_the_evidence():
    report = check_text("\\[ " + FALSE + " \\]")
    assert "counterexample on" in FORMATS["text"](report, "")
    md = FORMATS["md"](report, "")
    assert "| 1 |" in md and "**fails**" in md and "left side" in md


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_tex_output_compiles_with_pdflatex(tmp_path):
    # the user's document with its verdicts (a failing one boxed, with characters TeX treats specially) compiles
    doc = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
           "\\begin{align}\n" + TRUE + " \\\\\n" + FALSE + "\n\\end{align}\n"
           "\\[ \\mathrm{ReLU}'(y) = \\max(0, 1) \\]\n\\[ \\nabla_{W} E = \\$ \\% \\]\n\\end{document}\n")
    (tmp_path / "in.tex").write_text(doc)
    out = tmp_path / "out.tex"
    assert main(["check", str(tmp_path / "in.tex"), "--format", "tex", "-o", str(out)]) == 1
    text = out.read_text()
    assert text.count("\\fbox") == 3 and "symbackprop check: 4 claim(s)" in text
    done = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                           "out.tex"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "out.pdf").stat().st_size > 1000


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_tex_output_puts_the_verdict_beside_each_row(tmp_path):
    # each row gets its verdict beside it: \tag* in align* and \[ \], a column of its own (&&) in a numbered align
    # (so the equation numbers stay), nothing where a tag is not allowed ($$, a row with its own \tag); the
    # engine's corrected statement is typeset as math in the failing claim's box; amsmath is loaded if missing
    wrong = r"\frac{\partial E}{\partial W^{l}} = (s^{l-1})^{T} \delta^{l}"  # the transpose on the wrong side
    doc = ("\\documentclass{article}\n\\begin{document}\n"
           "\\begin{align}\n" + TRUE.replace(" = ", " &= ") + " \\\\\n y^{l} &= W^{l} s^{l-1} + b^{l} \\nonumber\n"
           "\\end{align}\n"
           "\\begin{align*}\n" + TRUE + " \\\\\n x &= \\begin{bmatrix} x_{1} \\\\ x_{2} \\end{bmatrix}\n\\end{align*}\n"
           "\\[ " + wrong + " \\]\n"
           "\\begin{equation}\n" + TRUE + " \\tag{7}\n\\end{equation}\n"
           "$$ " + TRUE + " $$\n\\end{document}\n")
    (tmp_path / "in.tex").write_text(doc)
    out = tmp_path / "out.tex"
    assert main(["check", str(tmp_path / "in.tex"), "--format", "tex", "-o", str(out), "--layers", "2,2,2",
                 "--activations", "tanh,sigmoid", "--loss", "mse"]) == 1
    text = out.read_text()
    assert text.count("&&\\text{\\textsf{\\footnotesize holds}}") == 2  # the numbered align's two rows
    assert text.count("\\tag*{\\textsf{\\footnotesize holds}}") == 2  # align*'s rows
    assert text.count("\\tag*{\\textsf{\\footnotesize \\textbf{ill-formed}}}") == 1  # the \[ \] row
    assert text.count("\\tag*") == 3 and "\\usepackage{amsmath}" in text
    done = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                           "out.tex"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:]


def test_tex_output_typesets_the_corrected_statement():
    # a failing claim's box shows the engine's dE/dW^l form as math ($\displaystyle ...$), not escaped source
    from symbackprop.claims.output import tex

    report = check_text("\\[ \\frac{\\partial E}{\\partial W^{l}} = 2 \\delta^{l} (s^{l-1})^{T} \\]")
    (r,) = report
    assert r.verdict == "fails" and r.corrected
    out = tex(report, "\\[ \\frac{\\partial E}{\\partial W^{l}} = 2 \\delta^{l} (s^{l-1})^{T} \\]")
    math = r.corrected.split("  (")[0]
    assert "corrected (the engine's): $\\displaystyle " + math + "$" in out


def test_exit_status(tmp_path, capsys):
    # 0 when nothing fails or is ill-formed, 1 when something does, 2 for bad input
    good, bad = tmp_path / "good.tex", tmp_path / "bad.md"
    good.write_text("\\[ " + TRUE + " \\]")
    bad.write_text("$$ " + FALSE + " $$")
    assert main(["check", str(good)]) == 0
    capsys.readouterr()
    assert main(["check", str(bad), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["claims"][0]["verdict"] == "fails"
    assert main(["check", str(tmp_path / "missing.tex")]) == 2
    assert main(["check", str(good), "--layers", "2,0", "--activations", "tanh", "--loss", "mse"]) == 2
    assert "size 1 must be a positive integer" in capsys.readouterr().err
    assert main(["check", str(good), "-o", str(good)]) == 2  # exists, no --force
    assert main(["check", str(good), "--layers", "3,2", "--activations", "sigmoid", "--loss", "bce"]) == 0


def test_progress_on_long_files(tmp_path, capsys):
    long = tmp_path / "long.tex"
    long.write_text("".join(f"\\[ {TRUE} \\]\n" for _ in range(cli.PROGRESS_FROM)))
    assert main(["check", str(long)]) == 0
    assert f"{cli.PROGRESS_FROM}/{cli.PROGRESS_FROM}" in capsys.readouterr().err


def test_cli_constants_match_the_module():
    assert cli.CHECK_FORMATS == tuple(FORMATS)


def test_docs_check_md_shows_the_parse_of_each_example():
    # docs/check.md: every example of its notation table parses to the tree it prints
    from symbackprop.claims.grammar import parse_claim

    text = (Path(__file__).parent.parent / "docs" / "check.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `") and "| `[Eq(" in line]
    assert len(rows) >= 15
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row.strip("|"))  # a pipe escaped in a cell is the cell's own
        latex, tree = (cell.strip().strip("`").replace("\\|", "|") for cell in cells[:2])
        assert repr(parse_claim(latex)) == tree, latex


def test_words_after_an_equation_are_cut_off_and_said_so():
    # "\quad \text{for } l < L" is prose: the equation before it is checked, and the evidence says what was cut
    (r,) = check_text("\\[ \\delta^{l} = a'(y^{l}) \\odot (W^{l+1})^{T} \\delta^{l+1}, \\quad \\text{for } l < L. \\]")
    assert r.verdict == "holds" and "were not read" in r.evidence and "for } l < L" in r.evidence


def test_one_layer_networks_read_names_without_a_layer():
    # book ch. 3: with one layer, W, b, y, a, delta are layer 1's (dE/dW = delta x^T, eq. 17 reduced)
    doc = ("% symbackprop: layers=4,3 activations=sigmoid loss=mse\n"
           "\\[ y = W x + b \\]\n\\[ \\frac{\\partial E}{\\partial W} = \\delta x^{T} \\]\n"
           "\\[ \\frac{\\partial a}{\\partial y} = \\operatorname{diag}(a'(y)) \\]\n"
           "\\[ \\frac{\\partial E}{\\partial W} = x \\delta^{T} \\]\n")
    assert [r.verdict for r in check_text(doc)] == ["holds", "holds", "holds", "ill-formed"]
