"""One network at one point: every quantity a claim may name, taken from the engine's derivation.

The point fixes W^l, b^l, the batch X and the targets Z to small exact rationals; everything else is
what the engine computes from them, at ``DIGITS`` digits:

* the forward pass Y^l = W^l S^{l-1} + b^l 1^T, A^l = a(Y^l) with the engine's activations (eq. 82);
* Delta^l from the derivation's matrix form (:attr:`LayerDerivation.delta_form`, the recursion that
  verification has proved equal to the direct derivative), from L down to 1;
* dE/dW^l, dE/db^l from :attr:`LayerDerivation.gradient_forms` (eq. 87-90);
* da^l/dy^l from :meth:`LayerDerivation.jacobian_form`, dy^l/dW^l as the engine's
  :class:`ColumnOfMatrices`, dy^l/db^l and dy^{l+1}/da^l = W^{l+1} from the layer derivation;
* dE/da^L from the cost's gradient, E from the cost (batch: the mean over examples, eq. 86).

The single-example quantities (x, y^l, delta^l, ...) are the first example of the batch, derived with
beta = 1 so that the forms divide by nothing.

>>> from symbackprop.engine.spec import NetworkSpec
>>> p = Point(NetworkSpec.from_options("2,2", "sigmoid", "mse"), seed=0)
>>> p.quantity("W", 1).shape, p.quantity("delta", 1).shape, p.gradient("W", 1).shape
((2, 2), (2, 1), (2, 2))
"""
import random
from functools import cached_property

import sympy as sp

from symbackprop.engine import forms
from symbackprop.engine.jacobians import ColumnOfMatrices, derive

DIGITS = 60  # digits every quantity is computed to
BATCH = 3  # beta for batch claims on a network without a batch
EXACT_BATCH = 2  # beta at an exact (symbolic) point


class LayerOutside(Exception):
    """The claim names a layer this network does not have (l + 1 at l = L): the case is skipped."""


class NotMeaningful(Exception):
    """The claim names something this network does not have (a'(y) of a softmax layer)."""


class Point:
    """A network (a spec) at a random rational point; ``targets_sum_to_one`` normalizes z."""

    def __init__(self, spec, seed=0, targets_sum_to_one=False, exact=False):
        self.spec, self.seed, self.targets_sum_to_one, self.exact = spec, seed, targets_sum_to_one, exact
        self.derivation = derive(spec)
        self.network = self.derivation.network
        self.L, self.sizes = spec.depth, spec.sizes
        self.beta = spec.batch or BATCH
        rng = random.Random(f"{seed}:{spec.describe()}")

        def rational(lo, hi, q=16):
            return sp.Rational(rng.randint(int(lo * q), int(hi * q)) or 1, q)

        self.W = {l: sp.Matrix(self.sizes[l], self.sizes[l - 1], lambda i, j: rational(-1, 1))
                  for l in range(1, self.L + 1)}
        self.b = {l: sp.Matrix(self.sizes[l], 1, lambda i, j: rational(-0.5, 0.5)) for l in range(1, self.L + 1)}
        self.X = sp.Matrix(self.sizes[0], self.beta, lambda i, j: rational(-1, 1))
        unit = spec.cost.name in ("bce", "cross_entropy") or targets_sum_to_one
        Z = sp.Matrix(self.sizes[-1], self.beta, lambda i, j: rational(0.05, 0.95) if unit else rational(-1, 1))
        if targets_sum_to_one:
            Z = sp.Matrix(Z.rows, Z.cols, lambda i, j: Z[i, j] / sum(Z[:, j]))
        self.Z = Z
        if exact:  # symbols instead of numbers: every value is a formula in w, b, x, z (one example: beta = 2)
            net, self.beta = self.network, EXACT_BATCH
            self.W = {l: sp.Matrix(net.W(l)) for l in range(1, self.L + 1)}
            self.b = {l: sp.Matrix(net.b(l)) for l in range(1, self.L + 1)}
            self.X, self.Z = sp.Matrix(net.X(self.beta)), sp.Matrix(net.Z(self.beta))
        self._examples = {}

    def describe(self):
        text = self.spec.describe()
        if self.spec.batch is None:
            text += f" (batch claims: beta = {self.beta})"
        return text + (", targets summing to 1" if self.targets_sum_to_one else "")

    def point_text(self, batch=False):
        """The point, exactly: W^l, b^l, and x and z (one example) or X and Z (the batch)."""
        def show(m):
            return "[" + "; ".join(", ".join(str(v) for v in m.row(i)) for i in range(m.rows)) + "]"
        parts = [f"W^{l} = {show(self.W[l])}, b^{l} = {show(self.b[l].T)}^T" for l in range(1, self.L + 1)]
        if batch:
            return "; ".join(parts + [f"X = {show(self.X)}", f"Z = {show(self.Z)}"])
        return "; ".join(parts + [f"x = {show(self.X[:, 0].T)}^T", f"z = {show(self.Z[:, 0].T)}^T"])

    def number(self, value):
        """A value at 60 digits; at an exact point, the formula as it is."""
        return value if self.exact else value.evalf(DIGITS) if hasattr(value, "evalf") else sp.Float(value, DIGITS)

    # -- the forward pass and the backward forms, for the batch and for one example -------------------
    def _forward(self, X):
        Y, A = {}, {0: self.number(X)}
        for l in range(1, self.L + 1):
            Y[l] = self.number(self.W[l] * A[l - 1] + self.b[l] * sp.ones(1, X.cols))
            act = self.network.activations[l]
            cols = [act(list(Y[l][:, c])) for c in range(X.cols)]
            A[l] = sp.Matrix(Y[l].rows, X.cols, lambda i, c, cols=cols: self.number(cols[c][i]))
        return Y, A

    def _backward(self, Y, A, Z):
        beta = Y[1].cols
        M = self.derivation.matrices.at(beta)
        values = {M.Z: self.number(Z)}
        for l in range(self.L + 1):
            values[M.A(l)] = A[l]
            if l:
                values[M.Y(l)] = Y[l]
                values[M.W(l)] = self.W[l]
        Delta, dW, db = {}, {}, {}
        for l in range(self.L, 0, -1):
            form = self.derivation[l].delta_form.xreplace({forms.BETA: beta})
            Delta[l] = self.number(sp.Matrix(forms.explicit(form, values)))
            values[M.Delta(l)] = Delta[l]
            gW, gb = (g.xreplace({forms.BETA: beta}) for g in self.derivation[l].gradient_forms)
            dW[l], db[l] = (self.number(sp.Matrix(forms.explicit(g, values))) for g in (gW, gb))
        return {"Y": Y, "A": A, "Delta": Delta, "dW": dW, "db": db, "M": M, "values": values}

    @cached_property
    def batch(self):
        Y, A = self._forward(self.X)
        return self._backward(Y, A, self.Z)

    @cached_property
    def one(self):
        return self.example(0)

    def example(self, j):
        """The forward and backward pass of example j of the batch alone (beta = 1)."""
        if j not in self._examples:
            Y, A = self._forward(self.X[:, j])
            self._examples[j] = self._backward(Y, A, self.Z[:, j])
        return self._examples[j]

    # -- what names mean ---------------------------------------------------------------------------
    def layer(self, l, lowest=1, what="W"):
        if not isinstance(l, int) and not (isinstance(l, sp.Integer)):
            raise NotMeaningful(f"the layer of {what} must be a whole number, got {l}")
        l = int(l)
        if not lowest <= l <= self.L:
            raise LayerOutside(f"{what}^{l}: layers are {lowest}..{self.L}")
        return l

    def quantity(self, name, l=None, batch=False):
        """W, b, y, a, s, delta (one example) or Y, A, S, Delta, B (the batch) of layer l; x, z, X, Z, P."""
        v = self.batch if batch else self.one
        if name in ("W", "w"):
            return self.W[self.layer(l, what=name)]
        if name == "b":
            return self.b[self.layer(l, what=name)]
        if name == "B":
            return self.b[self.layer(l, what=name)] * sp.ones(1, self.beta)
        if name in ("y", "Y"):
            return v["Y"][self.layer(l, what=name)]
        if name in ("a", "A", "s", "S"):
            return v["A"][self.layer(l, 0 if name in "sS" else 1, what=name)]
        if name in ("delta", "Delta"):
            return v["Delta"][self.layer(l, what=name)]
        if name in ("x", "X"):
            return v["A"][0]
        if name in ("z", "Z"):
            return v["values"][v["M"].Z]
        if name == "P":
            return v["A"][self.L]
        raise KeyError(name)

    def error(self, batch=False, example=None):
        """E from the engine's cost (eq. 49); for a batch the mean over its examples (eq. 86); E_j of example j."""
        v = self.batch if batch and example is None else self.example(example or 0)
        A, Z = v["A"][self.L], v["values"][v["M"].Z]
        cost = self.network.cost
        return self.number(sp.Add(*[cost(list(A[:, c]), list(Z[:, c])) for c in range(A.cols)])) / A.cols

    def gradient(self, name, l, batch=False, example=None):
        """dE/dW^l or dE/db^l, shaped like the parameter (eq. 20-21, 66-68, 87-90); dE_j/dW^l of example j."""
        v = self.batch if batch and example is None else self.example(example or 0)
        return v["dW" if name in ("W", "w") else "db"][self.layer(l, what=name)]

    def dE_dy(self, l):
        """dE/dy^l, the 1 x n_l row whose transpose is delta^l (eq. 57-60)."""
        return self.one["Delta"][self.layer(l, what="y")].T

    def dE_da(self, l):
        """dE/da^l: the cost's gradient for l = L; dE/dy^{l+1} dy^{l+1}/da^l = dE/dy^{l+1} W^{l+1} below."""
        l = self.layer(l, what="a")
        if l == self.L:
            v = self.one
            return self.number(self.network.cost.gradient(list(v["A"][l]), list(v["values"][v["M"].Z])))
        return self.dE_dy(l + 1) * self.W[l + 1]

    def da_dy(self, l):
        """da^l/dy^l for one example: the derivation's Jacobian form (diagonal, or full for softmax)."""
        l = self.layer(l, what="a")
        M, v = self.one["M"], self.one
        form = self.derivation[l].jacobian_form(M)
        return self.number(sp.Matrix(forms.explicit(form, {M.Y(l): v["Y"][l], M.A(l): v["A"][l]})))

    def dy_dW(self, l):
        """dy^l/dW^l, the engine's column-vector of matrices (eq. 16-17)."""
        l = self.layer(l, what="y")
        return ColumnOfMatrices(self.one["A"][l - 1], self.sizes[l])

    def dy_db(self, l):
        return sp.Matrix(self.derivation[self.layer(l, what="y")].dy_db)

    def dy_ds(self, l):
        """dy^l/ds^{l-1} = W^l (eq. 41), from the layer derivation."""
        d = self.derivation[self.layer(l, what="y")].dy_ds
        return sp.Matrix(d.rows, d.cols, lambda i, j: self.W[l][i, j])

    def activation(self, l):
        return self.network.activations[self.layer(l, what="a")]

    # -- the conditions a claim may need ----------------------------------------------------------------
    def features(self, l=None):
        """The named conditions that hold here (judge.py looks for one that separates holds from fails)."""
        acts, cost = self.network.activations[1:], self.spec.cost.name
        out = acts[-1]
        found = ["the targets sum to 1" if self.targets_sum_to_one else "",
                 "the output layer is element-wise" if out.elementwise else "the output layer is softmax"]
        if l is not None:
            found += ["layer l is element-wise" if acts[l - 1].elementwise else "",
                      "l < L (hidden layers)" if l < self.L else "l = L (the output layer)"]
        found += [
            "every layer is element-wise" if all(a.elementwise for a in acts) else "",
            "one output unit (n_L = 1)" if self.sizes[-1] == 1 else "",
            f"the cost is {cost}",
            f"{out.label()} output with cost {cost}",
        ]
        return [f for f in found if f]  # in order of preference: judge.py names the first that separates

    def dimension_names(self, batch=False):
        """{size: its name in the book's notation} for the shapes of ill-formed claims."""
        names = {}
        for l, n in enumerate(self.sizes):
            names.setdefault(n, []).append(f"n_{l}" if l < self.L or l == 0 else "n_L")
        if batch:
            names.setdefault(self.beta, []).append("beta")
        return {n: "=".join(v) for n, v in names.items()}
