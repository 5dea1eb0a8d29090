"""The report of ``symbackprop check`` as text, Markdown, JSON, or the user's own LaTeX with the verdicts in it.

>>> from symbackprop.claims.check import check_text
>>> report = check_text(r"\\[ \\frac{\\partial E}{\\partial b^{l}} = \\delta^{l} \\]")
>>> print(text(report).splitlines()[0])
line 1: holds (high precision)  \\frac{\\partial E}{\\partial b^{l}} = \\delta^{l}
"""
import json as _json
import re
from collections import Counter

from symbackprop.latex.escape import tex_escape

ORDER = ("holds", "conditional", "fails", "ill-formed", "unread", "defined", "skipped")


def _headline(r):
    extra = f" ({r.method})" if r.method else f" (if {r.condition})" if r.condition else ""
    return f"line {r.line}: {r.verdict}{extra}"


def _details(r):
    """The evidence of one claim as lines of plain text."""
    lines = [r.evidence] if r.evidence else []
    c = r.counterexample
    if c:
        where = ", ".join(f"{k} = {v}" for k, v in c.get("bindings", {}).items())
        on = f" on {c['network']}" if c.get("network") else ""  # None: a scalar identity, no network
        lines.append(f"counterexample{on}" + (f" at {where}" if where else ""))
        lines.append(f"  point: {c['point']}")
        if "message" in c:
            lines.append(f"  {c['message']}")
        else:
            lines += [f"  left side:  {c['left']}", f"  right side: {c['right']}"]
    if r.corrected:
        lines.append(f"corrected (the engine's): {r.corrected}")
    return lines


def summary(report):
    counts = Counter(r.verdict for r in report)
    parts = [f"{counts[v]} {v}" for v in ORDER if counts[v]]
    return f"{len(report)} claim(s): {', '.join(parts) or 'none found'}"


def text(report):
    """One block per claim, then the summary, the networks and the notes."""
    out = []
    for r in report:
        out.append(f"{_headline(r)}  {r.latex}")
        out += [f"    {line}" for line in _details(r)]
    out.append(summary(report))
    out += ["networks:"] + [f"    {n}" for n in report.networks]
    out += ["notes:"] + [f"    {n}" for n in report.notes] if report.notes else []
    return "\n".join(out) + "\n"


def markdown(report):
    """A table of verdicts, then the evidence of every claim that does not simply hold."""
    def cell(s):
        return str(s).replace("|", "\\|").replace("\n", " ")

    out = ["# symbackprop check", "", summary(report), "", "| line | claim | verdict | evidence |", "|---|---|---|---|"]
    for r in report:
        verdict = r.verdict + (f" ({r.method})" if r.method else "")
        out.append(f"| {r.line} | `{cell(r.latex)}` | **{verdict}** | {cell(r.evidence)} |")
    details = [r for r in report if r.verdict not in ("holds", "defined", "skipped")]
    if details:
        out += ["", "## Evidence"]
        for r in details:
            out += ["", f"### line {r.line}: {r.verdict}", "", f"$$ {r.latex} $$", ""]
            out += [f"- {cell(line.strip())}" for line in _details(r)]
    out += ["", "## Networks", ""] + [f"- {n}" for n in report.networks]
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {cell(n)}" for n in report.notes]
    return "\n".join(out) + "\n"


def to_json(report):
    """{"claims": [one object per claim: line, latex, verdict, evidence, counterexample, ...], "networks", "notes"}."""
    claims = []
    for r in report:
        row = r.to_dict()
        claims.append(row)
    return _json.dumps({"claims": claims, "networks": report.networks, "notes": report.notes,
                        "summary": summary(report)}, indent=2) + "\n"


def tex(report, document):
    """The user's ``document`` with each row's verdict beside it and every display followed by its verdicts;
    a failing claim boxed, with the engine's corrected statement typeset as math.

    Beside a row: ``\\tag*{verdict}`` in an unnumbered display (``align*``, ``equation*``, ``\\[ \\]``), and
    a ``\\text`` after the row in a numbered one, so its equation numbers and ``\\ref`` stay as they were.
    Nothing is put beside a row that has its own ``\\tag``, in ``$$ $$``, ``eqnarray`` and ``multline``, or in
    a display with ``split``/``aligned`` inside (amsmath allows no tag there): the lines after the display say
    it.  A fragment (no ``\\begin{document}``) is wrapped in a minimal article with amsmath; amsmath is loaded
    if the document did not.  The verdicts are plain text made safe by :func:`tex_escape`.
    """
    by_end, by_row = {}, {}
    for r in report:
        if r.end is not None:
            by_end.setdefault(r.end, []).append(r)
        if r.row_end is not None and _taggable(r, document):
            by_row.setdefault(r.row_end, []).append(r)
    inserts = [(end, "\n" + "\n".join(_tex_verdict(r) for r in rs) + "\n") for end, rs in by_end.items()]
    inserts += [(end, _beside(rs, _row_text(document, end))) for end, rs in by_row.items()]
    pieces, last = [], 0
    for end, piece in sorted(inserts, key=lambda e: e[0]):
        pieces += [document[last:end], piece]
        last = end
    pieces.append(document[last:])
    body = "".join(pieces)
    if r"\begin{document}" not in body:
        body = ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body
                + "\n\\end{document}\n")
    elif not re.search(r"\\usepackage(\[[^]]*\])?\{[^}]*\b(amsmath|mathtools)\b", body.split(r"\begin{document}")[0]):
        body = body.replace(r"\begin{document}", "\\usepackage{amsmath}\n\\begin{document}", 1)
    closing = "\\par\\medskip\\noindent{\\small\\textsf{symbackprop check: " + tex_escape(summary(report)) + "}}\n"
    return body.replace(r"\end{document}", closing + r"\end{document}", 1)


#: environments whose rows take a verdict beside them: unnumbered ones by \tag*, numbered ones by \text
_TAGGED = {"align*", "equation*", "gather*", "bracket"}
_NUMBERED = {"align", "equation", "gather"}


def _row_text(document, row_end):
    """The text of the row ending at ``row_end`` (from the previous row break or line start)."""
    start = document.rfind("\n", 0, row_end) + 1
    return document[max(start, document.rfind("\\\\", 0, row_end)):row_end]


def _taggable(r, document):
    if r.env not in _TAGGED | _NUMBERED:
        return False
    row = _row_text(document, r.row_end)
    display = document[document.rfind("\\begin{" + r.env, 0, r.row_end) if r.env != "bracket" else
                       document.rfind("\\[", 0, r.row_end):r.end]
    return "\\tag" not in row and not re.search(r"\\begin\{(split|aligned|gathered)\}", display)


def _beside(results, row):
    """The verdict(s) of one row, beside it: a tag, or in a numbered align a column of its own (``&&``) when
    the row has one ``&`` (outside matrices), else after a ``\\qquad``."""
    words = "; ".join(("\\textbf{%s}" if r.failed else "%s") % tex_escape(r.verdict) for r in results)
    text = "\\textsf{\\footnotesize " + words + "}"
    if results[0].env in _TAGGED:
        return f"\\tag*{{{text}}}"
    one_column = results[0].env == "align" and re.sub(r"\\begin\{(\w*matrix)\}.*?\\end\{\1\}", "", row).count("&") == 1
    return f"&&\\text{{{text}}}" if one_column else f"\\qquad\\text{{{text}}}"


def _tex_verdict(r):
    head = f"\\textbf{{{tex_escape(r.verdict)}}}" + (f" ({tex_escape(r.method)})" if r.method else "") + \
        (f" if {tex_escape(r.condition)}" if r.condition else "")
    lines = [f"line {r.line}: " + head]
    if r.failed or r.verdict in ("conditional", "unread"):
        lines += [tex_escape(line) for line in _details(r) if not line.startswith("corrected (the engine")]
        if r.corrected:
            lines.append(_corrected_tex(r.corrected))
        box = "\\\\ ".join(lines)
        return ("\\par\\noindent\\fbox{\\parbox{0.96\\linewidth}{\\raggedright\\footnotesize\\textsf{" + box
                + "}}}\\par")
    return "\\par\\noindent{\\footnotesize\\textsf{symbackprop: " + lines[0] + "}}\\par"


def _corrected_tex(corrected):
    """The engine's corrected statement as math (it is the engine's LaTeX, never the user's text), its value as
    text."""
    math, _, value = corrected.partition("  (")
    if math.startswith("the engine's value") or not _balanced(math):
        return "corrected (the engine's): " + tex_escape(corrected)
    note = f" ({tex_escape(value.rstrip(')'))})" if value else ""
    return f"corrected (the engine's): $\\displaystyle {math}$" + note


def _balanced(math):
    level = 0
    for ch in math:
        level += {"{": 1, "}": -1}.get(ch, 0)
        if level < 0:
            return False
    return level == 0 and "$" not in math


FORMATS = {"text": lambda report, document: text(report), "md": lambda report, document: markdown(report),
           "json": lambda report, document: to_json(report), "tex": tex}
