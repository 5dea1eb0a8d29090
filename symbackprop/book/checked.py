"""Audit claims that go through ``symbackprop check``: the audit and the checker share one path.

An equation claim of the book that the checker can read is written once, as LaTeX rows in the book's notation
(docs/check.md), with the network to check it on (a ``% symbackprop:`` directive; none means the checker's panel).
:func:`through_check` runs the rows through :func:`symbackprop.claims.check_text` and maps its verdicts to a
:class:`~symbackprop.book.model.Finding`: every row holds -> ``holds``; a row fails -> ``fails`` with the checker's
counterexample and its corrected statement; a row holds under a condition -> ``conditional``.  A row the checker
cannot read, or finds ill-formed, is a defect of the audit, not a verdict on the book: it raises (``broken``).

>>> f = through_check([r"\\sigma'(y) = \\sigma(y)(1 - \\sigma(y))"])
>>> f.verdict, f.values["rows"][0]["method"]
('holds', 'exact')
>>> f = through_check([r"\\mathrm{ReLU}'(y) = \\max\\{0, 1\\}"], correct="1 for y > 0, 0 for y < 0")
>>> f.verdict, f.values["rows"][0]["counterexample"]["point"]
('fails', 'y = -23/10')
"""
from symbackprop.book.model import CONDITIONAL, FAILS, HOLDS, Comparison, finding

#: the checker's verdicts that are verdicts of the audit; any other one (unread, ill-formed, skipped) is a defect
_AUDIT_VERDICT = {"holds": HOLDS, "fails": FAILS, "conditional": CONDITIONAL}


def claim_text(rows, network=None):
    """The LaTeX document the checker reads: the directive (``network``, e.g. "layers=4,3 activations=sigmoid
    loss=bce"), then the rows as one align.

    >>> print(claim_text(["E = E"], "layers=2,2 activations=sigmoid loss=mse"))
    % symbackprop: layers=2,2 activations=sigmoid loss=mse
    \\begin{align}
    E = E
    \\end{align}
    """
    directive = f"% symbackprop: {network}\n" if network else ""
    return directive + "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"


def sides(latex):
    """The two sides of one equation ``A = B`` (at its top-level '=')."""
    level = 0
    for pos, ch in enumerate(latex):
        level += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "=" and level == 0:
            return latex[:pos].strip(), latex[pos + 1:].strip()
    return latex, ""


def counterexample_text(ce):
    """The checker's counterexample (a dict) as one line a reader can recompute."""
    where = ", ".join(f"{k} = {v}" for k, v in (ce.get("bindings") or {}).items())
    on = f"on {ce['network']} " if ce.get("network") else ""  # None: a scalar identity
    return (f"{on}at {ce['point']}{' (' + where + ')' if where else ''}: left side {ce['left']}, "
            f"right side {ce['right']}")


def through_check(rows, network=None, *, summary="", correct=""):
    """The finding of an audit claim written as the LaTeX ``rows`` (see the module's docstring).

    ``correct`` is the audit's correction, used when the checker cannot derive one (a scalar identity).
    """
    from symbackprop.claims import check_text

    results = check_text(claim_text(rows, network))
    broken = [r for r in results if r.verdict not in _AUDIT_VERDICT]
    if broken or not results:
        raise AssertionError("the checker did not give a verdict: "
                             + "; ".join(f"{r.latex}: {r.verdict}: {r.evidence}" for r in broken))
    compared, table = [], []
    for r in results:
        left, right = sides(r.latex)
        how = f"symbackprop check: {r.verdict}" + (f" ({r.method})" if r.method else "") + f"; {r.evidence}"
        compared.append(Comparison("the claim", left, right, how))
        table.append({"latex": r.latex, "verdict": r.verdict, "method": r.method, "counterexample": r.counterexample,
                      "condition": r.condition, "corrected": r.corrected, "networks": list(r.networks)})
    values = {"rows": table, "network": network or "the checker's panel"}
    failing = [r for r in results if r.verdict == FAILS]
    if failing:
        r = failing[0]
        fixes = [x for x in (r.corrected and f"the checker (from the engine's derivation): ${_math(r.corrected)}$",
                             correct) if x]
        return finding(FAILS, summary or f"${r.latex}$ fails: {r.evidence}", [r.evidence], compared=compared, values=values,
                       correct="; ".join(fixes), counterexample=counterexample_text(r.counterexample))
    conditional = [r for r in results if r.verdict == CONDITIONAL]
    if conditional:
        r = conditional[0]
        return finding(CONDITIONAL, summary or f"${r.latex}$ holds under a condition", [r.evidence],
                       compared=compared, values=values, condition=r.condition, correct=correct,
                       counterexample=counterexample_text(r.counterexample) if r.counterexample else "")
    return finding(HOLDS, summary or "holds: " + "; ".join(f"${r.latex}$" for r in results), compared=compared,
                   values=values)


def _math(corrected):
    """The checker's corrected statement without its trailing note on the engine's value."""
    return corrected.split("  (the engine's value")[0]
