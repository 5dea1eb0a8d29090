"""The displayed equations of a LaTeX or Markdown document, with their lines, and the directives.

A claim is a displayed equation: ``equation``, ``equation*``, ``align``, ``align*`` (also ``gather``
and ``multline``), ``\\[ ... \\]`` and ``$$ ... $$``.  Each row of a display (rows end at ``\\\\``) is
one claim; ``&`` is dropped, ``\\label``, ``\\tag``, ``\\nonumber`` and ``\\notag`` are ignored, and a
row that starts with ``=`` continues the previous row's last side (``A &= B \\\\ &= C`` claims
A = B and B = C).  Inline math is not a claim.

A directive is a comment, ``% symbackprop: ...`` in LaTeX or ``<!-- symbackprop: ... -->`` in
Markdown; it applies to the equations after it (see :func:`read_directive`).

Nothing in the document is followed or expanded: ``\\input``, ``\\include``, macro definitions and
``\\write18`` produce a :class:`Note` and nothing else.

>>> doc = "% symbackprop: skip\\n\\\\begin{align}\\n a &= b \\\\label{x} \\\\\\\\\\n &= c\\n\\\\end{align}\\n"
>>> [(d.line, d.rows) for d in displays(doc)]
[(2, [(3, 'a = b'), (4, 'b = c')])]
>>> [(d.line, d.words) for d in directives(doc)]
[(1, ('skip',))]
"""
import re
from dataclasses import dataclass, field

from symbackprop.errors import SymbackpropError

ENVIRONMENTS = ("equation", "align", "gather", "multline", "eqnarray")
_DISPLAY = re.compile(
    r"\\begin\{(?P<env>" + "|".join(ENVIRONMENTS) + r")(?P<star>\*?)\}(?P<body>.*?)\\end\{(?P=env)(?P=star)\}"
    r"|\\\[(?P<bracket>.*?)\\\]|\$\$(?P<dollars>.*?)\$\$", re.DOTALL)
_TEX_DIRECTIVE = re.compile(r"^[ \t]*%+[ \t]*symbackprop[ \t]*:(?P<text>[^\n]*)$", re.MULTILINE)
_MD_DIRECTIVE = re.compile(r"<!--[ \t]*symbackprop[ \t]*:(?P<text>.*?)-->", re.DOTALL)
_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
_FENCE = re.compile(r"^```.*?^```[^\n]*$|^~~~.*?^~~~[^\n]*$", re.MULTILINE | re.DOTALL)
_IGNORED = re.compile(r"\\(?:label|tag\*?)\{[^{}]*\}|\\nonumber\b|\\notag\b|\\(?:begin|end)\{(?:aligned|split)\}")
_DANGER = re.compile(r"\\(?:input|include|includeonly|write18|immediate|write|openout|openin|read|newcommand|"
                     r"renewcommand|providecommand|def|edef|gdef|xdef|let|catcode|csname|DeclareMathOperator|"
                     r"usepackage\{[^}]*shellesc|directlua)\b")
#: directive words: a spec by keys, or one of these
WORDS = ("skip", "definition", "panel")
KEYS = ("layers", "activations", "loss", "cost", "batch", "targets")


@dataclass
class Display:
    """One displayed equation: where it is (``start``, ``end`` offsets; ``line``) and its rows."""

    line: int
    start: int
    end: int
    rows: list = field(default_factory=list)  # [(line, text)]
    env: str = ""  # "align*", "equation", ... or "bracket" for \[ \], "dollars" for $$ $$
    row_ends: list = field(default_factory=list)  # the document offset where each row's text ends


@dataclass
class Directive:
    line: int
    start: int
    words: tuple = ()
    keys: dict = field(default_factory=dict)


@dataclass
class Note:
    """Something in the document that was seen and deliberately not done."""

    line: int
    message: str


def _line(text, offset):
    return text.count("\n", 0, offset) + 1


def _blank(match):
    return re.sub(r"[^\n]", " ", match.group())


def displays(text, kind="tex"):
    """Every display of the document, in order (comments and, in Markdown, code fences blanked first)."""
    blanked = _COMMENT.sub(_blank, text) if kind == "tex" else _FENCE.sub(_blank, _MD_DIRECTIVE.sub(_blank, text))
    if kind == "md":
        blanked = re.sub(r"<!--.*?-->", _blank, blanked, flags=re.DOTALL)
    found = []
    for m in _DISPLAY.finditer(blanked):
        body = next(g for g in (m.group("body"), m.group("bracket"), m.group("dollars")) if g is not None)
        offset = m.start("body") if m.group("body") is not None else \
            m.start("bracket") if m.group("bracket") is not None else m.start("dollars")
        env = (m.group("env") + m.group("star")) if m.group("env") else "bracket" if m.group("bracket") is not None \
            else "dollars"
        display = Display(_line(text, m.start()), m.start(), m.end(), env=env)
        display.rows = _rows(text, body, offset, display.row_ends)
        found.append(display)
    return found


def _rows(text, body, offset, ends=None):
    """(line, claim text) for each row of a display body that starts at ``offset`` of the document (and, in
    ``ends``, the offset where each row's text ends: the output puts a row's verdict there)."""
    rows, previous_side = [], None
    position = 0
    for part in _split_rows(body):
        if part.startswith("\\\\"):
            position += len(part)
            continue
        lead = len(part) - len(part.lstrip())
        line = _line(text, offset + position + lead)
        position += len(part)
        claim = _drop_alignment(_IGNORED.sub(" ", part))
        claim = " ".join(claim.split()).rstrip(",.;").strip()
        if not claim:
            continue
        if claim.startswith("=") and previous_side:
            claim = f"{previous_side} {claim}"
        rows.append((line, claim))
        if ends is not None:
            ends.append(offset + position - (len(part) - len(part.rstrip())))
        previous_side = _last_side(claim)
    return rows


_MATRIX_OR_ROW = re.compile(r"\\(?P<end>begin|end)\{[bpBvV]?(?:small)?matrix\}|(?P<row>\\\\(?:\[[^\]]*\])?)")


def _split_rows(body):
    """The rows of a display body and the row breaks between them (at ``\\\\`` outside a bmatrix/pmatrix)."""
    parts, start, depth = [], 0, 0
    for m in _MATRIX_OR_ROW.finditer(body):
        if m.group("end"):
            depth = max(0, depth + (1 if m.group("end") == "begin" else -1))
        elif depth == 0:
            parts += [body[start:m.start()], m.group()]
            start = m.end()
    return parts + [body[start:]]


def _drop_alignment(claim):
    """``&`` dropped outside matrices (inside, it separates entries)."""
    out, depth, start = [], 0, 0
    for m in re.finditer(r"\\(begin|end)\{[bpBvV]?(?:small)?matrix\}|&", claim):
        if m.group() == "&":
            if depth == 0:
                out += [claim[start:m.start()], " "]
                start = m.end()
        else:
            depth = max(0, depth + (1 if m.group(1) == "begin" else -1))
    return "".join(out) + claim[start:]


def _last_side(claim):
    """The text after the last '=' outside braces and brackets."""
    level, cut = 0, None
    for k, ch in enumerate(claim):
        level += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "=" and level == 0:
            cut = k
    return claim[cut + 1:].strip() if cut is not None else None


def directives(text, kind="tex"):
    """Every ``symbackprop:`` directive, read (see :func:`read_directive`)."""
    pattern = _TEX_DIRECTIVE if kind == "tex" else _MD_DIRECTIVE
    return [read_directive(m.group("text"), _line(text, m.start()), m.start()) for m in pattern.finditer(text)]


def read_directive(text, line=0, start=0):
    """``skip``, ``definition``, ``panel``, or ``layers=3,4,2 activations=tanh,softmax loss=cross_entropy
    batch=4 targets=sum1`` (keys in any order).  Anything else is refused with a message, never run.

    >>> read_directive("layers=2,1 activations=sigmoid loss=bce").keys
    {'layers': '2,1', 'activations': 'sigmoid', 'loss': 'bce'}
    >>> read_directive("__import__('os').system('ls')")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: line 0: directive word "__import__('os').system('ls')" is not one of skip, definition, panel or layers=, activations=, loss=, cost=, batch=, targets=; it was not run
    """
    words, keys = [], {}
    for part in text.split():
        if "=" in part:
            key, _, value = part.partition("=")
            if key not in KEYS or not re.fullmatch(r"[A-Za-z0-9_.,()=]+", value):
                raise SymbackpropError(f"line {line}: directive setting {part!r} is not one of "
                                       f"{', '.join(k + '=' for k in KEYS)}; it was not run")
            keys["loss" if key == "cost" else key] = value
        elif part in WORDS:
            words.append(part)
        else:
            raise SymbackpropError(f"line {line}: directive word {part!r} is not one of {', '.join(WORDS)} or "
                                   f"{', '.join(k + '=' for k in KEYS)}; it was not run")
    return Directive(line, start, tuple(words), keys)


def notes(text, kind="tex"):
    """Messages for what the checker saw and did not do: \\input, macro definitions, \\write18."""
    found = []
    for m in _DANGER.finditer(text):
        command = m.group()
        what = ("was not followed: the checker reads only this file" if "input" in command or "include" in command
                else "was not expanded: claims that use such a macro are unread" if "def" in command
                or "command" in command or "let" in command or "Operator" in command
                else "was not run: the checker never runs anything")
        found.append(Note(_line(text, m.start()), f"{command} {what}"))
    return found
