"""The claim model of the book audit: what a claim is, what a check finds, and the one way to build a finding.

A :class:`Claim` is one checkable statement of the book (or of the companion tutorial): where it is (chapter,
equation numbers, a location a reader can find), the statement in LaTeX as the book makes it, the passage of the
book it rests on (quoted verbatim), and a check.  A check returns a :class:`Finding`, built by :func:`finding`
(or by :func:`expect`, for a statement the engine is expected to confirm):

* ``holds``: the statement is right as written;
* ``fails``: it is wrong as written; the finding carries the correct statement and a counterexample a reader
  can check by hand, and, when there is one, the reading under which the text would hold;
* ``conditional``: it holds only under a condition (or a reading) the text does not state; the finding names it.

A "reading" is never a substitute for a verdict: a finding that needs one is ``fails`` or ``conditional``.

Evidence that shows: :class:`Comparison` records the two formulas (or values) a check compared and how.

>>> f = finding(HOLDS, "1 + 1 = 2", compared=[Comparison("the sum", "1 + 1", "2", "exact integers")])
>>> f.verdict, f.compared[0].text()
('holds', 'the sum: $1 + 1$ and $2$ (exact integers)')
>>> finding(HOLDS, "x", reading="y")
Traceback (most recent call last):
...
ValueError: a reading belongs to a failing or conditional finding, never to one that holds
"""
from collections.abc import Callable
from dataclasses import dataclass, field

HOLDS, FAILS, CONDITIONAL = "holds", "fails", "conditional"
VERDICTS = (HOLDS, FAILS, CONDITIONAL)
BROKEN = "broken"  # the check itself raised: a bug in the audit, not a verdict on the book


@dataclass(frozen=True)
class Comparison:
    """Two formulas (LaTeX, without dollars) or values that a check compared, and how it compared them."""

    what: str
    left: str
    right: str
    how: str

    def text(self):
        return f"{self.what}: ${self.left}$ and ${self.right}$ ({self.how})"


@dataclass(frozen=True)
class Finding:
    """What a check found.  Build it with :func:`finding`; the fields are validated here."""

    verdict: str
    summary: str  # one line, LaTeX text (math inside $...$)
    evidence: tuple = ()  # lines of LaTeX text a reader can recompute
    compared: tuple = ()  # Comparison objects: what was compared with what, and how
    values: dict = field(default_factory=dict)  # the numbers the check computed (tests recompute them)
    correct: str = ""  # the correct statement, when the claim fails or needs a condition
    counterexample: str = ""  # numbers a reader can check by hand
    condition: str = ""  # when the claim holds only under a condition
    reading: str = ""  # the reading under which a failing text would hold

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict == FAILS and not (self.correct and self.counterexample):
            raise ValueError("a failing claim needs the correct statement and a counterexample")
        if self.verdict == CONDITIONAL and not self.condition:
            raise ValueError("a conditional claim needs its condition")
        if self.verdict == HOLDS and (self.reading or self.condition):
            raise ValueError("a reading belongs to a failing or conditional finding, never to one that holds")

    @property
    def is_erratum(self):
        return self.verdict in (FAILS, CONDITIONAL)


def finding(verdict, summary, evidence=(), *, compared=(), values=None, correct="", counterexample="",
            condition="", reading=""):
    """The one way to build a :class:`Finding` (every helper below ends here)."""
    return Finding(verdict, summary, tuple(evidence), tuple(compared), dict(values or {}), correct,
                   counterexample, condition, reading)


def expect(ok, summary, evidence=(), **fields):
    """A statement the engine confirms.  If the check finds otherwise, that is a defect of the audit (or of
    the engine), never a silent verdict: it raises, and ``verify-book`` reports the check as broken.

    >>> expect(2 + 2 == 4, "2 + 2 = 4").verdict
    'holds'
    """
    if not ok:
        raise AssertionError(f"expected to hold but did not: {summary}; evidence: {list(evidence)}")
    return finding(HOLDS, summary, evidence, **fields)


def holds_or_fails(ok, summary, evidence=(), *, failed, correct, counterexample, reading="", **fields):
    """``holds`` when ``ok``; otherwise ``fails`` with the summary ``failed`` and its correction."""
    if ok:
        return finding(HOLDS, summary, evidence, **fields)
    return finding(FAILS, failed, evidence, correct=correct, counterexample=counterexample, reading=reading,
                   **fields)


@dataclass(frozen=True)
class Claim:
    """One checkable statement of the book (or of the tutorial)."""

    id: str  # stable: tests, errata and ``--show`` use it
    chapter: str  # "preface", "ch. 3", "appendix F", "tutorial", ...
    location: str  # where a reader finds it (section, table row, listing lines)
    statement_latex: str  # LaTeX text (math inside $...$), as the book states it
    reconstructed: bool  # True when the display was lost and the statement is rebuilt from the prose
    check: Callable[[], Finding]
    equations: tuple = ()  # the book's equation numbers the claim covers
    passage: str = ""  # the words of the book (or tutorial) the claim rests on, verbatim
    source: str = "book"  # "book" or "tutorial"
    check_latex: tuple = ()  # the claim as LaTeX rows in the book's notation, when it goes through ``check``
    check_network: str = ""  # the directive those rows are checked on ("" = the checker's panel)


class Part:
    """The claims of one part of the book (a chapter, the appendices, the tutorial), in reading order.

    >>> part = Part("ch. 9")
    >>> @part.claim("ch9.demo", "sec. 9.1", r"$1=1$", equations=(200,), passage="one is one")
    ... def one_is_one():
    ...     return expect(1 == 1, "1 = 1")
    >>> [(c.id, c.chapter, c.equations, c.check.__name__) for c in part.claims]
    [('ch9.demo', 'ch. 9', (200,), 'one_is_one')]
    """

    def __init__(self, chapter, source="book"):
        self.chapter, self.source, self.claims = chapter, source, []

    def add(self, claim_id, location, statement_latex, check, *, reconstructed=False, equations=(), passage="",
            chapter=None, check_latex=(), check_network=""):
        self.claims.append(Claim(claim_id, chapter or self.chapter, location, statement_latex, reconstructed, check,
                                 tuple(equations), passage, self.source, tuple(check_latex), check_network))
        return check

    def checked(self, claim_id, location, statement_latex, rows, network="", *, summary="", correct="", **details):
        """Register a claim whose check is ``symbackprop check`` of the LaTeX ``rows`` on ``network`` (a directive;
        "" for the checker's panel): see :mod:`symbackprop.book.checked`."""
        from symbackprop.book.checked import through_check

        def check():
            return through_check(rows, network or None, summary=summary, correct=correct)
        check.__name__ = "through_check_" + claim_id.replace(".", "_")
        return self.add(claim_id, location, statement_latex, check, check_latex=rows, check_network=network,
                        **details)

    def claim(self, claim_id, location, statement_latex, **details):
        """Register the decorated function as the check of one claim (details: reconstructed, equations,
        passage, chapter)."""
        def register(check):
            return self.add(claim_id, location, statement_latex, check, **details)
        return register
