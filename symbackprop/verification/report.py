"""The verification report: one row per comparison, and the verdict.

Each :class:`Check` compares two forms of one formula (a gradient of one layer, or an element-wise
formula that the code uses) by one method, with the largest discrepancy found and the tolerance.
"""
from dataclasses import asdict, dataclass, field


@dataclass
class Check:
    """One comparison: two forms of one gradient of one layer, by one method."""

    layer: int
    quantity: str  # "dE/dW^2", "dE/db^2", with " (batch)" for the batch forms
    forms: str  # "(a) direct = (c) outer", ...
    method: str  # "exact", "high-precision", "float64"
    entries: int  # how many entries were compared; for (a) rows, how many random directions
    max_discrepancy: float  # 0 for an exact proof; else the largest relative difference
    tolerance: float
    passed: bool
    note: str = ""


@dataclass
class VerificationReport:
    """The verdict on every layer, form and method; ``passed`` when all hold."""

    network: str
    checks: list
    simplification: str
    seed: int
    digits: int
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def passed(self):
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failures(self):
        return [c for c in self.checks if not c.passed]

    def to_dict(self):
        return {
            "network": self.network,
            "passed": self.passed,
            "seed": self.seed,
            "digits": self.digits,
            "seconds": round(self.seconds, 3),
            "output_delta": self.simplification,
            "notes": self.notes,
            "checks": [asdict(c) for c in self.checks],
        }

    def table(self):
        """The per-layer report as a text table (layer "all" for checks of every layer at once)."""
        wq = max([18] + [len(c.quantity) for c in self.checks])
        wf = max([28] + [len(c.forms) for c in self.checks])
        wm = max([15] + [len(c.method) for c in self.checks])
        head = f"{'layer':>5}  {'gradient / formula':<{wq}} {'forms compared':<{wf}} {'method':<{wm}} {'compared':>8}  " \
               f"{'max discrepancy':>15}  result"
        lines = [f"verification of {self.network}", head, "-" * len(head)]
        for c in self.checks:
            disc = "0 (proof)" if c.method == "exact" and c.passed else f"{c.max_discrepancy:.1e}"
            layer = "all" if c.layer == 0 else c.layer
            lines.append(f"{layer:>5}  {c.quantity:<{wq}} {c.forms:<{wf}} {c.method:<{wm}} {c.entries:>8}  "
                         f"{disc:>15}  {'pass' if c.passed else 'FAIL'}")
            if not c.passed and c.note:
                lines.append(f"{'':>5}  {c.note}")
        lines.append("-" * len(head))
        lines.append(f"output delta: {self.simplification}")
        lines += [f"note: {n}" for n in self.notes]
        verdict = "every identity holds" if self.passed else f"{len(self.failures())} check(s) FAILED"
        lines.append(f"{verdict}  ({len(self.checks)} checks, {self.seconds:.2f} s, seed {self.seed})")
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td>{c.layer}</td><td>{c.quantity}</td><td>{c.forms}</td><td>{c.method}</td>"
            f"<td>{c.entries}</td><td>{c.max_discrepancy:.1e}</td><td>{'pass' if c.passed else 'FAIL'}</td></tr>"
            for c in self.checks
        )
        return (f"<p>verification of {self.network}</p><table><tr><th>layer</th><th>gradient</th><th>forms</th>"
                f"<th>method</th><th>entries</th><th>max discrepancy</th><th>result</th></tr>{rows}</table>")
