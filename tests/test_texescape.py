"""One LaTeX escaper (symbackprop.latex.escape), used by every writer of LaTeX.

The identity checked: for any text, the escaped string, read by TeX's own lexing rules, is plain
characters only -- every special character is a control symbol or a command that prints it, so
nothing user-written can open math, start a comment, a parameter, a subscript or a group.  With
pdflatex installed, the escaped text is compiled and pdftotext reads back exactly the input.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symbackprop.book import audit as book
from symbackprop.engine.jacobians import derive
from symbackprop.engine.spec import NetworkSpec
from symbackprop.latex import document as latex
from symbackprop.latex import escape as texescape
from symbackprop.latex.escape import tex_escape
from symbackprop.proofs import Proof
from symbackprop.proofs import proof as proof_module

#: The characters TeX's default catcodes give a meaning (the TeXbook, ch. 7), written out by hand.
SPECIALS = "\\{}$&#^_%~"
PRINTS = {"\\textbackslash{}": "\\", "\\{": "{", "\\}": "}", "\\$": "$", "\\&": "&", "\\#": "#",
          "\\textasciicircum{}": "^", "\\_": "_", "\\%": "%", "\\textasciitilde{}": "~"}
NASTY = "a_1 & 50% of $x^2$ ~ {#1} \\end{document} \\\\ %comment ^^M ~~ __"


def lex(tex):
    """Read ``tex`` as TeX would in text mode, returning the characters printed; fail on any live special."""
    out, i = [], 0
    while i < len(tex):
        for command, printed in PRINTS.items():
            if tex.startswith(command, i):
                out.append(printed)
                i += len(command)
                break
        else:
            assert tex[i] not in SPECIALS, f"unescaped {tex[i]!r} at {i} in {tex!r}"
            out.append(tex[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("ch", list(SPECIALS))
def test_every_special_character_is_escaped(ch):
    # each special alone, doubled, and between letters reads back as itself and nothing is live
    for text in (ch, ch * 2, f"a{ch}b"):
        assert lex(tex_escape(text)) == text


def test_mixed_text_reads_back():
    assert lex(tex_escape(NASTY)) == NASTY


def test_every_writer_uses_the_one_escaper():
    # the LaTeX document, the book audit and the proofs call the same function object
    assert latex.tex_escape is book.tex_escape is proof_module.tex_escape is texescape.tex_escape
    # and no module of the package keeps a table of its own (a second table is how '~' was missed before)
    package = Path(texescape.__file__).parent.parent
    holders = [p.name for p in package.rglob("*.py") if re.search(r'"&"\s*:\s*r?"\\\\?&"', p.read_text())]
    assert holders == ["escape.py"]


def test_writers_escape_user_text():
    # a network named with '~' and '%' (the document title), and a proof whose name carries them
    spec = NetworkSpec.from_options("2,1", "sigmoid", "mse")
    spec = NetworkSpec(spec.sizes, spec.activations, spec.cost, name="net~1 50%")
    tex = latex.document(derive(spec))
    assert "net\\textasciitilde{}1 50\\%" in tex
    shown = Proof("x~y_1", "s", "s")._repr_latex_()
    assert "x\\textasciitilde{}y\\_1" in shown


@pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
                    reason="pdflatex/pdftotext not installed (.ci/install_latex.sh)")
def test_escaped_text_compiles_and_reads_back(tmp_path):
    # TeX itself is the independent judge: the PDF's text is the input, character for character
    tex = tmp_path / "escaped.tex"
    tex.write_text("\\documentclass{article}\\usepackage[T1]{fontenc}\\pagestyle{empty}\\begin{document}\n"
                   f"{tex_escape(NASTY)}\n\\end{{document}}\n")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
                   cwd=tmp_path, check=True, capture_output=True)
    text = subprocess.run(["pdftotext", str(tmp_path / "escaped.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert text.split() == NASTY.split()
