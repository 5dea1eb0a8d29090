r"""The whole backprop derivation of a network as a LaTeX document, in the book's route.

:func:`document` renders ``templates/derivation.tex.j2`` from a
:class:`~symbackprop.engine.jacobians.Derivation` and its
:class:`~symbackprop.verification.verify.VerificationReport`: the network and its composed
error (eq. 46, 49), every layer from L down to 1 (eq. 14-19, 50-54, 60-68),
the recursion and general formula (eq. 65-66), the dimension analysis of
sec. 4.7 at the actual sizes, the update rules (eq. 20-23, 75-78), the batch
forms (eq. 80-92) when a batch size is given, the activation and cost with
their derived derivatives, and what the verification proved.  A document is
never produced for a failed verification unless ``allow_failed`` (then it says
so in red).

>>> from symbackprop.engine.spec import NetworkSpec
>>> from symbackprop.engine.jacobians import derive
>>> tex = document(derive(NetworkSpec.from_options("2,1", "sigmoid", "bce")))
>>> tex.startswith(r"\documentclass") and r"\otimes" in tex and "Subs" not in tex
True
"""
import shutil
import subprocess
import tempfile
from pathlib import Path

import sympy as sp

from symbackprop.errors import SymbackpropError
from symbackprop.latex.escape import tex_escape
from symbackprop.latex.notation import A_, B_, D_, S_, W_, Y_, display_symbol
from symbackprop.latex.printing import EXPLICIT_MAX_LIMIT, DerivationPrinter
from symbackprop.support import files
from symbackprop.support.resources import jinja_env

#: Book equation numbers for each step of a layer ("cf. eq. N of When Equations Learn").
BOOK_EQUATIONS = {
    "forward": "6, 11, 47", "dE_da": "15, 53", "da_dy": "14", "dy_dW": "16--17", "chain": "50--51",
    "delta": "54, 60, 65", "dE_dW": "61, 66--68, 76", "dE_db": "19, 62--64, 72--73",
}

def check_explicit_max(explicit_max):
    """--explicit-max must lie in 1..EXPLICIT_MAX_LIMIT: wider matrices cannot be typeset on a page."""
    if not isinstance(explicit_max, int) or isinstance(explicit_max, bool) or explicit_max < 1:
        raise SymbackpropError(f"--explicit-max must be a positive whole number, got {explicit_max!r}")
    if explicit_max > EXPLICIT_MAX_LIMIT:
        raise SymbackpropError(
            f"--explicit-max {explicit_max} is too large to typeset: a matrix of more than "
            f"{EXPLICIT_MAX_LIMIT} columns does not fit a page; use at most {EXPLICIT_MAX_LIMIT} "
            f"(larger layers get the general i-th-entry forms)")


def document(derivation, report=None, explicit_max=4, standalone=True, allow_failed=False):
    """The LaTeX source (a string) of the derivation; ``report`` defaults to ``verify(derivation)``."""
    check_explicit_max(explicit_max)
    if report is None:
        from symbackprop.verification.verify import verify

        report = verify(derivation)
    if not report.passed and not allow_failed:
        failed = "; ".join(f"layer {c.layer} {c.quantity} {c.forms} ({c.method})" for c in report.failures())
        raise SymbackpropError(f"verification failed ({failed or 'no checks ran'}); no document written "
                               f"(pass --allow-failed to typeset it anyway, marked as failed)")
    printer = DerivationPrinter(explicit_max)
    context = _context(derivation, report, printer)
    context["standalone"] = standalone
    return jinja_env("latex").get_template("derivation.tex.j2").render(**context)


def _context(derivation, report, printer):
    net, spec, L = derivation.network, derivation.spec, derivation.L
    layers = []
    for layer in reversed(list(derivation)):
        pieces = printer.layer_pieces(layer)
        layers.append({"l": layer.l, "n": layer.n, "m": layer.m, "is_output": layer.is_output,
                       "activation": tex_escape(layer.activation.label()), "W": W_(layer.l), "b": B_(layer.l),
                       "y": Y_(layer.l), "a": A_(layer.l), "s": S_(layer.l), "delta": D_(layer.l),
                       "pieces": pieces, "eq": BOOK_EQUATIONS,
                       "notes": sorted({_note(p.note) for p in pieces.values() if p.note})})
    return {
        "title": tex_escape(spec.name) if getattr(spec, "name", "network") != "network" else "",
        "description": tex_escape(spec.describe()), "L": L, "sizes": list(net.sizes),
        "n_params": f"{spec.n_params:,}", "explicit_max": printer.explicit_max,
        "table": [{"l": l, "n": net.n(l), "m": net.n(l - 1), "activation": tex_escape(net.activations[l].label()),
                   "params": f"{net.n(l) * (net.n(l - 1) + 1):,}"} for l in range(1, L + 1)],
        "composed": _composed(L), "cost": _cost(derivation, printer), "activations": _activations(derivation, printer),
        "output_delta": _output_delta(derivation, printer), "layers": layers,
        "W": W_, "B": B_, "Y": Y_, "A": A_, "D": D_, "S": S_,
        "batch": spec.batch, "verification": _verification(report), "failed": not report.passed,
        "forms": _forms(derivation),
    }


def _forms(derivation):
    """Each layer's Delta^l and gradient forms as LaTeX: the objects the code prints and verification evaluates."""
    from symbackprop.latex.forms import form_latex
    from symbackprop.latex.notation import tex_width

    rows = []
    for layer in reversed(list(derivation)):
        dW, db = layer.gradient_forms
        delta = form_latex(layer.delta_form)
        rows.append({"l": layer.l, "delta": delta, "dW": form_latex(dW), "db": form_latex(db),
                     "wide": tex_width(delta) > 34})
    return rows


def _note(text):
    """A printer note as LaTeX text: option names in typewriter, without TeX's -- ligature."""
    return tex_escape(text).replace("--explicit-max", r"\texttt{-{}-explicit-max}")


def _composed(L):
    """E(a^L(y^L(...a^1(y^1(x))))) and P = a^L o y^L o ... o a^1 o y^1 (eq. 46, 49)."""
    inner = r"\mathbf{x}"
    shown = range(1, L + 1) if L <= 4 else [1, 2, L - 1, L]
    for l in shown:
        if L > 4 and l == L - 1:
            inner = rf"\cdots {inner} \cdots"
        inner = rf"{A_(l)}\bigl({Y_(l)}({inner})\bigr)" if l == L or l < 3 else rf"{A_(l)}({Y_(l)}({inner}))"
    chain = r" \circ ".join(rf"{A_(l)} \circ {Y_(l)}" for l in (range(L, 0, -1) if L <= 4 else (L, 1)))
    if L > 4:
        chain = chain.replace(r" \circ \mathbf{a}^{1}", r" \circ \cdots \circ \mathbf{a}^{1}")
    return {"nested": rf"E = E\Bigl({inner}\Bigr)", "circ": rf"P = {chain}"}


def _cost(derivation, printer):
    cost, n = derivation.network.cost, derivation.network.sizes[-1]
    L = derivation.L
    a_i, z_i = display_symbol(f"a{L}_i"), display_symbol("z_i")
    from symbackprop.engine.symbols import A, Z

    term = cost.term.xreplace({A: a_i, Z: z_i})
    return {"name": tex_escape(cost.label()),
            "description": tex_escape(cost.description.split("  ")[0].split(" E =")[0]),
            "E": rf"E = \frac{{1}}{{{n}}} \sum_{{i=1}}^{{{n}}} {printer.doprint(term)}" if n > 1 else
            rf"E = {printer.doprint(term).replace('_{i}', '_{1}')}",
            "term": printer.doprint(cost.term), "derivative": printer.doprint(cost.derivative)}


def _activations(derivation, printer):
    """Each distinct activation: a(y), a'(y) as ``sp.diff`` gave it, and a'(y) through a if found."""
    seen, out = set(), []
    for layer in derivation:
        act = layer.activation
        if act.label() in seen:
            continue
        seen.add(act.label())
        entry = {"name": tex_escape(act.label()), "formula": printer.doprint(act), "elementwise": act.elementwise,
                 "layers": ", ".join(str(x.l) for x in derivation if x.activation.label() == act.label())}
        if act.elementwise:
            entry["derivative"] = printer.doprint(act.derivative)
            entry["in_a"] = printer.doprint(act.derivative_in_a) if act.derivative_in_a is not None else ""
        else:
            expr, _ = act.jacobian_entry
            entry["derivative"] = printer.doprint(expr).replace("{a}_{i}", "a_{i}").replace("{a}_{j}", "a_{j}")
            entry["in_a"] = ""
        out.append(entry)
    return out


def _output_delta(derivation, printer):
    found = derivation.output_delta
    return {"tex": printer.doprint(found), "cancelled": printer.doprint(found.cancelled) if found.cancelled is not None
            else "", "condition": tex_escape(found.condition or ""), "uses_y": found.uses_y,
            "changed": sp.srepr(found.naive) != sp.srepr(found.simplified)}


def _quantity(text):
    """'dE/dW^2 (batch)' -> LaTeX."""
    import re

    m = re.fullmatch(r"dE/d([Wb])\^(\d+)(.*)", text)
    formula = re.fullmatch(r"(a'\(y\)|e'\(a, z\)) of (.*)", text)
    if formula:
        return f"${formula.group(1)}$ of {tex_escape(formula.group(2))}"
    if text == "delta^L":
        return r"$\delta^{L}$"
    if not m:
        return tex_escape(text)
    symbol = W_(m.group(2)) if m.group(1) == "W" else B_(m.group(2))
    return rf"$\partial E/\partial {symbol}$" + tex_escape(m.group(3))


def _verification(report):
    rows = [{"layer": c.layer or "all", "quantity": _quantity(c.quantity), "forms": tex_escape(c.forms),
             "method": tex_escape(c.method),
             "entries": c.entries, "passed": c.passed,
             "discrepancy": "0 (proof)" if c.method == "exact" and c.passed else f"${_sci(c.max_discrepancy)}$"}
            for c in report.checks]
    methods = sorted({c.method for c in report.checks})
    return {"rows": rows, "notes": [tex_escape(n) for n in report.notes], "passed": report.passed,
            "methods": methods, "seconds": f"{report.seconds:.2f}", "seed": report.seed, "digits": report.digits,
            "count": len(report.checks), "failures": len(report.failures())}


def _sci(x):
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


# -- files ---------------------------------------------------------------------------------------
def check_output_path(path, force=False):
    """Fail early, with a clear message, if the document cannot or should not be written to ``path``."""
    return files.check_output_path(path, force, example="derivation.tex")


def write_atomic(path, text, force=False):
    """Write the document through a temporary file in the same folder and ``os.replace``."""
    return files.write_atomic(path, text, force, example="derivation.tex")


def compile_pdf(tex_path, runs=2):
    """Run pdflatex on ``tex_path`` in a scratch folder; put the PDF beside it; return (pdf path, log text)."""
    tex_path = Path(tex_path)
    if shutil.which("pdflatex") is None:
        raise SymbackpropError("pdflatex is not installed (Debian: apt-get install texlive-latex-base "
                               "texlive-latex-recommended); the .tex file was written")
    with tempfile.TemporaryDirectory() as work:
        for _ in range(runs):
            done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                                   f"-output-directory={work}", str(tex_path.resolve())],
                                  check=False, capture_output=True, text=True, errors="replace", timeout=300)
        log = Path(work, tex_path.stem + ".log").read_text(errors="replace")
        pdf = Path(work, tex_path.stem + ".pdf")
        if done.returncode != 0 or not pdf.exists():
            first = next((line for line in log.splitlines() if line.startswith("!")), "see the log")
            raise SymbackpropError(f"pdflatex failed on {tex_path}: {first}")
        target = files.write_atomic(tex_path.with_suffix(".pdf"), pdf.read_bytes(), force=True)
    return target, log


# -- derive --latex -------------------------------------------------------------------------------
def handle_derive_args(args, derivation):
    """``derive --latex``: verify, typeset, write atomically; None when --latex was not given."""
    path = getattr(args, "latex", None)
    if not path:
        if getattr(args, "pdf", False):
            raise SymbackpropError("--pdf needs --latex OUT.tex")
        return None
    check_explicit_max(args.explicit_max)
    check_output_path(path, args.force)
    from symbackprop.verification.verify import verify

    report = verify(derivation)
    text = document(derivation, report, args.explicit_max, args.standalone, args.allow_failed)
    written = write_atomic(path, text, args.force)
    verdict = "verified" if report.passed else "VERIFICATION FAILED (marked in the document)"
    print(f"wrote {written} ({verdict}: {len(report.checks)} checks)")
    if args.pdf:
        if not args.standalone:
            raise SymbackpropError("--pdf needs a standalone document, not --fragment")
        pdf, _ = compile_pdf(written)
        print(f"wrote {pdf}")
    return 0 if report.passed else 1
