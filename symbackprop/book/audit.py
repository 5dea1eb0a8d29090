"""Is the book right?  The runner of the audit of "When Equations Learn", and its reports.

The claims are data (:mod:`symbackprop.book.claims`, one module per part of the book; the model is
:mod:`symbackprop.book.model`).  :func:`audit` runs their checks and returns one :class:`Outcome` each; a check
that raises is reported as ``broken`` (a bug of the audit, never a verdict on the book).  The reports:

* :func:`text_report`: the table, one line per claim;
* :func:`markdown_report`: errata first (every ``fails`` and ``conditional`` claim with its correction), then the
  table, then every claim with its passage, the formulas compared and the evidence;
* :func:`json_report`, :func:`tex_report` (a standalone LaTeX document), and :func:`show` for one claim.

Texts of the claims are "LaTeX text": math inside ``$...$``, and outside it only ``\\texttt{...}`` and
````...''`` quotes; :func:`to_markdown` and :func:`to_tex` turn them into each format.

>>> outcome = audit(only=["ch1.game.initial"])[0]
>>> outcome.finding.verdict, outcome.claim.location
('holds', 'ch. 1, the little game')
>>> audit(only=["table3.5.relu"])[0].finding.verdict
'fails'
>>> to_markdown(r"$[W\\,\\vert\\,b]$ and \\texttt{a\\_b}", table=True)
'$`[W\\\\,\\\\vert\\\\,b]`$ and `a_b`'
>>> to_markdown("$|P_i - z_i|$", table=True)
'$`\\\\|P_i - z_i\\\\|`$'
"""
import json
import re
import time
import traceback
from dataclasses import dataclass

from symbackprop.book.model import BROKEN, CONDITIONAL, FAILS, HOLDS, VERDICTS, Claim, Finding
from symbackprop.errors import SymbackpropError
from symbackprop.latex.escape import tex_escape
from symbackprop.support import files


@dataclass
class Outcome:
    """A claim and what its check found (or the traceback, when the check broke)."""

    claim: Claim
    finding: Finding = None
    error: str = ""
    seconds: float = 0.0

    @property
    def verdict(self):
        return BROKEN if self.finding is None else self.finding.verdict

    def to_dict(self):
        c, f = self.claim, self.finding
        out = {"id": c.id, "chapter": c.chapter, "equations": list(c.equations), "location": c.location,
               "statement": c.statement_latex, "passage": c.passage, "source": c.source,
               "reconstructed": c.reconstructed, "check": c.check.__name__, "verdict": self.verdict,
               "seconds": round(self.seconds, 4)}
        if f is None:
            return out | {"error": self.error}
        return out | {"summary": f.summary, "evidence": list(f.evidence),
                      "compared": [{"what": k.what, "left": k.left, "right": k.right, "how": k.how}
                                   for k in f.compared],
                      "values": f.values, "correct": f.correct, "counterexample": f.counterexample,
                      "condition": f.condition, "reading": f.reading}


def claims():
    """Every claim of the registry, in book order."""
    from symbackprop.book.claims import CLAIMS

    return CLAIMS


def find(claim_id):
    for c in claims():
        if c.id == claim_id:
            return c
    raise SymbackpropError(f"no claim {claim_id!r}; `symbackprop verify-book` lists the ids")


def audit(only=None):
    """Run the checks (all, or the ids in ``only``) and return one :class:`Outcome` each."""
    selected = [find(i) for i in only] if only else claims()
    outcomes = []
    for claim in selected:
        start = time.perf_counter()
        try:
            outcome = Outcome(claim, claim.check())
        except Exception:  # noqa: BLE001  (a broken check is reported, never hidden, never a verdict)
            outcome = Outcome(claim, error=traceback.format_exc(limit=4))
        outcome.seconds = time.perf_counter() - start
        outcomes.append(outcome)
    return outcomes


def _counts(outcomes):
    counts = {v: 0 for v in (*VERDICTS, BROKEN)}
    for o in outcomes:
        counts[o.verdict] += 1
    return counts


def _totals(outcomes, timed=True):
    c = _counts(outcomes)
    text = f"{len(outcomes)} claims: {c[HOLDS]} hold, {c[FAILS]} fail, {c[CONDITIONAL]} hold only under a condition"
    if c[BROKEN]:
        text += f", {c[BROKEN]} checks BROKE"
    return text + (f"  ({sum(o.seconds for o in outcomes):.1f} s)" if timed else "")


def _equations(claim):
    eqs = claim.equations
    if not eqs:
        return ""
    runs, start = [], eqs[0]
    for prev, cur in zip(eqs, (*eqs[1:], None)):
        if cur != prev + 1 if cur is not None else True:
            runs.append(f"({start})" if start == prev else f"({start})-({prev})")
            start = cur
    return ", ".join(runs)


# -- the text formats ------------------------------------------------------------------------------------
_MATH = re.compile(r"(\$[^$]+\$)")
_TEXTTT = re.compile(r"\\texttt\{((?:[^{}]|\{[^{}]*\})*)\}")


def _untex(code):
    """The content of a \\texttt{...} as the characters it prints."""
    for tex, plain in ((r"\_", "_"), (r"\#", "#"), (r"\%", "%"), (r"\&", "&"), (r"\$", "$"),
                       (r"\textasciicircum{}", "^"), (r"\{", "{"), (r"\}", "}")):
        code = code.replace(tex, plain)
    return code


def to_markdown(text, table=False):
    """LaTeX text as Markdown: math as GitHub's $`...`$ (a code span: Markdown never touches it), \\texttt as
    code spans, ``quotes'' as typographic quotes; in a table cell every ``|`` is escaped (``\\|``), never replaced."""
    out = []
    for part in _MATH.split(str(text)):
        if part.startswith("$") and part.endswith("$") and len(part) > 1:
            piece = "$`" + part[1:-1].strip() + "`$"
        else:
            pieces, last = [], 0
            for m in _TEXTTT.finditer(part):
                pieces.append(_plain_markdown(part[last:m.start()]))
                pieces.append("`" + _untex(m.group(1)) + "`")
                last = m.end()
            pieces.append(_plain_markdown(part[last:]))
            piece = "".join(pieces)
        out.append(piece.replace("|", r"\|") if table else piece)
    return "".join(out).replace("\n", " " if table else "\n")


def _plain_markdown(text):
    text = text.replace("``", "\u201c").replace("''", "\u201d").replace(r"\dots", "\u2026").replace("--", "\u2013")
    return re.sub(r"([*_<>\[\]\\])", r"\\\1", text)


_TEX_UNICODE = {"\u201c": "``", "\u201d": "''", "\u2019": "'", "\u2018": "`", "\u2248": r"$\approx$",
                "\u2013": "--", "\u2014": "---", "\u2026": r"\dots{}", "\u2192": r"$\to$", "\u2264": r"$\le$",
                "\u03c0": r"$\pi$", "\u2202": r"$\partial$"}


def to_tex(text):
    """LaTeX text for the .tex report: math and \\texttt{...} and ````quotes'' kept, every other character
    escaped (:func:`symbackprop.latex.escape.tex_escape`), typographic characters written in ASCII TeX."""
    out = []
    for part in _MATH.split(str(text)):
        if part.startswith("$") and part.endswith("$") and len(part) > 1:
            out.append(part)
            continue
        last = 0
        for m in _TEXTTT.finditer(part):
            out.append(_tex_plain(part[last:m.start()]) + m.group(0))
            last = m.end()
        out.append(_tex_plain(part[last:]))
    return "".join(out)


def _tex_plain(text):
    """Plain text for LaTeX; the quotes ``...'' and \\dots of LaTeX text are kept."""
    pieces = re.split(r"(``|''|\\dots)", text)
    return "".join(q if q in ("``", "''", r"\dots") else "".join(_TEX_UNICODE.get(ch, tex_escape(ch)) for ch in q)
                   for q in pieces)


def _passage_tex(passage):
    """A passage of the book (its math as \\( ... \\)) for LaTeX: the math kept, the text escaped."""
    parts = re.split(r"(\\\(.*?\\\))", passage, flags=re.DOTALL)
    return "".join(p if p.startswith(r"\(") else _tex_plain(p) for p in parts)


def _passage_markdown(passage):
    parts = re.split(r"\\\((.*?)\\\)", passage, flags=re.DOTALL)
    return "".join(f"$`{p.strip()}`$" if k % 2 else _plain_markdown(p) for k, p in enumerate(parts))


def _line(o):
    return _sentence(o.finding.summary) if o.finding else o.error.strip().splitlines()[-1]


def _sentence(text):
    """A summary as a sentence: its first letter a capital (math and code are left as they are)."""
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text


def _where(c):
    """Where a claim is, with its equation numbers unless the location already names them."""
    return c.location if not c.equations or "eq." in c.location else f"{c.location}, eq. {_equations(c)}"


# -- reports ----------------------------------------------------------------------------------------------
def text_report(outcomes):
    """The table: id, location, verdict, one line."""
    wid = max([len(o.claim.id) for o in outcomes] + [2])
    wloc = min(max([len(o.claim.location) for o in outcomes] + [8]), 38)
    lines = [f"{'id':<{wid}}  {'location':<{wloc}}  {'verdict':<11}  finding", "-" * (wid + wloc + 40)]
    for o in outcomes:
        loc = o.claim.location if len(o.claim.location) <= wloc else o.claim.location[: wloc - 1] + "~"
        lines.append(f"{o.claim.id:<{wid}}  {loc:<{wloc}}  {o.verdict:<11}  {_line(o)}")
    lines.append("-" * (wid + wloc + 40))
    lines.append(_totals(outcomes))
    return "\n".join(lines) + "\n"


def show(claim_id, outcome=None):
    """One claim in full: the statement, the passage of the book, the verdict, what was compared, the evidence.

    >>> print(show("ch1.game.final").splitlines()[0])
    ch1.game.final  (ch. 1, the little game, eq. (2))
    """
    outcome = outcome or audit([claim_id])[0]
    c, f = outcome.claim, outcome.finding
    out = [f"{c.id}  ({_where(c)})", "", "claim" + (" (reconstructed from the prose):" if c.reconstructed else ":"),
           f"  {c.statement_latex}", "", f"passage of the {c.source}:", f"  \u201c{c.passage}\u201d", "",
           f"verdict: {outcome.verdict}"]
    if f is None:
        return "\n".join(out + ["", "the check broke:", outcome.error]) + "\n"
    out.append(f"  {f.summary}")
    for label, value in (("condition", f.condition), ("correct statement", f.correct),
                         ("counterexample", f.counterexample), ("would hold if read as", f.reading)):
        if value:
            out.append(f"{label}: {value}")
    if f.compared:
        out += ["", "compared:"] + [f"  {k.text()}" for k in f.compared]
    if f.evidence:
        out += ["", "evidence:"] + [f"  {e}" for e in f.evidence]
    out += ["", f"the check: {c.check.__module__}.{c.check.__name__}"]
    return "\n".join(out) + "\n"


def _errata(outcomes):
    return [o for o in outcomes if o.finding is not None and o.finding.is_erratum]


def markdown_report(outcomes):
    """Errata first, then the table of every claim, then each claim in full."""
    out = ["# Errata and audit of *When Equations Learn* (and of its companion tutorial)", "",
           _totals(outcomes, timed=False) + ".", "",
           ("Generated by `symbackprop verify-book --format md`. Rerun one claim with `symbackprop verify-book --show "
           "ID`. Claims marked *reconstructed* rest on displayed equations lost in the book's text extraction; they "
           "are rebuilt from the prose around the equation numbers."), "", "## Errata", ""]
    errata = _errata(outcomes)
    if not errata:
        out.append("None: every claim checked holds.")
    for k, o in enumerate(errata, 1):
        c, f = o.claim, o.finding
        out.append(f"{k}. **{to_markdown(_where(c))}** (`{c.id}`, {o.verdict}). {to_markdown(_sentence(f.summary))}")
        for label, value in (("The text", c.statement_latex), ("Correction", f.correct),
                             ("Holds only if", f.condition), ("Counterexample", f.counterexample),
                             ("Would hold if read as", f.reading)):
            if value:
                out.append(f"   - *{label}:* {to_markdown(value)}")
    out += ["", "## All claims", "", "| id | chapter | equations | verdict | finding |", "|---|---|---|---|---|"]
    for o in outcomes:
        c = o.claim
        out.append(f"| `{c.id}` | {to_markdown(c.chapter, True)} | {_equations(c)} | {o.verdict} | "
                   f"{to_markdown(_line(o), True)} |")
    out += ["", "## Every claim in full"]
    for o in outcomes:
        c, f = o.claim, o.finding
        out += ["", f"### `{c.id}`", "", f"*{to_markdown(_where(c))}*", "",
                (f"**Claim**{' (reconstructed from the prose)' if c.reconstructed else ''}: "
                f"{to_markdown(c.statement_latex)}"), ""]
        if c.passage:
            out += [f"> {_passage_markdown(c.passage)}", ""]
        out.append(f"**Verdict: {o.verdict}.** " + (to_markdown(_sentence(f.summary)) if f else ""))
        if f is None:
            out += ["", "```", o.error.rstrip(), "```"]
            continue
        for label, value in (("Holds only if", f.condition), ("Correction", f.correct),
                             ("Counterexample", f.counterexample), ("Would hold if read as", f.reading)):
            if value:
                out += ["", f"**{label}:** {to_markdown(value)}"]
        if f.compared or f.evidence:
            out += ["", "Evidence:", ""]
            out += [f"- compared, {to_markdown(k.what)}: $`{k.left}`$ and $`{k.right}`$ ({to_markdown(k.how)})"
                    for k in f.compared]
            out += [f"- {to_markdown(e)}" for e in f.evidence]
        out += ["", f"Check: `{c.check.__module__}.{c.check.__name__}`"]
    return "\n".join(out) + "\n"


def json_report(outcomes):
    return json.dumps({"book": "When Equations Learn (A. P. Rodrigues, 2025)", "counts": _counts(outcomes),
                       "claims": [o.to_dict() for o in outcomes]}, indent=2, default=str) + "\n"


def tex_report(outcomes):
    """A standalone LaTeX document (template ``book_report.tex.j2``): errata, the table, every claim."""
    from symbackprop.support.resources import jinja_env

    rows = []
    for o in outcomes:
        c, f = o.claim, o.finding
        rows.append({"id": tex_escape(c.id), "location": to_tex(_where(c)), "equations": _equations(c),
                     "chapter": tex_escape(c.chapter), "statement": to_tex(c.statement_latex),
                     "passage": _passage_tex(c.passage), "reconstructed": c.reconstructed, "verdict": o.verdict,
                     "erratum": bool(f and f.is_erratum),
                     "summary": to_tex(_sentence(f.summary)) if f else "the check broke",
                     "correct": to_tex(f.correct) if f else "", "counterexample": to_tex(f.counterexample) if f else "",
                     "condition": to_tex(f.condition) if f else "", "reading": to_tex(f.reading) if f else "",
                     "compared": [{"what": to_tex(k.what), "left": k.left, "right": k.right, "how": to_tex(k.how)}
                                  for k in (f.compared if f else ())],
                     "evidence": [to_tex(e) for e in f.evidence] if f else [tex_escape(x) for x in
                                                                            o.error.splitlines()],
                     "check": tex_escape(f"{c.check.__module__}.{c.check.__name__}")})
    return jinja_env("latex").get_template("book_report.tex.j2").render(rows=rows, totals=tex_escape(_totals(outcomes, timed=False)))


FORMATS = {"text": text_report, "md": markdown_report, "json": json_report, "tex": tex_report}


def write_atomically(path, text):
    """Write the report through a temporary file beside ``path``: never a half-written report."""
    files.write_atomic(path, text, force=True, example="audit.md")
