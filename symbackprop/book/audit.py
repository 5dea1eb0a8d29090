"""Is the book right?  An audit of "When Equations Learn", claim by claim.

Each :class:`Claim` names where it is in the book (equation number, table row,
section, listing line), states it in LaTeX as the book states it (the displayed
equations were lost in the text extraction, so many are *reconstructed* from
the prose around their numbers, and the claim says so), and carries a check
that uses the engine: SymPy (through :mod:`symbackprop.engine.activations`,
:mod:`~symbackprop.engine.costs`, :mod:`~symbackprop.engine.jacobians`,
:mod:`~symbackprop.engine.simplify`) for equations and tables, NumPy for listings and
printed numbers.  A check returns a :class:`Finding`:

* ``holds``;
* ``fails``, with the correct statement and a counterexample a reader can check by hand;
* ``conditional``: holds only under the stated condition.

The claims themselves live in :mod:`symbackprop.book.claims` (data plus one
check each).  ``symbackprop verify-book`` runs them all.

>>> outcome = audit(only=["ch1.game.initial"])[0]
>>> outcome.finding.verdict, outcome.claim.location
('holds', 'ch. 1, the little game')
>>> audit(only=["table3.5.relu"])[0].finding.verdict
'fails'
"""
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from symbackprop.support import files
from symbackprop.errors import SymbackpropError
from symbackprop.latex.escape import tex_escape

HOLDS, FAILS, CONDITIONAL = "holds", "fails", "conditional"
VERDICTS = (HOLDS, FAILS, CONDITIONAL)
BROKEN = "broken"  # the check itself raised: a bug in the audit, not a verdict on the book


@dataclass(frozen=True)
class Finding:
    """What a check found: the verdict, one line, and the evidence a reader can recompute."""

    verdict: str
    summary: str
    evidence: tuple = ()
    correct: str = ""  # the correct statement (LaTeX text), when the claim fails or needs a condition
    counterexample: str = ""  # numbers a reader can check by hand
    condition: str = ""  # when the claim holds only under a condition
    ambiguity: str = ""  # how the claim was read when the printed text admits more than one reading

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict == FAILS and not (self.correct and self.counterexample):
            raise ValueError("a failing claim needs the correct statement and a counterexample")
        if self.verdict == CONDITIONAL and not self.condition:
            raise ValueError("a conditional claim needs its condition")


@dataclass(frozen=True)
class Claim:
    """One checkable statement of the book (or of the tutorial)."""

    id: str
    location: str
    statement_latex: str  # LaTeX text (math inside $...$), as the book states it
    reconstructed: bool  # True when the display was lost and the statement is rebuilt from the prose
    check: Callable[[], Finding]


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
        out = {"id": c.id, "location": c.location, "statement": c.statement_latex,
               "reconstructed": c.reconstructed, "verdict": self.verdict, "seconds": round(self.seconds, 4)}
        if f is not None:
            out.update(summary=f.summary, evidence=list(f.evidence), correct=f.correct,
                       counterexample=f.counterexample, condition=f.condition, ambiguity=f.ambiguity)
        else:
            out["error"] = self.error
        return out


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


# -- reports ------------------------------------------------------------------------------
def _counts(outcomes):
    counts = {v: 0 for v in (*VERDICTS, BROKEN)}
    for o in outcomes:
        counts[o.verdict] += 1
    return counts


def text_report(outcomes):
    """The table: id, location, verdict, one line."""
    wid = max([len(o.claim.id) for o in outcomes] + [2])
    wloc = min(max([len(o.claim.location) for o in outcomes] + [8]), 38)
    lines = [f"{'id':<{wid}}  {'location':<{wloc}}  {'verdict':<11}  finding", "-" * (wid + wloc + 40)]
    for o in outcomes:
        loc = o.claim.location if len(o.claim.location) <= wloc else o.claim.location[: wloc - 1] + "~"
        line = o.finding.summary if o.finding else o.error.strip().splitlines()[-1]
        lines.append(f"{o.claim.id:<{wid}}  {loc:<{wloc}}  {o.verdict:<11}  {line}")
    lines.append("-" * (wid + wloc + 40))
    lines.append(_totals(outcomes))
    return "\n".join(lines) + "\n"


def _totals(outcomes):
    c = _counts(outcomes)
    seconds = sum(o.seconds for o in outcomes)
    text = f"{len(outcomes)} claims: {c[HOLDS]} hold, {c[FAILS]} fail, {c[CONDITIONAL]} hold only under a condition"
    if c[BROKEN]:
        text += f", {c[BROKEN]} checks BROKE"
    return text + f"  ({seconds:.1f} s)"


def show(claim_id, outcome=None):
    """One claim in full: the statement, the check's source, the evidence.

    >>> print(show("ch1.game.final").splitlines()[5])
    verdict: holds
    """
    import inspect

    outcome = outcome or audit([claim_id])[0]
    c, f = outcome.claim, outcome.finding
    out = [f"{c.id}  ({c.location})", "", "claim" + (" (reconstructed from the prose):" if c.reconstructed else ":"),
           f"  {c.statement_latex}", "", f"verdict: {outcome.verdict}"]
    if f is None:
        out += ["", "the check broke:", outcome.error]
    else:
        out.append(f"  {f.summary}")
        for label, value in (("condition", f.condition), ("correct statement", f.correct),
                             ("counterexample", f.counterexample), ("reading", f.ambiguity)):
            if value:
                out.append(f"{label}: {value}")
        out += ["", "evidence:"] + [f"  {e}" for e in f.evidence]
    try:
        source = inspect.getsource(c.check)
    except (OSError, TypeError):
        source = repr(c.check)
    out += ["", "the check:", source.rstrip()]
    return "\n".join(out) + "\n"


def markdown_report(outcomes):
    out = ["# Audit of *When Equations Learn*", "", _totals(outcomes), "",
           "| id | location | verdict | finding |", "|---|---|---|---|"]
    for o in outcomes:
        line = o.finding.summary if o.finding else "check broke"
        out.append(f"| `{o.claim.id}` | {o.claim.location} | {o.verdict} | {line.replace('|', '/')} |")
    for o in outcomes:
        c, f = o.claim, o.finding
        out += ["", f"## `{c.id}` ({c.location})", "",
                f"**Claim**{' (reconstructed from the prose)' if c.reconstructed else ''}: {c.statement_latex}", "",
                f"**Verdict: {o.verdict}.** " + (f.summary if f else "")]
        if f is None:
            out += ["", "```", o.error.rstrip(), "```"]
            continue
        for label, value in (("Condition", f.condition), ("Correct statement", f.correct),
                             ("Counterexample", f.counterexample), ("Reading", f.ambiguity)):
            if value:
                out += ["", f"**{label}:** {value}"]
        if f.evidence:
            out += ["", "Evidence:", ""] + [f"- {e}" for e in f.evidence]
    return "\n".join(out) + "\n"


def json_report(outcomes):
    return json.dumps({"book": "When Equations Learn (A. P. Rodrigues, 2025)", "counts": _counts(outcomes),
                       "claims": [o.to_dict() for o in outcomes]}, indent=2) + "\n"


def tex_report(outcomes):
    """A standalone LaTeX document (template ``book_report.tex.j2``)."""
    from symbackprop.support.resources import jinja_env

    rows = []
    for o in outcomes:
        f = o.finding
        rows.append({"id": tex_escape(o.claim.id), "location": tex_escape(o.claim.location),
                     "statement": o.claim.statement_latex, "reconstructed": o.claim.reconstructed,
                     "verdict": o.verdict, "summary": tex_escape(f.summary if f else "the check broke"),
                     "correct": f.correct if f else "", "counterexample": tex_escape(f.counterexample) if f else "",
                     "condition": tex_escape(f.condition) if f else "", "ambiguity": tex_escape(f.ambiguity) if f else "",
                     "evidence": [tex_escape(e) for e in (f.evidence if f else o.error.splitlines())]})
    return jinja_env("latex").get_template("book_report.tex.j2").render(rows=rows, totals=tex_escape(_totals(outcomes)))


FORMATS = {"text": text_report, "md": markdown_report, "json": json_report, "tex": tex_report}


def write_atomically(path, text):
    """Write the report through a temporary file beside ``path``: never a half-written report."""
    files.write_atomic(path, text, force=True, example="audit.md")
