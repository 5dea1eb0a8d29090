"""The network spec: sizes, one activation per layer, one cost, an optional batch size.

A spec is read from a TOML file (standard-library ``tomllib``) or from the
command line's ``--layers/--activations/--loss``.  Every value is checked and a
wrong one is reported by name (and, for files, by line)::

    # mnist.toml -- the book's chapter 4 network
    sizes = [784, 128, 64, 10]          # n_0 (inputs), n_1, ..., n_L
    activations = ["relu", "relu", "sigmoid"]
    cost = "mse"
    batch = 32                          # optional: beta, the batch size (ch. 5)

    [custom.activations]                # optional user formulas in y
    softsign = "y / (1 + abs(y))"
    [custom.costs]                      # optional per-output terms in a and z
    quartic = "(a - z)^4"

Activations with parameters are written ``"leaky_relu(0.1)"``,
``"elu(alpha=0.5)"`` or ``"softmax(T=2)"``.

>>> spec = NetworkSpec.from_options("2,3,1", "tanh,sigmoid", "bce")
>>> spec.sizes, [a.name for a in spec.activations], spec.cost.name, spec.depth
((2, 3, 1), ['tanh', 'sigmoid'], 'bce', 2)
"""
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from symbackprop.engine import activations as act
from symbackprop.engine import costs as cst
from symbackprop.errors import SpecError
from symbackprop.support import budget
from symbackprop.support.budget import within

_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$")
_KEYS = {"sizes", "activations", "cost", "batch", "custom", "name"}


@dataclass(frozen=True)
class NetworkSpec:
    """What to build: n_0..n_L, the activations of layers 1..L, the cost, and beta."""

    sizes: tuple
    activations: tuple
    cost: object
    batch: int | None = None
    name: str = field(default="network", compare=False)

    def __post_init__(self):
        sizes = self.sizes
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise SpecError(f"sizes must list at least two layer sizes (inputs and outputs), got {sizes!r}")
        for i, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise SpecError(f"size {i} must be a positive integer, got {n!r}")
        object.__setattr__(self, "sizes", tuple(sizes))
        object.__setattr__(self, "activations", tuple(self.activations))
        if len(self.activations) != len(sizes) - 1:
            raise SpecError(
                f"{len(sizes)} sizes make {len(sizes) - 1} layer(s), so give {len(sizes) - 1} activation(s); "
                f"got {len(self.activations)}"
            )
        if self.batch is not None and (isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1):
            raise SpecError(f"batch must be a positive integer, got {self.batch!r}")
        for l, a in enumerate(self.activations, start=1):
            if not a.elementwise and sizes[l] < 2:
                raise SpecError(f"layer {l}: softmax over a single neuron is the constant 1; give it 2 or more neurons")
        self._check_cost_domain()

    def _check_cost_domain(self):
        """Refuse an output activation whose values break a condition of the cost (one rule for every pair).

        The conditions come from the cost's term (:attr:`Cost.conditions`: log needs a > 0, ...); the
        output's values are sampled at 50 digits on y in [-60, 60] (both sides of 0, steps of 1/8 up to
        |y| = 10, then the tails).  Softmax is sampled through one entry, e^{y/T} / (e^{y/T} + e^0).
        """
        out, cost = self.activations[-1], self.cost
        if not cost.conditions:
            return
        curve = out.formula if out.elementwise else out([act.Y, 0])[0]
        seconds = budget.DEFAULT_SECONDS if out.user or cost.user else None
        found = within(seconds, _first_break, curve, cost, fallback=False)
        if found is False:
            raise SpecError(f"cost {cost.name!r} with output activation {out.label()!r}: could not check within "
                            f"{seconds:g} s that the outputs stay where the cost is defined")
        if found is not None:
            y, value, broken = found
            what = "takes log of the output" if broken.startswith("log") else "is not defined for every output"
            raise SpecError(
                f"cost {cost.name!r} {what} ({broken}), but the {'custom ' * out.user}output activation {out.label()!r} gives "
                f"a({y}) = {value}; use sigmoid or softmax on the last layer"
            )

    @property
    def depth(self):
        """L, the number of layers with weights."""
        return len(self.sizes) - 1

    @property
    def n_params(self):
        return sum(m * n + n for m, n in zip(self.sizes, self.sizes[1:]))

    def describe(self):
        acts = ", ".join(a.label() for a in self.activations)
        text = f"{'-'.join(map(str, self.sizes))} [{acts}] cost {self.cost.label()}"
        return text + (f", batch {self.batch}" if self.batch else "")

    def to_dict(self):
        return {
            "sizes": list(self.sizes),
            "activations": [a.label() for a in self.activations],
            "cost": self.cost.label(),
            "batch": self.batch,
        }

    def to_toml(self, default=SpecError):
        """The spec as TOML text that :meth:`from_toml_text` reads back as this very spec.

        A spec no spec file can hold (a parameter like T = 1/3, given through the Python API) raises
        :class:`SpecError`, or returns ``default`` when one is given: ``spec.to_toml(default=None)``.

        Custom formulas are written as the user wrote them; parameters as exact decimals.  The text has no
        single quote and no backslash outside a string, so an emitted module can carry it in a raw
        string literal (its ``SPEC_TOML``).

        >>> spec = NetworkSpec.from_options("2,3,1", "leaky_relu(0.1),cube", "quartic",
        ...                                 custom_activations=["cube=y^3"], custom_costs=["quartic=(a-z)^4"])
        >>> print(spec.to_toml())
        name = "network"
        sizes = [2, 3, 1]
        activations = ["leaky_relu(alpha=0.1)", "cube"]
        cost = "quartic"
        <BLANKLINE>
        [custom.activations]
        cube = "y^3"
        <BLANKLINE>
        [custom.costs]
        quartic = "(a-z)^4"
        <BLANKLINE>
        >>> NetworkSpec.from_toml_text(spec.to_toml()) == spec
        True
        """
        try:
            return self._to_toml()
        except SpecError:
            if default is SpecError:
                raise
            return default

    def _to_toml(self):
        names = [_toml_string(_activation_text(a)) for a in self.activations]
        activations = f"activations = [{', '.join(names)}]"
        if len(activations) > 100:  # one a line, as a reader would write a long list
            activations = "activations = [\n" + "".join(f"    {n},\n" for n in names) + "]"
        lines = [f"name = {_toml_string(self.name)}", f"sizes = {list(self.sizes)}", activations,
                 f"cost = {_toml_string(self.cost.name)}"]
        if self.batch is not None:
            lines.append(f"batch = {self.batch}")
        text = "\n".join(lines + custom_tables(self.activations, self.cost)) + "\n"
        try:
            same = NetworkSpec.from_toml_text(text) == self
        except SpecError:
            same = False
        if not same:
            raise SpecError(f"the spec {self.describe()} cannot be written as a spec file that reads back the same")
        return text

    # -- constructors -------------------------------------------------------
    @classmethod
    def from_options(cls, layers, activations, loss, batch=None, custom_activations=(), custom_costs=()):
        """From the CLI's ``--layers 784,128,64,10 --activations relu,relu,sigmoid --loss mse``.

        ``custom_activations``/``custom_costs`` are ``NAME=FORMULA`` strings.
        """
        sizes = []
        for i, part in enumerate(str(layers).split(",")):
            part = part.strip()
            if not re.fullmatch(r"\d+", part) or int(part) < 1:
                raise SpecError(f"--layers: size {i} must be a positive integer, got {part!r}")
            sizes.append(int(part))
        defs_a = dict(_definition(d, "--define-activation") for d in custom_activations)
        defs_c = dict(_definition(d, "--define-cost") for d in custom_costs)
        names = _split_calls(activations)
        if len(names) == 1 and len(sizes) > 2:
            raise SpecError(
                f"--activations: {len(sizes) - 1} layers need {len(sizes) - 1} activations, got 1 "
                f"(repeat it: {','.join([names[0]] * (len(sizes) - 1))})"
            )
        acts = tuple(parse_activation(n, defs_a) for n in names)
        return cls(tuple(sizes), acts, parse_cost(loss, defs_c), batch)

    @classmethod
    def from_toml(cls, path):
        """Read a spec file; errors name the key and its line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(f"spec file {str(path)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read spec file {str(path)!r}: {exc}") from None
        return cls.from_toml_text(text, source=str(path))

    @classmethod
    def from_toml_text(cls, text, source="<spec>"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{source}: not valid TOML: {exc}") from None

        def where(key):
            line = _line_of(text, key)
            return f"{source}, line {line}" if line else source

        for key in data:
            if key not in _KEYS:
                raise SpecError(f"{where(key)}: unknown key {key!r}; allowed keys: {', '.join(sorted(_KEYS))}")
        for key in ("sizes", "activations", "cost"):
            if key not in data:
                raise SpecError(f"{source}: missing key {key!r}")
        sizes = data["sizes"]
        if not isinstance(sizes, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
            raise SpecError(f"{where('sizes')}: 'sizes' must be a list of positive integers, got {sizes!r}")
        activations = data["activations"]
        if isinstance(activations, str) or not isinstance(activations, list):
            raise SpecError(f"{where('activations')}: 'activations' must be a list of names, got {activations!r}")
        if not all(isinstance(a, str) for a in activations):
            raise SpecError(f"{where('activations')}: every activation must be a string, got {activations!r}")
        batch, name, defs = read_common_keys(data, source, where)
        try:
            acts = tuple(parse_activation(a, defs["activations"]) for a in activations)
            cost = parse_cost(data["cost"], defs["costs"])
            return cls(tuple(sizes), acts, cost, batch, name=name)
        except SpecError as exc:
            raise SpecError(f"{source}: {exc}") from None


def custom_tables(activations, cost):
    """The ``[custom.activations]`` and ``[custom.costs]`` lines a spec file needs for the user-defined activations
    and cost among these (none for the built-in ones): the written half of :func:`read_common_keys`."""
    lines = []
    customs = {a.name: _formula_text(a.formula, a.description, "a(y) = ") for a in activations
               if a.elementwise and a.name not in act.KNOWN}
    if customs:
        lines += ["", "[custom.activations]"] + [f"{k} = {_toml_string(v)}" for k, v in customs.items()]
    if cost.name not in cst.KNOWN:
        text = _formula_text(cost.term, cost.description, "term e(a, z) = ")
        lines += ["", "[custom.costs]", f"{cost.name} = {_toml_string(text)}"]
    return lines


def read_common_keys(data, source, where):
    """What every spec file may hold besides its network, checked: (batch, name, {"activations": {name: formula},
    "costs": {...}}) from ``batch``, ``name`` and ``[custom.activations]``/``[custom.costs]``; ``cost`` must be a
    string (it is read with the custom costs).  ``where(key)`` names the file and the key's line for messages.
    Shared by the perceptron spec and the spec of layer kinds (:mod:`symbackprop.engine.layers_spec`)."""
    if not isinstance(data["cost"], str):
        raise SpecError(f"{where('cost')}: 'cost' must be a string, got {data['cost']!r}")
    batch = data.get("batch")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise SpecError(f"{where('batch')}: 'batch' must be a positive integer, got {batch!r}")
    name = data.get("name", Path(source).stem if source != "<spec>" else "network")
    if not isinstance(name, str):
        raise SpecError(f"{where('name')}: 'name' must be a string, got {name!r}")
    custom = data.get("custom", {})
    if not isinstance(custom, dict):
        raise SpecError(f"{where('custom')}: 'custom' must be a table")
    for key in custom:
        if key not in ("activations", "costs"):
            raise SpecError(f"{where(f'custom.{key}')}: unknown key custom.{key}; allowed: custom.activations, custom.costs")
    defs = {}
    for kind in ("activations", "costs"):
        table = custom.get(kind, {})
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise SpecError(f"{where(f'custom.{kind}')}: custom.{kind} must map names to formulas (strings)")
        defs[kind] = table
    return batch, name, defs


_GRID = sorted({sp.Rational(k, 8) for k in range(-80, 81)} | {sp.Integer(v) * sign for v in (15, 20, 30, 40, 60)
                                                                for sign in (1, -1)}, key=lambda y: (abs(y), y))


def _first_break(curve, cost):
    """(y, a(y) to 6 digits, the broken condition) at the grid point nearest 0 that breaks one; else None."""
    for y in _GRID:
        value = curve.xreplace({act.Y: y})  # exact: cost.breaks evaluates it with the digits it needs
        broken = cost.breaks(value)
        if broken:
            return y, sp.N(value, 6), broken
    return None


def _line_of(text, key):
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*(\[+\s*)?{re.escape(key)}\b", line):
            return number
    return None


def _definition(text, option):
    name, sep, formula = str(text).partition("=")
    if not sep:
        raise SpecError(f"{option} takes NAME=FORMULA, got {text!r}")
    return name.strip(), formula.strip()


def _split_calls(text):
    """Split 'relu,leaky_relu(0.1),softmax(T=2)' at the commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in str(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def parse_activation(text, custom=None):
    """``'relu'``, ``'leaky_relu(0.1)'``, ``'softmax(T=2)'`` or a custom name -> Activation.

    >>> parse_activation("elu(alpha=0.5)").formula
    Piecewise((y, y > 0), (exp(y)/2 - 1/2, True))
    """
    custom = custom or {}
    clash = sorted(set(custom) & (set(act.KNOWN) | set(act._ALIASES)))
    if clash:
        raise SpecError(f"custom activation {clash[0]!r} would replace the built-in one; choose another name")
    m = _CALL.match(text)
    if not m:
        raise SpecError(f"cannot read activation {text!r}: write a name, optionally with parameters, e.g. elu(1.0)")
    name, args = m.group(1), m.group(2)
    if name in custom:
        if args is not None:
            raise SpecError(f"custom activation {name!r} takes no parameters")
        return act.custom_activation(name, custom[name])
    if name not in act.KNOWN and name not in act._ALIASES:
        known = ", ".join(act.KNOWN + tuple(sorted(custom)))
        raise SpecError(f"unknown activation {name!r}; known activations: {known}")
    params = {}
    if args is not None and args.strip():
        positional = {"leaky_relu": "alpha", "elu": "alpha", "softmax": "temperature"}
        for part in args.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                key, value = positional.get(name), key
                if key is None:
                    raise SpecError(f"activation {name!r} takes no parameters, got {text!r}")
            params[key.strip()] = value.strip()
    return act.get_activation(name, **params)


def parse_cost(text, custom=None):
    custom = custom or {}
    clash = sorted(set(custom) & (set(cst.KNOWN) | set(cst._ALIASES)))
    if clash:
        raise SpecError(f"custom cost {clash[0]!r} would replace the built-in one; choose another name")
    name = str(text).strip()
    if name in custom:
        return cst.custom_cost(name, custom[name])
    try:
        return cst.get_cost(name)
    except SpecError:
        known = ", ".join(cst.KNOWN + tuple(sorted(custom)))
        raise SpecError(f"unknown cost {name!r}; known costs: {known}") from None


def _toml_string(text):
    """A TOML basic string: JSON's escapes (a subset of TOML's), and no single quote (written \\u0027)."""
    import json

    return json.dumps(str(text), ensure_ascii=False).replace("'", "\\u0027")


def _activation_text(activation):
    """The activation as a spec writes it, parameters as exact decimals: ``leaky_relu(alpha=0.1)``."""
    if not activation.params:
        return activation.name
    return f"{activation.name}({', '.join(f'{k}={_decimal(v)}' for k, v in activation.params)})"


def _decimal(value):
    """An exact decimal for a rational whose denominator is 2^i 5^j (what :func:`act.number` reads back)."""
    value = act.number(value, "parameter")
    digits = next((k for k in range(31) if (value * 10 ** k).q == 1), None)
    if digits is None:
        raise SpecError(f"parameter {value} has no exact decimal form of at most 30 digits; a spec file cannot hold it")
    whole = str(abs(int(value * 10 ** digits))).rjust(digits + 1, "0")
    return ("-" if value < 0 else "") + (whole[:-digits] + "." + whole[-digits:] if digits else whole)


def _formula_text(formula, description, prefix):
    """The user's text of a custom formula (kept in its description), else SymPy's, in the grammar's names."""
    if description.startswith(prefix):
        return description[len(prefix):]
    import sympy as sp

    text = sp.sstr(formula)
    for sympy_name, name in (("Abs", "abs"), ("Max", "max"), ("Min", "min"), ("E", "e")):
        text = re.sub(rf"\b{sympy_name}\b", name, text)
    return text
