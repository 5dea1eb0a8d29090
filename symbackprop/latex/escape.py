r"""Plain text made safe for LaTeX: the one escaper every LaTeX writer uses.

TeX gives ten ASCII characters a meaning of their own: ``\ { } $ & # ^ _ % ~``.  Each is
written here as the command that prints it, so user text (a network's name, a custom
activation, a claim's evidence) is typeset as written and can never start a command, open
math mode or comment out the rest of a line.  The one non-ASCII character the reports use,
the element sign, becomes ``\ensuremath{\in}`` (pdflatex's default input encoding has no
glyph for it).  The replacements work in text mode and inside ``\text{...}`` in math.

>>> print(tex_escape("a_1 & 50% of $x^2 ~ {#} \\ y"))
a\_1 \& 50\% of \$x\textasciicircum{}2 \textasciitilde{} \{\#\} \textbackslash{} y
>>> print(tex_escape("i ∈ 1..n"))
i \ensuremath{\in} 1..n
"""

#: Each character TeX treats specially, and the command that prints it literally.
TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
    "\u2208": r"\ensuremath{\in}",
}


def tex_escape(text):
    """``text`` (any object, via ``str``) with every TeX special character written literally."""
    return "".join(TEX_SPECIAL.get(ch, ch) for ch in str(text))
