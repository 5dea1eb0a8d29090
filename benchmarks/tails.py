"""The tails table: emitted float64 losses and gradients against an 800-digit truth and torch, y in [-700, 700].

For every built-in output activation and every cost the spec accepts with it, a 1-layer module is emitted with
W = 0, x = 1 and b = y (so y^L = y; softmax: the outputs (y, 0)), and its batch error E and dE/db_1 are compared
with mpmath at 800 digits (the textbook formulas typed below) and with torch float64 autograd.  torch uses its
fused forms where it has one (binary_cross_entropy_with_logits, log_softmax, logsigmoid), else the literal
composition a user would write.  Writes docs/tails.md: the literate part on each rewrite, then the table.

    python benchmarks/tails.py            # writes docs/tails.md
"""
import importlib.util
import sys
import tempfile
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symbackprop.emission.codegen import emit
from symbackprop.engine.rewrites import FEW_REWRITES, REWRITES, SOFTMAX_REWRITES, stable
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SpecError

YS = (-700, -100, -40, -20, -1e-3, 0, 20, 40, 100, 700)
DPS = 800


# the independent witness (textbook formulas at DPS digits) is the one the tests use
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_tails import ACTIVATIONS, COSTS
from test_tails import truth as _truth

SOFTMAX = {"softmax": 1, "softmax(T=0.001)": mp.mpf("0.001")}


def truth(act, cost, y, z):
    """(E, dE/db_1) at DPS digits."""
    E, grad, _ = _truth(act, cost, y, z)
    return E, grad[0]


def ours(module, y, z):
    n = len(z)
    params = {"W1": np.zeros((n, 1)), "b1": np.array([[y]] + [[0.0]] * (n - 1))}
    X, Z = np.ones((1, 1)), np.array(z, float).reshape(n, 1)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        try:
            return module.loss(params, X, Z), float(module.gradients(params, X, Z)["b1"][0, 0])
        except (FloatingPointError, RuntimeWarning) as exc:
            return f"raises ({exc})", None


def torch_witness(act, cost, y, z):
    """torch float64 autograd: E and dE/db_1, with torch's fused forms where it has them."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None, None
    t = torch.tensor([float(y)] + ([0.0] if act in SOFTMAX else []), dtype=torch.float64, requires_grad=True)
    zt = torch.tensor(z, dtype=torch.float64)
    if act == "sigmoid" and cost == "bce":
        E = F.binary_cross_entropy_with_logits(t, zt)
    elif act == "sigmoid" and cost == "cross_entropy":
        E = (-zt * F.logsigmoid(t)).mean()
    elif act in SOFTMAX and cost == "cross_entropy":
        E = (-zt * F.log_softmax(t / float(SOFTMAX[act]), dim=0)).mean()
    else:
        a = {"identity": lambda v: v, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
             "leaky_relu(0.1)": lambda v: F.leaky_relu(v, 0.1), "elu(0.5)": lambda v: F.elu(v, 0.5),
             "softplus": F.softplus}.get(act, lambda v: torch.softmax(v / float(SOFTMAX.get(act, 1)), dim=0))(t)
        E = {"mse": lambda: ((a - zt) ** 2).mean(), "mae": lambda: (a - zt).abs().mean(),
             "cross_entropy": lambda: (-zt * torch.log(a)).mean(),
             "bce": lambda: F.binary_cross_entropy(a, zt)}[cost]()
    E.backward()
    return E.item(), t.grad[0].item()


def load(act, cost):
    n = 2 if act in SOFTMAX else 1
    path = Path(tempfile.mkdtemp(prefix="tails-")) / "model.py"
    path.write_text(emit(NetworkSpec.from_options(f"1,{n}", act, cost)))
    spec = importlib.util.spec_from_file_location("model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def relative(got, true):
    if not isinstance(got, float) or np.isnan(got):
        return "-" if got is None else "fails"
    true = float(true)
    if true == 0:
        return "0" if got == 0 else f"abs {abs(got):.1e}"
    if abs(true) < np.finfo(float).tiny:
        return "(subnormal truth)"
    error = abs(got - true) / abs(true)
    return "0" if error == 0 else f"{error:.1e}"


def show(v):
    if v is None:
        return "-"
    return v if isinstance(v, str) else f"{float(v):.6g}"


def rows():
    for act in [*ACTIVATIONS, *SOFTMAX]:
        for cost in COSTS:
            try:
                module = load(act, cost)
            except SpecError:
                continue
            targets = ((1.0, 0.0), (0.0, 1.0)) if act in SOFTMAX else ((0.0,), (1.0,))
            for z in targets:
                for y in YS:
                    E, g = truth(act, cost, y, z)
                    oE, og = ours(module, y, z)
                    tE, tg = torch_witness(act, cost, y, z)
                    zs = z[0] if len(z) == 1 else f"e{z.index(1.0) + 1}"
                    yield (act, cost, y, zs, show(oE), show(E), show(tE), relative(oE, E), relative(tE, E),
                           show(og), show(g), show(tg), relative(og, g), relative(tg, g))


def registry_section():
    lines = ["| rewrite | what it is for | example | becomes |", "|---|---|---|---|"]
    for r in (*REWRITES, *SOFTMAX_REWRITES):
        result = stable(r.example, REWRITES if r in REWRITES else SOFTMAX_REWRITES)
        shown = str(result.rewritten).replace("|", "\\|")
        purpose = r.purpose.replace("|", "\\|")
        lines.append(f"| {r.name}{' (fuses)' if r.fuses else ''} | {purpose} | `{r.example}` | `{shown}` "
                     f"{'(proved)' if result.proved else '(NOT PROVED)'} |")
    few = ("The same registry for a handful of values (`FEW_REWRITES`, the output delta of one example at a time): "
           "the rewrites whose printed form differs.")
    lines += ["", few, "",
              "| rewrite | example | becomes |", "|---|---|---|"]
    for r in FEW_REWRITES:
        result, batch = stable(r.example, FEW_REWRITES), stable(r.example, REWRITES)
        if result.rewritten != batch.rewritten:
            lines.append(f"| {r.name} | `{r.example}` | `{result.rewritten}` "
                         f"{'(proved)' if result.proved else '(NOT PROVED)'} |")
    return "\n".join(lines)


INTRO = """# Tails: every digit of the emitted loss and gradients

The emitted NumPy module prints every element-wise function from its SymPy formula.  Printed literally, a
formula can be exact in SymPy and wrong in float64: 1/(1 + e^{-y}) overflows below y = -709; written as
(1 + tanh(y/2))/2 it is exactly 0 below y = -38 where the truth is e^y; log(1 - a) of a sigmoid that rounded
to 1 is log(0); 1 - e^{-a} is 0 once a < 1e-17.  The module used to clip a into [tiny, 1 - eps] before a log,
which kept the numbers finite and made them wrong (bce 708.4 where the truth is 40).

`symbackprop/engine/rewrites.py` holds every stable rewrite the emitter uses, as data: a name, what it is for, a
pattern and its replacement.  One rule (`stable(expr)`) applies them in order; each replacement it makes is
proved equal to the subexpression it replaces by SymPy (on y > 0, y < 0 and y = 0 where kinks sit at 0) and
refused otherwise (`tests/test_tails.py` plants wrong rewrites and sees them refused).  The rewrites marked
*fuses* only apply once the output activation is written into the cost or the delta: that is why the
emitted cost and output delta take y^L as well as a^L, and why nothing is clipped any more.

How the losses are fused:

* **sigmoid + bce / cross-entropy**: log a = min(y, 0) - log1p(e^{-|y|}) and log(1 - a) = -softplus(y), so
  the loss is z softplus(-y) + (1 - z) softplus(y) in y, with every digit in both tails.
* **softmax(T) + cross-entropy / bce**: with u = (y - m)/T (m the column maximum), E = e^u, R the sum of E
  without the maximum's 1, S = 1 + R and C_i = S - E_i (R at the maximum): log a = u - log1p(R),
  log(1 - a) = log C - log1p(R) (log R as a log-sum-exp, so T = 0.001 does not underflow it), and
  1 - a = C/S without a subtraction.  The delta is written c (P_j - a_j sum_(i != j, top) h_i - w_j P_top)
  with h = a e'(a, z), P = (1 - a) h and w_j = a_j/(1 - a_top) = e^(u_j - log R): no a_j - 1 cancels and no
  1/(1 - a_top) is formed.  Each form is derived by substituting a = E/S into e(a, z), expanding the logs
  and proving the result equal.
* **a - z near a bound** (mse, mae, the bce delta with z = 1): c sigmoid(y) + v is (c + v) sigmoid(y) + v sigmoid(-y)
  (as sigmoid(y) + sigmoid(-y) = 1): for mse 2 ((1 - z) a - z (1 - a)) with a and 1 - a each to every digit, so
  nothing cancels at z = 1 (the first term is 0) or z = 0 (the second); tanh(y) - z is (1 - z) - 2 sigmoid(-2|y|)
  beyond y = 1/2, a softmax output's a - z is (1 - z) - C/S for a >= 1/2; (1 - z) is printed as one grouped
  subtraction, exact for z in [1/2, 2].
* **derivatives in y where the a-form loses the tail**: the output delta takes a'(y) in y (sigmoid' =
  sigmoid(y) sigmoid(-y), tanh' = 4 e^{-2|y|}/(1 + e^{-2|y|})^2), e'(a, z) in a unless a - z needs the
  bound form; the simplified delta SymPy found is kept where a singular factor cancelled (sigmoid + bce).

How the sigmoids are printed (both forms keep every digit; they differ in speed):

* **arrays** (a batch, and every activation): sigmoid(u) = E1/(1 + E1 E2) and sigmoid(-u) = E2/(1 + E1 E2) with
  E1 = e^{min(u, 0)}, E2 = e^{min(u, 0) - u}: one of E1, E2 is exactly 1, the other e^{-|u|}, so nothing
  overflows and E1 E2 is exact.  No `where()` (2 us on 640 values, as much as three exponentials), and a
  sigmoid and its complement share their denominator.  The output delta is printed over that one denominator
  (sp.together, proved equal, accepted only when no exponential is inverted), and a batch's cost and delta
  are computed together (`output_step`), so the exponentials and (1 - z) a - z (1 - a) are computed once.
* **a handful of values** (one example at a time: the n_L outputs of one example, where each NumPy call costs
  its ~0.3 us of dispatch whatever the length): sigmoid(u) = e^{u - S} and sigmoid(-u) = e^{-S} with
  S = log(1 + e^u) = `numpy.logaddexp(0, u)`: two calls fewer, but logaddexp is not vectorised (7 us on 640
  values against 0.7 us for exp), so only the module's `output_delta` (one example at a time) uses it.  S is rounded to
  |u| 2^-53, so these values are within |u| 2^-53 relative (1e-13 at |u| = 700; 5e-6 at the float32 limit
  |u| = 88), well inside the 1e-10 and 2e-5 the tests ask.

Where no stable fused form exists, the module does not clip: **softplus + cross-entropy** is exact while
softplus(y) is a normal float (y >= -708); below y = -745 softplus(y) underflows to 0 and log(0) and 0/0 are
reported by NumPy (divide/invalid) rather than hidden, because no NumPy form of log(softplus(y)) or
sigmoid(y)/softplus(y) is provably equal without a special function NumPy lacks.  Hidden layers keep a'(y)
through a (the activation helper's choice): sigmoid's a(1 - a) there is 0 above y = 37.

The tests (`tests/test_tails.py`) check every pair below at 16 values of y, targets 0 and 1 (and 0.25 for bce),
float64 to 1e-10 relative and float32 to 2e-5 where the truth is a normal float, with NumPy raising on
overflow, division by zero and invalid operations: the loss and gradients, the one-example delta
(`output_delta`) and a batch's cost and delta (`output_step`, which gradients() and training run).

## The registry

"""


def main():
    header = ("| activation | cost | y | z | E ours | E truth | E torch | rel ours | rel torch "
              "| dE/db1 ours | truth | torch | rel ours | rel torch |")
    table = [header, "|" + "---|" * 14]
    table += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows()]
    text = (INTRO + registry_section() + "\n\n## The table\n\nW = 0, x = 1, b = y; softmax outputs (y, 0) with "
            "target e1 or e2; E is the batch error (mean over outputs), dE/db1 its derivative by b_1 (= dE/dW_1). "
            "Truth: mpmath at 800 digits.  'rel' is the relative error; '(subnormal truth)' marks values below the "
            "smallest normal float, where only finiteness is asked.  Generated by `python benchmarks/tails.py`."
            "\n\n" + "\n".join(table) + "\n")
    out = ROOT / "docs" / "tails.md"
    out.write_text(text)
    print(f"wrote {out} ({len(table) - 2} rows)")


if __name__ == "__main__":
    main()
