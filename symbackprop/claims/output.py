"""The report of ``symbackprop check`` as text, Markdown, JSON, or the user's own LaTeX with the verdicts in it.

>>> from symbackprop.claims.check import check_text
>>> report = check_text(r"\\[ \\frac{\\partial E}{\\partial b^{l}} = \\delta^{l} \\]")
>>> print(text(report).splitlines()[0])
line 1: holds (high precision)  \\frac{\\partial E}{\\partial b^{l}} = \\delta^{l}
"""
import json as _json
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
        lines.append(f"counterexample on {c['network']}" + (f" at {where}" if where else ""))
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
        row.pop("end", None)
        claims.append(row)
    return _json.dumps({"claims": claims, "networks": report.networks, "notes": report.notes,
                        "summary": summary(report)}, indent=2) + "\n"


def tex(report, document):
    """The user's ``document`` with every display followed by its verdicts; a failing claim boxed.

    A fragment (no ``\\begin{document}``) is wrapped in a minimal article with amsmath.  The verdicts are
    plain text made safe by :func:`tex_escape`, so the document compiles as it did before.
    """
    by_end = {}
    for r in report:
        if r.end is not None:
            by_end.setdefault(r.end, []).append(r)
    pieces, last = [], 0
    for end in sorted(by_end):
        pieces += [document[last:end], "\n" + "\n".join(_tex_verdict(r) for r in by_end[end]) + "\n"]
        last = end
    pieces.append(document[last:])
    body = "".join(pieces)
    if r"\begin{document}" not in body:
        body = ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body
                + "\n\\end{document}\n")
    closing = "\\par\\medskip\\noindent{\\small\\textsf{symbackprop check: " + tex_escape(summary(report)) + "}}\n"
    return body.replace(r"\end{document}", closing + r"\end{document}", 1)


def _tex_verdict(r):
    head = f"\\textbf{{{tex_escape(r.verdict)}}}" + (f" ({tex_escape(r.method)})" if r.method else "") + \
        (f" if {tex_escape(r.condition)}" if r.condition else "")
    lines = [f"line {r.line}: " + head]
    if r.failed or r.verdict in ("conditional", "unread"):
        lines += [tex_escape(line) for line in _details(r)]
        box = "\\\\ ".join(lines)
        return ("\\par\\noindent\\fbox{\\parbox{0.96\\linewidth}{\\raggedright\\footnotesize\\textsf{" + box
                + "}}}\\par")
    return "\\par\\noindent{\\footnotesize\\textsf{symbackprop: " + lines[0] + "}}\\par"


FORMATS = {"text": lambda report, document: text(report), "md": lambda report, document: markdown(report),
           "json": lambda report, document: to_json(report), "tex": tex}
