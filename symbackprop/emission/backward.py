"""The backward step of the emitted module, printed from the derivation's matrix forms.

:func:`backward_code` reads ``derive(spec)[l].delta_form`` and ``.gradient_forms`` -- the objects the
verification evaluates -- and prints them with :mod:`symbackprop.emission.print_numpy` for both training engines
of ``templates/train_module.py.j2``, into :class:`LayerCode` records the template loops over.  The
element-wise functions the printed lines call are printed from the forms' formulas by
:func:`symbackprop.emission.codegen.elementwise_source`.
"""
from dataclasses import dataclass, replace

import sympy as sp

from symbackprop.emission.codegen import (
    DEFER_WEIGHTS,
    SCALE,
    _check_doc,
    _identifier,
    elementwise_source,
    numpy_expression,
)
from symbackprop.emission.print_numpy import (
    NumPyFormPrinter,
    OneExamplePrinter,
    WeightBlock,
    form_text,
    split_coefficient,
)
from symbackprop.engine.forms import BETA, Elementwise, LayerMatrices, output_delta_form
from symbackprop.engine.simplify import N
from symbackprop.errors import SymbackpropError


@dataclass(frozen=True)
class LayerCode:
    """What the template needs to know about layer l, with its backward step printed from the derivation.

    ``backward`` computes D^l and ``gradients`` dW^l, db^l in the mini-batch engine (``_Pass``);
    ``one_backward`` and ``one_update`` do the same for one example at a time (``_OneByOne``);
    ``scratch``/``one_scratch`` name the extra arrays those lines use (allocated by the template).
    """

    l: int
    n: int
    m: int
    label: str
    act: str  # function computing a(y) into out
    elementwise: bool  # False for softmax
    backward: tuple = ()
    gradients: tuple = ()
    one_backward: tuple = ()
    one_update: tuple = ()
    scratch: tuple = ()
    one_scratch: tuple = ()

    @property
    def deferred(self):
        return deferred(self.n, self.m)


def deferred(n, m):
    """Whether batch_size=1 training keeps the rank-1 updates of an n x m layer pending (see DEFER_WEIGHTS)."""
    return n * m >= DEFER_WEIGHTS


class _FormFunctions:
    """The element-wise functions the printed backward step calls: one per distinct formula, named by role.

    ``role`` (set before each layer is printed) is the name and docstring the next new formula gets:
    ``act_<label>_prime`` for a'(y) of a hidden layer, ``output_delta`` (or ``output_h`` for softmax's
    h = a e'(a, z)) for the output layer.  The source is ``source(name, formula, parameters, doc)``:
    :func:`elementwise_source` (in place, ``out=``) for the fast style, a returning function for the book style.
    """

    def __init__(self, functions, source=None):
        self.functions, self.names, self.role = functions, {}, ("f", "")
        self.source = source or elementwise_source

    def __call__(self, formula, parameters):
        key = (formula, parameters)
        if key not in self.names:
            base, doc = self.role
            name, k = base, 1
            while name in self.functions:
                k += 1
                name = f"{base}_{k}"
            self.names[key] = name
            self.functions[name] = self.source(name, formula, tuple(map(str, parameters)), f"{doc}{sp.sstr(formula)}")
        return self.names[key]


def _without_batch_mean(form):
    """X for a gradient form (1/beta) X; the code's 1/beta rides in scale, so any other factor is refused."""
    coefficient, rest = split_coefficient(form)
    if coefficient != 1 / BETA:
        raise SymbackpropError(f"the gradient form {sp.sstr(form)} is not (1/beta) times a product: the emitted "
                               f"code folds exactly 1/beta into scale")
    return rest


def _output_scale_check(derivation):
    """Delta^L = (1/n_L) F with F free of n_L, checked on the output form at a symbolic n_L: then
    n_L scale Delta^L = scale F, the 1/n_L of the form being the one scale replaces."""
    net = derivation.network
    M = LayerMatrices(tuple(net.sizes[:-1]) + (N,))
    folded = N * SCALE * output_delta_form(derivation.output_delta, net.activations[net.L], net.cost, M)

    def scalars(node, factor):  # each scalar factor times what multiplies it, pushed down to the leaves
        if isinstance(node, Elementwise):
            yield factor * node.formula
        elif isinstance(node, sp.MatAdd):
            for term in node.args:
                yield from scalars(term, factor)
        elif isinstance(node, sp.MatMul):  # c X Y: linear in each factor, so c goes with the first
            coefficient, rest = split_coefficient(node)
            for k, m in enumerate(rest.args if isinstance(rest, sp.MatMul) else (rest,)):
                yield from scalars(m, factor * coefficient if k == 0 else sp.S.One)
        elif isinstance(node, sp.HadamardProduct):
            for k, m in enumerate(node.args):
                yield from scalars(m, factor if k == 0 else sp.S.One)
        else:
            yield factor

    left = [sp.sstr(c) for c in scalars(folded, sp.S.One) if c.has(N)]
    if left:
        raise SymbackpropError(f"the output delta is not (1/n_L) times a form free of n_L ({', '.join(left)} "
                               f"keep n): the emitted code replaces exactly 1/n_L by scale")


def backward_code(derivation, acts, functions, output_delta=None):
    """The LayerCode of every layer, its backward step printed from ``derivation``'s matrix forms.

    The convention that folds the means into one number: the emitted code holds D^l = n_L scale Delta^l
    (the recursion is linear in Delta, so D^l = n_L scale Delta^l at every layer once D^L is), and writes
    D^l (S^(l-1))^T = n_L beta scale dE/dW^l into dW^l.  With scale = 1/(n_L beta) these are the gradients
    of the mean error E (eq. 86-88); with scale = -lr/(n_L beta), the SGD steps (eq. 89-90).  So the output
    form's 1/n_L becomes scale (checked by :func:`_output_scale_check`) and the gradient forms' 1/beta is
    dropped (checked by :func:`_without_batch_mean`).

    >>> from symbackprop.engine.spec import NetworkSpec
    >>> from symbackprop.engine.jacobians import derive
    >>> layers = backward_code(derive(NetworkSpec.from_options("3,4,2", "relu,sigmoid", "mse")), ["r", "s"], {})
    >>> print("\\n".join(layers[0].backward + layers[0].gradients))
    # Delta1 = [(1 if y > 0 else 0) at y = Y1] (.) (W2.T*Delta2)  (eq. 60, 65)
    numpy.matmul(self.W2.T, self.D2, out=self.D1)
    act_relu_prime(self.Y1, out=self.P1)
    numpy.multiply(self.D1, self.P1, out=self.D1)
    # dE/dW1 = 1/beta*Delta1*A0.T, dE/db1 = 1/beta*Delta1*ones(beta, 1) (eq. 87-88): 1/beta is in scale
    numpy.matmul(self.D1, X.T, out=self.dW1)
    numpy.dot(self.D1, self.ones, out=self.db1)
    """
    net = derivation.network
    L, n_L = net.L, net.sizes[-1]
    _output_scale_check(derivation)
    registry = _FormFunctions(functions)
    batch_names = {"A0": "X", "Z": "Z", "ones": "self.ones"}
    one_names = {"A0": "x", "Z": "z"}
    for l in range(1, L + 1):
        batch_names.update({f"W{l}": f"self.W{l}", f"Y{l}": f"self.Y{l}", f"A{l}": f"self.A{l}",
                            f"Delta{l}": f"self.D{l}"})
        pending = deferred(net.sizes[l], net.sizes[l - 1])
        one_names.update({f"W{l}": WeightBlock(l, net.sizes[l - 1], pending, f"A{l - 1}"), f"Y{l}": f"y{l}",
                          f"A{l}": f"a{l}", f"Delta{l}": f"d{l}"})
    layers = []
    for l in range(1, L + 1):
        activation, form = net.activations[l], derivation[l].delta_form
        if l == L:
            found = derivation.output_delta
            if found.condition:  # the simplification assumed something of the targets: print the general form
                found = replace(found, simplified=found.naive)
                form = output_delta_form(found, activation, net.cost, derivation.matrices)
            doc = "delta^L times n_L scale (scale = 1/(n_L beta), or -lr/(n_L beta) for a step): "
            if not isinstance(form, Elementwise):
                doc = "softmax output: h = a e'(a, z) in D^L = scale c (h - a sum_i h_i), h = "
            registry.role = ("output_delta" if isinstance(form, Elementwise) else "output_h", doc)
            comment = f"D{L} = n_L scale Delta{L}, Delta{L} = {form_text(form)}  (eq. 54)"
            form = n_L * SCALE * form
        else:
            registry.role = (f"act_{_identifier(activation.label())}_prime", f"{activation.label()}: a'(y) = ")
            comment = f"Delta{l} = {form_text(form)}  (eq. 60, 65)"
        dW, db = derivation[l].gradient_forms
        grad = f"dE/dW{l} = {form_text(dW)}, dE/db{l} = {form_text(db)} (eq. 87-88): 1/beta is in scale"
        dW, db = _without_batch_mean(dW), _without_batch_mean(db)
        batch = NumPyFormPrinter(batch_names, [f"self.P{l}"], registry, {SCALE: "scale"}, numpy_expression)
        one = OneExamplePrinter(one_names, [f"p{l}"], registry, {SCALE: "scale"}, numpy_expression)
        if l == L and output_delta:
            # the derivation's output delta (the one this form reads), printed by codegen in its stable form:
            # every rewrite that keeps its tails is proved equal to it (symbackprop.engine.rewrites)
            step = getattr(output_delta, "step", None)  # a batch's cost e(a, z) into E on the way
            call = f"{step}(self.Y{l}, self.A{l}, Z, scale, self.E, out=self.D{l})  # and e(a, z) into E" if step \
                else f"{output_delta}(self.Y{l}, self.A{l}, Z, scale, out=self.D{l})"
            batch_lines = [call]
            one_lines = [f"{output_delta}(y{l}, a{l}, z, scale, out=d{l})"]
        else:
            batch_lines, one_lines = batch.statements(form, f"self.D{l}"), one.statements(form, f"d{l}")
        layers.append(LayerCode(
            l, net.sizes[l], net.sizes[l - 1], _check_doc(activation.label()), acts[l - 1], activation.elementwise,
            backward=(f"# {comment}", *batch_lines),
            gradients=(f"# {grad}", *batch.statements(dW, f"self.dW{l}"), *batch.statements(db, f"self.db{l}")),
            one_backward=(f"# {comment}", *one_lines),
            one_update=tuple(one.update(dW, db, one_names[f"W{l}"])),
            scratch=tuple(batch.used), one_scratch=tuple(one.used)))
    return layers
