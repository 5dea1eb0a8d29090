"""symbackprop check: verdicts on claims written in the book's LaTeX notation.

True claims come from the standard statements of backpropagation (the four fundamental equations, the
batch forms, the softmax Jacobian, the sigmoid + BCE and softmax + CE simplifications, dE/dw_ij =
delta_i s_j); the planted errors are the ones people make.  Each test names the identity it checks.
The values the verdicts rest on are checked independently against torch autograd at the end.
"""
import pytest
import sympy as sp

from symbackprop.claims import check_text
from symbackprop.claims.grammar import Unread, parse_claim

MSE3 = "% symbackprop: layers=2,4,3 activations=tanh,sigmoid loss=mse\n"
SOFTMAX_CE = "% symbackprop: layers=3,4,3 activations=tanh,softmax loss=cross_entropy targets=sum1\n"
SIGMOID_BCE = "% symbackprop: layers=3,4,2 activations=tanh,sigmoid loss=bce\n"


def verdicts(claims, header=""):
    """The verdict of each claim, each in its own \\[ ... \\] after the header's directives."""
    text = header + "".join(f"\\[ {c} \\]\n" for c in claims)
    return check_text(text)


def one(claim, header=""):
    (result,) = verdicts([claim], header)
    return result


TRUE_ON_THE_PANEL = [
    # BP1 for element-wise outputs, BP2, BP3, BP4 (the four fundamental equations) in the book's forms
    r"\delta^{L} = \left(\frac{\partial E}{\partial a^{L}} \frac{\partial a^{L}}{\partial y^{L}}\right)^{T}",
    r"\delta^{l} = \left(\frac{\partial a^{l}}{\partial y^{l}}\right)^{T} (W^{l+1})^{T} \delta^{l+1}",
    r"\delta^{l} = a'(y^{l}) \odot (W^{l+1})^{T} \delta^{l+1}",
    r"\frac{\partial E}{\partial b^{l}} = \delta^{l}",
    r"\frac{\partial E}{\partial W^{l}} = \delta^{l} (s^{l-1})^{T}",
    r"\frac{\partial E}{\partial W^{l}} = \delta^{l} \otimes s^{l-1}",
    r"\frac{\partial E}{\partial w^{l}_{ij}} = \delta^{l}_{i} s^{l-1}_{j}",
    r"\frac{\partial E}{\partial W^{l}} = \frac{\partial E}{\partial y^{l}} \frac{\partial y^{l}}{\partial W^{l}}",
    r"\frac{\partial y^{l+1}}{\partial a^{l}} = W^{l+1}",
    r"y^{l} = W^{l} s^{l-1} + b^{l}",
    # the batch forms (ch. 5)
    r"Y^{l} = W^{l} S^{l-1} + B^{l}",
    r"\frac{\partial E}{\partial W^{l}} = \frac{1}{\beta} \Delta^{l} (S^{l-1})^{T}",
    r"\frac{\partial E}{\partial b^{l}} = \frac{1}{\beta} \Delta^{l} \mathbf{1}",
    r"E = \frac{1}{\beta}\sum_{j=1}^{\beta} E_{j}",
    r"\frac{\partial E}{\partial W^{l}} = \frac{1}{\beta}\sum_{j=1}^{\beta} \frac{\partial E_{j}}{\partial W^{l}}",
    # the same with other spellings of the same symbols
    r"\boldsymbol{\delta}^{(l)} = \left(\frac{\partial E}{\partial \mathbf{y}^{[l]}}\right)^\top",
    r"\frac{\partial E}{\partial \mathbf{W}^{[l]}} = \boldsymbol{\delta}^{(l)} \cdot (\mathbf{s}^{(l-1)})^{\intercal}",
]


@pytest.mark.parametrize("claim", TRUE_ON_THE_PANEL)
def test_true_claims_hold_on_every_network_of_the_panel(claim):
    # each identity is a theorem of backpropagation; on the panel (element-wise and softmax layers, every cost,
    # a batch) both sides agree to 45 digits wherever the claim is meaningful
    r = one(claim)
    assert (r.verdict, r.method) == ("holds", "high precision"), r.evidence


@pytest.mark.parametrize("claim, header", [
    (r"\frac{\partial a^{L}_{i}}{\partial y^{L}_{j}} = a^{L}_{i}(\delta_{ij} - a^{L}_{j})", SOFTMAX_CE),
    (r"\frac{\partial a^{L}}{\partial y^{L}} = \operatorname{diag}(a^{L}) - a^{L} (a^{L})^{T}", SOFTMAX_CE),
    (r"\delta^{L} = \frac{1}{n}(a^{L} - z)", SOFTMAX_CE),  # softmax + CE, targets summing to 1
    (r"\delta^{L} = \frac{1}{n}(a^{L} - z)", SIGMOID_BCE),  # sigmoid + BCE: a(1 - a) cancels
    (r"\delta^{L} = \frac{2}{n}(a^{L} - z) \odot a^{L} \odot (1 - a^{L})", MSE3),  # MSE with a sigmoid output
    (r"\frac{\partial E}{\partial a^{L}} = \frac{2}{n}(a^{L} - z)^{T}", MSE3),
    (r"E = \frac{1}{n}\sum_{i=1}^{n} (a^{L}_{i} - z_{i})^{2}", MSE3),
])
def test_true_claims_hold_on_their_network(claim, header):
    # the softmax Jacobian c a_i (delta_ij - a_j) with c = 1, the two cancellations of the output delta, MSE's 2/n
    assert one(claim, header).verdict == "holds"


@pytest.mark.parametrize("claim", [
    r"\sigma'(y) = \sigma(y)(1 - \sigma(y))",
    r"\sigma'(y) = \frac{e^{-y}}{(1 + e^{-y})^{2}}",
    r"\tanh'(y) = 1 - \tanh^{2}(y)",
])
def test_scalar_identities_are_proved_exactly(claim):
    # no network name: y is a real variable and zero.is_zero proves the difference 0 for every real y
    r = one(claim)
    assert (r.verdict, r.method) == ("holds", "exact"), r.evidence


PLANTED = [
    # (claim, header, verdict, a piece of the evidence)
    (r"\delta^{l} = a'(y^{l}) \odot W^{l+1} \delta^{l+1}", "", "ill-formed", "columns against"),  # missing ^T
    (r"\delta^{l} = a'(y^{l}) \odot (W^{l+1})^{T} \odot \delta^{l+1}", "", "ill-formed", "shapes differ"),  # (.) for .
    (r"\delta^{l} = a'(y^{l+1}) \odot (W^{l+1})^{T} \delta^{l+1}", "", "ill-formed", "n_2 x 1"),  # wrong layer
    (r"\frac{\partial E}{\partial W^{l}} = \Delta^{l} (S^{l-1})^{T}", "", "fails", ""),  # missing 1/beta
    (r"\delta^{L} = (a^{L} - z) \odot a'(y^{L})", MSE3, "fails", ""),  # missing 2/n
    (r"\frac{\partial E}{\partial a^{L}} = \frac{1}{n}(a^{L} - z)^{T}", MSE3, "fails", ""),  # MSE without its 2
    (r"\frac{\partial a^{L}}{\partial y^{L}} = \operatorname{diag}(a^{L} \odot (1 - a^{L}))", SOFTMAX_CE, "fails",
     ""),  # a diagonal softmax Jacobian
    (r"\frac{\partial E}{\partial w^{l}_{ij}} = \delta^{l}_{j} s^{l-1}_{i}", "", "ill-formed", "indices"),  # swapped
    (r"\mathrm{ReLU}'(y) = \max(0, 1)", "", "fails", "y = -23/10"),  # relu' is 0 for y < 0
    (r"\delta^{L} = \frac{1}{n}(a^{L} - z)", MSE3, "fails", ""),  # the cancellation claimed for MSE
]


@pytest.mark.parametrize("claim, header, verdict, evidence", PLANTED)
def test_planted_errors_are_caught(claim, header, verdict, evidence):
    # each claim is a common mistake: the shapes give it away (ill-formed) or a point does (fails)
    r = one(claim, header)
    assert r.verdict == verdict, r.evidence
    assert evidence in r.evidence + str(r.counterexample)


def test_a_failure_carries_its_counterexample_and_the_engines_statement():
    # dE/dW^l = Delta^l S^T (no 1/beta) differs from the derivation by exactly the factor beta
    r = one(r"\frac{\partial E}{\partial W^{l}} = \Delta^{l} (S^{l-1})^{T}")
    c = r.counterexample
    assert c["network"] and "W^1 = [" in c["point"] and "X = [" in c["point"] and c["left"] != c["right"]
    assert r"\frac{1}{\beta}" in r.corrected
    left, right = (sp.Matrix(sp.sympify(c[k])) for k in ("left", "right"))
    beta = 5 if "batch 5" in c["network"] else 3
    assert (right - beta * left).norm() < 1e-6 * right.norm()


def test_conditional_names_the_condition_and_a_counterexample_outside_it():
    # delta^L = (a - z)/n holds for softmax + CE when the targets sum to 1 and for sigmoid + BCE, nowhere else
    r = one(r"\delta^{L} = \frac{1}{n}(a^{L} - z)")
    assert r.verdict == "conditional"
    assert "the targets sum to 1" in r.condition and "bce" in r.condition
    assert "targets summing to 1" not in r.counterexample["network"]


def test_conditional_on_element_wise_layers():
    # a'(Y^L) does not exist for a softmax output: Delta^L = (2/n)(A - Z) (.) a'(Y^L) needs an element-wise MSE output
    r = one(r"\Delta^{L} = \frac{2}{n}(A^{L} - Z) \odot a'(Y^{L})")
    assert r.verdict == "conditional" and "mse" in r.condition


def test_a_chain_is_two_claims():
    # A = B = C claims A = B and B = C; the second compares the column delta^l with the row dE/dy^l
    results = verdicts([r"\frac{\partial E}{\partial b^{l}} = \delta^{l} = \frac{\partial E}{\partial y^{l}}"])
    assert [r.verdict for r in results] == ["holds", "ill-formed"]


@pytest.mark.parametrize("claim, message", [
    (r"\nabla E = 0", r"\nabla needs what it differentiates with"),
    (r"E = |a^{L} - z", "is not closed"),
    (r"\mycommand{W} = 0", r"\mycommand is not notation"),
    (r"W^{l} s^{l-1} + b^{l}", "no '='"),
    (r"\frac{\partial E}{\partial q} = 0", "cannot differentiate"),
    (r"y = W^{l} s^{l-1}", "y needs its layer"),
    (r"\frac{\partial E}{\partial W^{l} = 0", "ends where"),
    (r"\frac{\partial E}{W} = 0", "\\partial above and below"),
    (r"\begin{cases} 1 \end{cases} = 1", "is not read inside an equation"),
    (r"\begin{bmatrix} 1 & 2 \\ 3 \end{bmatrix} = W^{1}", "different lengths"),
    (r"\sigma''(y) = 0", "only first derivatives"),
    (r"Q^{l} = W^{l}", "'Q' is not a name"),
])
def test_unreadable_constructs_get_a_clear_message(claim, message):
    # nothing is skipped silently: the verdict is unread and the evidence says what and where
    r = one(claim)
    assert r.verdict == "unread" and message in r.evidence, r.evidence


def test_the_parser_gives_the_column():
    with pytest.raises(Unread) as info:
        parse_claim(r"W^{l} = \foo")
    assert info.value.column == 9


def test_values_agree_with_torch_autograd():
    # the point's dE/dW^l, dE/db^l (the derivation's forms) against torch autograd of the composed error, float64
    torch = pytest.importorskip("torch")
    from symbackprop.claims.points import Point
    from symbackprop.engine.spec import NetworkSpec

    for layers, acts, loss in [("3,4,3", "tanh,softmax", "cross_entropy"), ("2,3,2", "relu,sigmoid", "bce")]:
        point = Point(NetworkSpec.from_options(layers, acts, loss, 2), seed=3)
        Ws = [torch.tensor([[float(v) for v in point.W[l].row(i)] for i in range(point.W[l].rows)],
                           dtype=torch.float64, requires_grad=True) for l in range(1, point.L + 1)]
        bs = [torch.tensor([[float(v)] for v in point.b[l]], dtype=torch.float64, requires_grad=True)
              for l in range(1, point.L + 1)]
        X = torch.tensor([[float(v) for v in point.X.row(i)] for i in range(point.X.rows)], dtype=torch.float64)
        Z = torch.tensor([[float(v) for v in point.Z.row(i)] for i in range(point.Z.rows)], dtype=torch.float64)
        A = X
        for W, b, act in zip(Ws, bs, acts.split(",")):
            Y = W @ A + b
            A = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
                 "softmax": lambda y: torch.softmax(y, dim=0)}[act](Y)
        n = A.shape[0]
        terms = -Z * torch.log(A) if loss == "cross_entropy" else -(Z * torch.log(A) + (1 - Z) * torch.log(1 - A))
        E = (terms.sum(dim=0) / n).mean()  # (1/beta) sum_j E_j, each E_j with the book's 1/n
        E.backward()
        assert abs(float(point.error(batch=True)) - E.item()) < 1e-12
        for l in range(1, point.L + 1):
            for ours, theirs in ((point.gradient("W", l, batch=True), Ws[l - 1].grad),
                                 (point.gradient("b", l, batch=True), bs[l - 1].grad)):
                assert max(abs(float(ours[i, j]) - theirs[i, j].item()) for i in range(ours.rows)
                           for j in range(ours.cols)) < 1e-12


def test_exact_proves_true_claims_for_every_value_of_the_symbols():
    # --exact: dE/dW^l = (1/beta) Delta^l (S^{l-1})^T and the recursion reduce to 0 in the symbols w, b, x, z of
    # the smallest network of the panel, and a claim off by the factor beta does not
    from symbackprop.claims.judge import _case, _equal_exact
    from symbackprop.claims.points import Point
    from symbackprop.engine.spec import NetworkSpec

    text = ("\\[ \\frac{\\partial E}{\\partial W^{l}} = \\frac{1}{\\beta} \\Delta^{l} (S^{l-1})^{T} \\]\n"
            "\\[ \\delta^{l} = a'(y^{l}) \\odot (W^{l+1})^{T} \\delta^{l+1} \\]")
    for r in check_text(text, exact=True):
        assert r.verdict == "holds" and r.method == "exact" and "2-2-1" in r.evidence, r.evidence
    point = Point(NetworkSpec.from_options("2,2,1", "tanh,sigmoid", "mse"), exact=True)
    assert point.W[1][0, 0].is_Symbol
    (wrong,) = parse_claim(r"\frac{\partial E}{\partial W^{l}} = \Delta^{l} (S^{l-1})^{T}")
    (right,) = parse_claim(r"\frac{\partial E}{\partial W^{l}} = \frac{1}{\beta} \Delta^{l} (S^{l-1})^{T}")
    for l in (1, 2):
        assert _case(right, point, {"l": l}, True, None, _equal_exact) is None
        assert _case(wrong, point, {"l": l}, True, None, _equal_exact) is not None


def test_a_wrong_activation_derivative_gets_the_derived_one_as_its_correction():
    # tanh'(y) = 1 - tanh(y)^2, not 1 - tanh(y): the correction is the activation registry's derived a'(y)
    from symbackprop.claims import check_text
    from symbackprop.engine.activations import Y, get_activation

    [r] = check_text("\\[ \\tanh'(y) = 1 - \\tanh(y) \\]")
    assert r.verdict == "fails"
    derived = get_activation("tanh").derivative
    assert sp.simplify(derived - (1 - sp.tanh(Y) ** 2)) == 0  # the registry's derivative, checked by hand
    assert r.corrected == sp.latex(derived)
