"""The proof object: a statement, the steps SymPy took, and the verdict on "derived - claimed = 0".

:func:`decide` finishes a proof: each (label, derived, claimed) triple is reduced
by :class:`~symbackprop.proofs.reduction.Reduction`, and the verdict is "proved"
only when every difference reduces to exactly 0.

>>> from symbackprop.proofs.reduction import k, n, r
>>> d = sp.IndexedBase("d")
>>> claim = ("d_r", sp.Sum(sp.KroneckerDelta(r, k) * d[k], (k, 1, n)), d[r])
>>> decide(Proof("pick", "Sum_k KD(r, k) d_k = d_r", ""), [claim], {r: (1, n)}, time.perf_counter()).verdict
'proved under condition 1 <= r <= n'
"""
import time
from dataclasses import dataclass, field

import sympy as sp

from symbackprop.latex.escape import tex_escape
from symbackprop.proofs.reduction import Reduction


@dataclass
class Proof:
    """A statement, the steps SymPy took, and the verdict on "derived - claimed = 0"."""

    name: str
    statement: str
    statement_latex: str
    steps: list = field(default_factory=list)  # (description, SymPy expression or Eq)
    verdict: str = "not proved"
    condition: str | None = None
    seconds: float = 0.0
    depth: int | None = None  # set for a depth checked directly on the composed error

    @property
    def proved(self):
        return self.verdict.startswith("proved")

    def text(self):
        lines = [f"Proof: {self.name}", f"  Statement: {self.statement}"]
        for number, (description, expr) in enumerate(self.steps, 1):
            lines.append(f"  {number}. {description}")
            if expr is not None:
                lines.append(f"       {sp.sstr(expr)}")
        lines.append(f"  Verdict: {self.verdict}  ({self.seconds:.2f} s)")
        return "\n".join(lines)

    def to_dict(self):
        return {
            "name": self.name,
            "statement": self.statement,
            "statement_latex": self.statement_latex,
            "steps": [{"description": d, "expression": None if e is None else sp.sstr(e),
                       "latex": None if e is None else sp.latex(e)} for d, e in self.steps],
            "verdict": self.verdict,
            "proved": self.proved,
            "condition": self.condition,
            "seconds": round(self.seconds, 4),
            "depth": self.depth,
        }

    def _repr_latex_(self):
        rows = [rf"\textbf{{{tex_escape(self.name)}}}: {self.statement_latex}"]
        rows += [rf"\text{{{number}. {tex_escape(d)}}}" + (rf"\quad {sp.latex(e)}" if e is not None else "")
                 for number, (d, e) in enumerate(self.steps, 1)]
        rows.append(rf"\textit{{Verdict: {tex_escape(self.verdict)}}}")
        return r"$\begin{array}{l}" + r" \\ ".join(rows) + r"\end{array}$"

    def __str__(self):
        return self.text()



def decide(proof, claims, ranges, started, retry=None):
    """Finish ``proof``: for each (label, derived, claimed), reduce derived - claimed; record steps and verdict.

    The verdict is 'proved' only when every difference reduces to exactly 0; the
    index ranges the reduction needed become the condition.  ``retry`` (a name and a sound rewrite, such as
    collapsing sums of a constant) is applied to a difference the first reduction leaves, which is reduced again.
    """
    reduction = Reduction(ranges)
    remainders = []
    for label, derived, claimed in claims:
        proof.steps.append((f"{label}: derived by SymPy", derived))
        proof.steps.append((f"{label}: claimed", claimed))
        rest = reduction.normal_form(derived - claimed)
        how = "reduced"
        if retry is not None:
            rest = rest if rest == 0 else reduction.normal_form(retry[1](rest))
            how = f"reduced ({retry[0]})"
        proof.steps.append((f"{label}: derived - claimed, {how}", rest))
        remainders.append(rest)
    if all(rest == 0 for rest in remainders):
        proof.condition = reduction.condition()
        proof.verdict = f"proved under condition {proof.condition}" if proof.condition else "proved"
    else:
        proof.verdict, proof.condition = "not proved", None
    proof.seconds = time.perf_counter() - started
    return proof

