r"""The derivation of a network of layer kinds as a LaTeX document: a section per layer, in the book's voice.

Each section prints the layer's forward rule, its Jacobians (explicit at small sizes, derived by
``Matrix.jacobian`` from the forward rule), and the fast backward form the emitted module runs -- the same
objects :mod:`symbackprop.verification.layers` checks; then the identities proved for every size
(:mod:`symbackprop.proofs.kinds`) and the verification's verdict.

>>> from symbackprop.engine.layers_spec import LayeredSpec
>>> from symbackprop.engine.layered import LayeredDerivation
>>> d = LayeredDerivation(LayeredSpec.from_arch("layernorm residual(tanh) dense(1,sigmoid)", "2", "mse"))
>>> tex = layers_document(d)
>>> tex.startswith(r"\documentclass") and r"\odot" in tex and "Layer 2: residual" in tex
True
"""
import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

from symbackprop.errors import SymbackpropError
from symbackprop.latex.escape import tex_escape

#: the book's voice, one paragraph per kind (what the layer does and what its Jacobian looks like)
PROSE = {
    "dense": (r"The book's perceptron layer: the linearity $y^{l} = W^{l} s^{l-1} + b^{l}$ and the activation "
              r"$a^{l} = a(y^{l})$ (eq.~6, 11).  Its Jacobian with respect to its input is $\frac{\partial a^{l}}"
              r"{\partial y^{l}} W^{l}$; with respect to $W^{l}$ it is the column-vector of matrices of eq.~16--17."),
    "layernorm": (r"Layer normalization centres and scales the features of each example: "
                  r"$\hat x = (s - \mu)/\sigma$ with $\mu = \frac1n\sum_k s_k$, "
                  r"$\sigma^2 = \frac1n\sum_k (s_k - \mu)^2 + \epsilon$, then $a = g \odot \hat x + h$.  "
                  r"Every output reads every input through $\mu$ and $\sigma$, so its Jacobian is full, like "
                  r"softmax's: $\frac{\partial a_i}{\partial s_j} = \frac{g_i}{\sigma}\left(\delta_{ij} - "
                  r"\frac1n - \frac{\hat x_i \hat x_j}{n}\right)$ (proved below for every $n$)."),
    "residual": (r"A residual block adds a dense sub-layer to its input: $s^{l} = s^{l-1} + a(W^{l} s^{l-1} + "
                 r"b^{l})$.  Its Jacobian is $I + \frac{\partial a}{\partial y} W^{l}$, so the recursion gains the "
                 r"identity term, $\delta^{l-1} = \delta^{l} + (W^{l})^T \left(a'(y^{l}) \odot \delta^{l}\right)$: "
                 r"however small $a'$ becomes, $\delta^{l}$ reaches the layer below unchanged.  This is why deep "
                 r"stacks of residual blocks keep learning where the same depth of sigmoid layers stalls "
                 r"(each factor $a'(y) \le 1/4$ of the chain is bypassed)."),
}


PROSE["conv2d"] = (
    r"A convolution slides $c_{\text{out}}$ kernels over the channels of its input: entry $(o, i, j)$ of "
    r"$y = W * s + b$ is $b_o + \sum_{c,p,q} W_{o c p q}\, s_{c,\, i\sigma + p - \pi,\, j\sigma + q - \pi}$ "
    r"(stride $\sigma$, zero padding $\pi$; the cross-correlation PyTorch computes), then $a = a(y)$.  The "
    r"analogue of the column-vector of matrices: entry $(c, p, q)$ of $\partial y_{o i j}/\partial W_{o\cdot\cdot\cdot}$ "
    r"is the input entry that kernel position read at output $(i, j)$, so $\partial E/\partial W$ is the correlation "
    r"of the input with $\delta$, and $\delta^{l-1}$ is the full convolution of $\delta$ with the flipped kernel "
    r"(proved below for every size).  The signal is stored as a $(c\,h\,w) \times \beta$ matrix in C order.")
PROSE["conv1d"] = PROSE["conv2d"].replace("A convolution", "A one-dimensional convolution (height 1)")
PROSE["maxpool2d"] = (r"Max pooling keeps the largest entry of each window.  Its Jacobian has one 1 per output row, "
                      r"at the window's arg-max (the first one on ties, as PyTorch), so $\delta$ is routed back to the "
                      r"entry that won.")
PROSE["avgpool2d"] = (r"Average pooling keeps the mean of each window: its Jacobian spreads $\delta/(k_h k_w)$ over the "
                      r"window.")
PROSE["flatten"] = (r"Flatten reads the $(c, h, w)$ signal as a vector in C order ($c$, then $h$, then $w$, as "
                    r"\texttt{torch.flatten}); the stored matrix does not change, and its Jacobian is the identity.")


class FormLatexPrinter(LatexPrinter):
    """Matrix forms in the book's notation: (.) is \\odot, a matrix of ones is \\mathbf{1}, f entry by entry."""

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(self.parenthesize(a, 60) for a in expr.args)

    def _print_OneMatrix(self, expr):
        return rf"\mathbf{{1}}_{{{self._print(expr.shape[0])} \times {self._print(expr.shape[1])}}}"

    def _print_Elementwise(self, expr):
        names = {s: sp.Symbol(m.name if isinstance(m, sp.MatrixSymbol) else str(m)) for s, m in expr.arguments.items()}
        return rf"\left[{self._print(expr.formula.xreplace(names))}\right]_{{\text{{entry-wise}}}}"

    def _print_Activate(self, expr):
        return rf"a_{{\text{{{tex_escape(expr.activation.label())}}}}}\left({self._print(expr.argument)}\right)"

    def _print_WindowOp(self, expr):
        args = ", ".join(self._print(a) for a in expr.operands)
        return rf"\operatorname{{{type(expr).__name__}}}\left({args}\right)"

    def _print_MatrixSymbol(self, expr):
        name = expr.name
        for stem in ("Delta", "S", "Y", "H", "C", "V", "R", "N", "D", "K", "W", "b", "g", "h"):
            if name.startswith(stem) and name[len(stem):].isdigit():
                base = r"\Delta" if stem == "Delta" else stem
                return f"{base}^{{{name[len(stem):]}}}"
        if name.endswith("_grad"):
            return rf"\frac{{\partial E}}{{\partial {self._print(sp.MatrixSymbol(name[:-5], *expr.shape))}}}"
        return super()._print_MatrixSymbol(expr)


def form_latex(form):
    return FormLatexPrinter({"mat_delim": "["}).doprint(form)


def _explicit(build, shape, explicit_max, limit=900):
    """The matrix ``build()`` typeset, when its ``shape`` is small enough (it is not built otherwise), else None."""
    if max(shape) > explicit_max:
        return None
    text = sp.latex(build(), mat_delim="[")
    return text if len(text) <= limit else None


def _layer_section(derivation, layer, explicit_max):
    M, l = derivation.names(), layer.l
    lines = [(rf"\section*{{Layer {l}: {tex_escape(layer.kind)} ($n_{{{l - 1}}} = {layer.n_in} \to n_{{{l}}} = "
             rf"{layer.n_out}$)}}"), PROSE[layer.kind], "", r"\paragraph{Forward rule (batch as columns).}",
             r"\begin{align*}"]
    lines += [rf"{form_latex(name)} &= {form_latex(form)} \\" for name, form in layer.steps(M)]
    lines += [r"\end{align*}"]
    J = _explicit(lambda: derivation.jacobian_input(l), (layer.n_out, layer.n_in), explicit_max)
    lines += [(r"\paragraph{Jacobian with respect to the input,} derived by \texttt{Matrix.jacobian} of the forward "
              r"rule for one example:")]
    lines += [rf"\[ \frac{{\partial s^{{{l}}}}}{{\partial s^{{{l - 1}}}}} = {J} \]" if J else
              rf"(it is ${layer.n_out} \times {layer.n_in}$, too large to write out here; its general entry is "
              r"given above)."]
    for name, shape in layer.params():
        if shape[0] * shape[1] > explicit_max:
            continue
        P = _explicit(lambda name=name: derivation.jacobian_params(l, name), (layer.n_out,), explicit_max ** 2)
        if P:
            lines += [rf"\[ \frac{{\partial s^{{{l}}}}}{{\partial {form_latex(sp.MatrixSymbol(name, 1, 1))}}} = {P} \]"]
    lines += [r"\paragraph{Backward step (the fast form the code runs, proved equal to the chain).}", r"\begin{align*}"]
    output = (derivation.output_delta, derivation.cost) if l == derivation.L else None
    delta_in, grads, inner = layer.rule.backward(layer, M, None if output else M.Delta(l), output)
    if inner is not None:
        lines.append(rf"{form_latex(inner[0])} &= {form_latex(inner[1])} \\")
    for name, form in grads.items():
        lines.append(rf"\frac{{\partial E}}{{\partial {form_latex(sp.MatrixSymbol(name, 1, 1))}}} &= "
                     rf"{form_latex(form)} \\")
    if l > 1:
        lines.append(rf"{form_latex(M.Delta(l - 1))} &= {form_latex(delta_in)} \\")
    lines.append(r"\end{align*}")
    return "\n".join(lines)


def _verdict_latex(proof):
    r"""'proved under condition 1 <= r <= n, 1 <= c <= n' as italic words, and the ranges in math.

    >>> from types import SimpleNamespace as P
    >>> print(_verdict_latex(P(verdict="proved under condition 1 <= r <= n_l, 1 <= c2 <= C",
    ...                        condition="1 <= r <= n_l, 1 <= c2 <= C")))
    \textit{proved for} $1 \le r \le n_l$, $1 \le c2 \le C$
    """
    ranges = (proof.condition or "").split(", ")
    if proof.condition and all(re.fullmatch(r"[A-Za-z0-9_]+( <= [A-Za-z0-9_]+)+", r) for r in ranges):
        return r"\textit{proved for} " + ", ".join("$" + r.replace(" <= ", r" \le ") + "$" for r in ranges)
    return rf"\textit{{{tex_escape(proof.verdict)}}}"


def layers_document(derivation, report=None, explicit_max=4, allow_failed=False):
    """The standalone LaTeX source of the derivation; ``report`` defaults to its high-precision verification."""
    from symbackprop.proofs.kinds import prove_kinds
    from symbackprop.verification.layers import verify_layers

    report = report or verify_layers(derivation, method="high-precision")
    if not report.passed and not allow_failed:
        raise SymbackpropError("verification failed; no document written (pass --allow-failed to typeset it anyway)")
    proofs = prove_kinds()
    title = r" $\to$ ".join(tex_escape(part) for part in derivation.spec.describe().split(" -> "))
    parts = [r"\documentclass[11pt]{article}", r"\usepackage[margin=2cm]{geometry}",
             r"\usepackage[T1]{fontenc}", r"\usepackage{amsmath,amssymb}", r"\usepackage{xcolor}", r"\begin{document}",
             rf"\title{{Backpropagation through {title}}}", r"\date{}", r"\maketitle",
             (r"The network reads $s^0 = x$ and each layer $l$ writes $s^l$; a batch keeps one example per column.  "
             r"$\Delta^l = \partial E/\partial S^l$ (one column per example), $D^l = \partial E/\partial Y^l$ for "
             r"layers with a linearity.  The recursion runs from the output delta (eq.~54) down, each layer "
             r"applying the transpose of its Jacobian in the fast form shown in its section.")]
    parts += [_layer_section(derivation, layer, explicit_max) for layer in reversed(derivation.layers)]
    parts += [r"\section*{What is proved}", r"\begin{itemize}"]
    parts += [rf"\item {tex_escape(p.name)}: ${p.statement_latex}$ --- {_verdict_latex(p)}" for p in proofs]
    verdict = "passed" if report.passed else r"\textcolor{red}{FAILED}"
    parts += [(rf"\item (a) direct $=$ (b) chain $=$ (c) fast form for every parameter of this network: {verdict} "
              rf"({len(report.checks)} checks)."), r"\end{itemize}", r"\end{document}", ""]
    return "\n\n".join(parts)


def handle_layered_derive_args(args, derivation):
    """``derive --latex`` for a network of layer kinds: verify, typeset, write atomically (and compile)."""
    from symbackprop.latex.document import check_explicit_max, check_output_path, compile_pdf, write_atomic
    from symbackprop.verification.layers import verify_layers

    if not args.latex:
        raise SymbackpropError("--pdf needs --latex OUT.tex")
    check_explicit_max(args.explicit_max)
    check_output_path(args.latex, args.force)
    report = verify_layers(derivation, method="high-precision")
    written = write_atomic(args.latex, layers_document(derivation, report, args.explicit_max, args.allow_failed),
                           args.force)
    print(f"wrote {written} ({'verified' if report.passed else 'VERIFICATION FAILED'}: {len(report.checks)} checks)")
    if args.pdf:
        pdf, _ = compile_pdf(written)
        print(f"wrote {pdf}")
    return 0 if report.passed else 1
