"""Check a document: every displayed equation gets a verdict (the public API of ``symbackprop check``).

>>> results = check_text(r"\\[ \\frac{\\partial E}{\\partial W^{l}} = \\delta^{l} (s^{l-1})^{T} \\]")
>>> [(r.line, r.verdict, r.method) for r in results]
[(1, 'holds', 'high precision')]
>>> check_text("$$ \\\\tanh'(y) = 1 - \\\\tanh(y) $$", kind="md")[0].verdict
'fails'
"""
import re

from symbackprop.claims import extract
from symbackprop.claims.grammar import Name, Unread, parse_claim
from symbackprop.claims.judge import DEFINED, SKIPPED, UNREAD, ClaimResult, judge, panel_points, spec_points
from symbackprop.claims.meaning import NETWORK_NAMES, IllFormed
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SymbackpropError

#: words after an equation, like "\quad \text{for } l < L": cut off, and said so in the evidence
_TRAILING_TEXT = re.compile(r"(?:\\q?quad|\\[,;:]|,|~|\s)*\\(?:text|mbox|textrm)\{.*$")


class Report(list):
    """The results of a document (a list of :class:`ClaimResult`) with its ``notes`` and ``networks``."""

    def __init__(self, results=(), notes=(), networks=()):
        super().__init__(results)
        self.notes, self.networks = list(notes), list(networks)

    @property
    def failed(self):
        return any(r.failed for r in self)


def check_text(text, *, kind="tex", spec=None, seed=0, progress=None, exact=False):
    """Every displayed equation of ``text`` (``kind`` "tex" or "md") checked; a :class:`Report`.

    ``spec`` (a NetworkSpec) is the network for the whole text; without it, the fixed panel
    (:data:`symbackprop.claims.judge.PANEL`).  Directives in the text change it from where they stand.
    ``progress(done, total)`` is called after each display.  ``exact``: also prove each claim that holds
    for every value of the symbols of the smallest network it holds on (slower; see docs/check.md).
    """
    if kind not in ("tex", "md"):
        raise SymbackpropError(f"kind must be 'tex' or 'md', got {kind!r}")
    notes = [f"line {n.line}: {n.message}" for n in extract.notes(text, kind)]
    events = []
    for d in extract.displays(text, kind):
        events.append((d.start, "display", d))
    for d in _directives(text, kind, notes):
        events.append((d.start, "directive", d))
    events.sort(key=lambda e: e[0])
    points = spec_points(spec, seed) if spec else panel_points(seed)
    used = {p.describe() for p in points} if spec else set()
    pending, definitions, results = set(), {}, []
    total = sum(1 for e in events if e[1] == "display")
    done = 0
    for _, what, item in events:
        if what == "directive":
            if item.keys:
                points = _directive_points(item, seed, notes)
            if "panel" in item.words:
                points = spec_points(spec, seed) if spec else panel_points(seed)
            pending |= set(item.words) - {"panel"}
            continue
        for (line, claim), row_end in zip(item.rows, item.row_ends or [None] * len(item.rows)):
            if "skip" in pending:
                found = [ClaimResult(line, claim, SKIPPED, "a directive asked to skip this equation")]
            else:
                found = check_claim(claim, line, points, definitions, "definition" in pending, exact)
            for r in found:
                r.end, r.row_end, r.env = item.end, row_end, item.env
                used |= set(r.networks)
            results.extend(found)
        pending.clear()
        done += 1
        if progress:
            progress(done, total)
    return Report(results, notes, sorted(used or {p.describe() for p in points}))


def _directives(text, kind, notes):
    found = []
    pattern = extract._TEX_DIRECTIVE if kind == "tex" else extract._MD_DIRECTIVE
    for m in pattern.finditer(text):
        line = extract._line(text, m.start())
        try:
            found.append(extract.read_directive(m.group("text"), line, m.start()))
        except SymbackpropError as exc:
            notes.append(str(exc))
    return found


def _directive_points(directive, seed, notes):
    keys = dict(directive.keys)
    targets = keys.pop("targets", None)
    if targets not in (None, "sum1", "any"):
        notes.append(f"line {directive.line}: targets= takes sum1 or any, got {targets!r}; using any")
        targets = None
    missing = [k for k in ("layers", "activations", "loss") if k not in keys]
    if missing:
        notes.append(f"line {directive.line}: the directive names no full network (missing "
                     f"{', '.join(missing)}); the claims after it keep the network before it")
        return []
    try:
        batch = int(keys["batch"]) if "batch" in keys else None
        spec = NetworkSpec.from_options(keys["layers"], keys["activations"], keys["loss"], batch)
    except (SymbackpropError, ValueError) as exc:
        notes.append(f"line {directive.line}: the directive's network is refused: {exc}")
        return []
    return spec_points(spec, seed, targets)


def check_claim(text, line, points, definitions=None, definition=False, exact=False):
    """The verdicts of one displayed row (a chain A = B = C gives two)."""
    if not points:
        return [ClaimResult(line, text, UNREAD, "no network to check against: the directive before it was refused")]
    words = _TRAILING_TEXT.search(text)
    claim = text[:words.start()] if words else text
    try:
        equations = parse_claim(claim)
    except Unread as exc:
        return [ClaimResult(line, text, UNREAD, f"unread: {exc}", column=exc.column)]
    out = []
    for eq in equations:
        if definition and isinstance(eq.left, Name) and eq.left.name not in NETWORK_NAMES \
                and len(equations) == 1 and definitions is not None:
            definitions[eq.left.name] = eq.right
            out.append(ClaimResult(line, text, DEFINED, f"{eq.left.name} is defined for the claims after it",
                                   definition=True))
            continue
        try:
            found = judge(eq, points, definitions, exact)
        except Unread as exc:
            found = {"verdict": UNREAD, "evidence": f"unread: {exc}"}
        except IllFormed as exc:
            found = {"verdict": "ill-formed", "evidence": str(exc)}
        except (ArithmeticError, ValueError, TypeError) as exc:
            found = {"verdict": UNREAD, "evidence": f"could not be evaluated: {type(exc).__name__}: {exc}"}
        if words:
            found["evidence"] = (f"the words after the equation ({words.group().strip()}) were not read; "
                                 f"{found.get('evidence', '')}")
        out.append(ClaimResult(line, text if len(equations) == 1 else _part(eq, claim, len(out)),
                               definition=definition, **found))
    return out


def _part(eq, text, k):
    """The k-th equation of a chain, as text: the sides around the k-th top-level '='."""
    level, cuts = 0, []
    for pos, ch in enumerate(text):
        level += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "=" and level == 0:
            cuts.append(pos)
    bounds = [-1, *cuts, len(text)]
    return f"{text[bounds[k] + 1:bounds[k + 1]].strip()} = {text[bounds[k + 1] + 1:bounds[k + 2]].strip()}"


def check_file(path, *, spec=None, seed=0, progress=None, exact=False):
    """:func:`check_text` of a file; the kind is read off its suffix (.md, .markdown: Markdown)."""
    from pathlib import Path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SymbackpropError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    kind = "md" if path.suffix.lower() in (".md", ".markdown") else "tex"
    return check_text(text, kind=kind, spec=spec, seed=seed, progress=progress, exact=exact)
