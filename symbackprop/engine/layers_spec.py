"""The spec of a network of layer kinds: ``input``, ``[[layers]]``, ``cost`` (TOML), or ``--arch`` (CLI).

The spec file (the old ``sizes``/``activations``/``cost`` form stays valid and reads as before)::

    input = 4                          # n_0, the features of one example
    cost = "cross_entropy"
    [[layers]]
    kind = "dense"
    size = 8
    activation = "tanh"
    [[layers]]
    kind = "layernorm"                 # eps = 1e-5 unless given
    [[layers]]
    kind = "residual"
    activation = "relu"
    [[layers]]
    kind = "dense"
    size = 3
    activation = "softmax"

The compact form of the command line writes the same network as ``--input 4 --arch "dense(8,tanh) layernorm
residual(relu) dense(3,softmax)" --loss cross_entropy``: layers separated by spaces, each a kind with optional
arguments in parentheses, positional in the order of the kind's keys (dense: size, activation; residual:
activation; layernorm: eps) or ``key=value``.  It is read by a regular expression and the activation grammar of
:func:`symbackprop.engine.spec.parse_activation`; nothing is evaluated.

Errors name the layer, the key and, in a file, the line.

>>> spec = LayeredSpec.from_arch("dense(8,tanh) layernorm residual(relu) dense(3,softmax)", "4", "cross_entropy")
>>> spec.describe()
'4 -> dense(8, tanh) -> layernorm -> residual(relu) -> dense(3, softmax), cost cross_entropy'
>>> spec.sizes, spec.n_params
((4, 8, 8, 8, 3), 155)
>>> LayeredSpec.from_arch("dense(8,tanh) residual(relu) dense(3,softmax)", "4", "mse")
LayeredSpec(4 -> dense(8, tanh) -> residual(relu) -> dense(3, softmax), cost mse)
>>> LayeredSpec.from_arch("dense(8,tanh) residual(size=3)", "4", "mse")
Traceback (most recent call last):
...
symbackprop.errors.SpecError: --arch: layer 2 (residual): unknown key 'size'; residual takes: activation
"""
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from symbackprop.engine import activations as act
from symbackprop.engine.layers import EPS, KINDS, Layer
from symbackprop.engine.spec import NetworkSpec, _split_calls, parse_activation, parse_cost
from symbackprop.errors import SpecError

_KEYS = {"input", "layers", "cost", "batch", "custom", "name"}
_LAYER = re.compile(r"([a-z][a-z0-9_]*)(\((.*)\))?\Z")


@dataclass(frozen=True)
class LayeredSpec:
    """n_0, the layers 1..L (:class:`~symbackprop.engine.layers.Layer`), the cost, and beta."""

    input: int
    layers: tuple
    cost: object
    batch: int | None = None
    name: str = field(default="network", compare=False)

    def __post_init__(self):
        if not self.layers:
            raise SpecError("a network needs at least one layer")
        last = self.layers[-1]
        if last.kind != "dense":
            raise SpecError(f"layer {last.l} ({last.kind}): the last layer must be dense (its activation gives the "
                            f"outputs the cost reads)")
        NetworkSpec((self.sizes[-2], self.sizes[-1]), (last.activation,), self.cost)  # the output/cost pair's checks

    @property
    def sizes(self):
        return (self.input, *(layer.n_out for layer in self.layers))

    @property
    def depth(self):
        return len(self.layers)

    @property
    def activations(self):
        """The activations of the layers that have one (dense, residual)."""
        return tuple(layer.activation for layer in self.layers if layer.activation is not None)

    @property
    def n_params(self):
        return sum(rows * cols for layer in self.layers for _, (rows, cols) in layer.params())

    def describe(self):
        text = " -> ".join([str(self.input)] + [layer.label() for layer in self.layers])
        return f"{text}, cost {self.cost.label()}" + (f", batch {self.batch}" if self.batch else "")

    def __repr__(self):
        return f"LayeredSpec({self.describe()})"

    # -- constructors -----------------------------------------------------------------------------------------
    @classmethod
    def from_arch(cls, arch, input_shape, loss, batch=None, custom_activations=(), custom_costs=()):
        """From ``--arch "dense(8,tanh) layernorm ..." --input 4 --loss mse``."""
        from symbackprop.engine.spec import _definition

        defs_a = dict(_definition(d, "--define-activation") for d in custom_activations)
        defs_c = dict(_definition(d, "--define-cost") for d in custom_costs)
        n0 = _positive(str(input_shape).strip(), "--input")
        tables = []
        for number, text in enumerate(_split_layers(str(arch)), start=1):
            m = _LAYER.match(text)
            if not m:
                raise SpecError(f"--arch, layer {number}: cannot read {text!r}; write kind or kind(arguments), "
                                f"e.g. dense(10,relu)")
            kind, args = m.group(1), m.group(3)
            if kind not in KINDS:
                raise SpecError(f"--arch, layer {number}: unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
            table = {"kind": kind}
            positional = list(KINDS[kind].keys)
            for part in _split_calls(args) if args and args.strip() else []:
                key, sep, value = part.partition("=")
                if sep and "(" not in key:
                    key, value = key.strip(), value.strip()
                else:
                    if not positional:
                        raise SpecError(f"--arch, layer {number} ({kind}): too many arguments; {kind} takes: "
                                        f"{', '.join(KINDS[kind].keys) or 'none'}")
                    key, value = positional[0], part.strip()
                if key in positional:
                    positional.remove(key)
                table[key] = value
            tables.append(table)
        return cls._build(n0, tables, parse_cost(loss, defs_c), defs_a, batch, "network", lambda l, key: "--arch")

    @classmethod
    def from_toml_text(cls, text, source="<spec>"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{source}: not valid TOML: {exc}") from None
        lines = _layer_lines(text)

        def where(l, key):
            block = lines[l - 1] if 0 < l <= len(lines) else {}
            line = block.get(key, block.get("[[layers]]"))
            return f"{source}, line {line}" if line else source

        for key in data:
            if key not in _KEYS:
                raise SpecError(f"{source}: unknown key {key!r}; allowed keys with [[layers]]: {', '.join(sorted(_KEYS))}")
        for key in ("input", "layers", "cost"):
            if key not in data:
                raise SpecError(f"{source}: missing key {key!r}")
        if not isinstance(data["layers"], list) or not all(isinstance(t, dict) for t in data["layers"]):
            raise SpecError(f"{source}: 'layers' must be tables written [[layers]]")
        n0 = data["input"]
        if isinstance(n0, list):
            raise SpecError(f"{source}: input {n0!r}: image inputs (channels, height, width) need conv2d, which this "
                            f"version does not derive yet; give the number of features")
        if isinstance(n0, bool) or not isinstance(n0, int) or n0 < 1:
            raise SpecError(f"{source}: 'input' must be a positive integer, got {n0!r}")
        if not isinstance(data["cost"], str):
            raise SpecError(f"{source}: 'cost' must be a string, got {data['cost']!r}")
        custom = data.get("custom", {})
        defs = {kind: (custom.get(kind, {}) if isinstance(custom, dict) else {}) for kind in ("activations", "costs")}
        if not isinstance(custom, dict) or not all(isinstance(t, dict) and all(isinstance(v, str) for v in t.values())
                                                   for t in defs.values()):
            raise SpecError(f"{source}: custom.activations and custom.costs must map names to formulas (strings)")
        batch = data.get("batch")
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
            raise SpecError(f"{source}: 'batch' must be a positive integer, got {batch!r}")
        name = data.get("name", Path(source).stem if source != "<spec>" else "network")
        if not isinstance(name, str):
            raise SpecError(f"{source}: 'name' must be a string")
        try:
            cost = parse_cost(data["cost"], defs["costs"])
        except SpecError as exc:
            raise SpecError(f"{source}: {exc}") from None
        return cls._build(n0, data["layers"], cost, defs["activations"], batch, name, where)

    @classmethod
    def _build(cls, n0, tables, cost, defs, batch, name, where):
        layers, n = [], n0
        for l, table in enumerate(tables, start=1):
            kind = table.get("kind")
            if kind not in KINDS:
                raise SpecError(f"{where(l, 'kind')}: layer {l}: unknown or missing kind {kind!r}; "
                                f"known kinds: {', '.join(KINDS)}")
            rule = KINDS[kind]

            def bad(key, why, l=l, kind=kind):
                return SpecError(f"{where(l, key)}: layer {l} ({kind}), key {key!r}: {why}")

            for key in table:
                if key != "kind" and key not in rule.keys:
                    raise SpecError(f"{where(l, key)}: layer {l} ({kind}): unknown key {key!r}; {kind} takes: "
                                    f"{', '.join(rule.keys) or 'none'}")
            options, activation, n_out = {}, None, n
            if "size" in rule.keys:
                if "size" not in table:
                    raise bad("size", "missing (the number of neurons)")
                n_out = _positive(table["size"], None)
                if n_out is None:
                    raise bad("size", f"must be a positive integer, got {table['size']!r}")
            if "activation" in rule.keys:
                if not isinstance(table.get("activation"), str):
                    raise bad("activation", f"missing or not a name, got {table.get('activation')!r}")
                try:
                    activation = parse_activation(table["activation"], defs)
                except SpecError as exc:
                    raise bad("activation", str(exc)) from None
                if not activation.elementwise and n_out < 2:
                    raise bad("activation", "softmax over a single neuron is the constant 1")
            if "eps" in table:
                try:
                    options["eps"] = act.number(str(table["eps"]), "eps")
                except SpecError as exc:
                    raise bad("eps", str(exc)) from None
                if options["eps"] <= 0:
                    raise bad("eps", f"must be positive, got {table['eps']!r}")
            if kind == "layernorm" and n < 2:
                raise bad("kind", "a layer norm over one feature is the constant h (its variance is 0)")
            layers.append(Layer(l, kind, n, n_out, activation, options))
            n = n_out
        try:
            return cls(n0, tuple(layers), cost, batch, name=name)
        except SpecError as exc:
            raise SpecError(f"{where(len(layers), 'activation')}: {exc}") from None


def _positive(value, option):
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,9}", value.strip()) and int(value) >= 1:
        return int(value)
    if option is None:
        return None
    raise SpecError(f"{option} must be a positive integer (the features of one example), got {value!r}")


def _split_layers(text):
    """'dense(8, tanh) layernorm' -> ['dense(8,tanh)', 'layernorm']: split at spaces outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text.strip():
        depth += (ch == "(") - (ch == ")")
        if ch.isspace() and depth == 0:
            if current:
                parts.append(current)
            current = ""
        elif not ch.isspace():
            current += ch
    if depth != 0:
        raise SpecError(f"--arch: unbalanced parentheses in {text!r}")
    if current:
        parts.append(current)
    if not parts:
        raise SpecError("--arch: no layers given, e.g. --arch \"dense(8,tanh) dense(1,sigmoid)\"")
    return parts


def _layer_lines(text):
    """For each [[layers]] table, {key: line} and its header's line under '[[layers]]'."""
    blocks = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if re.match(r"\[\[\s*layers\s*\]\]", stripped):
            blocks.append({"[[layers]]": number})
        elif stripped.startswith("["):
            blocks.append({})  # another table: keys below it are not a layer's
        elif blocks and (m := re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", stripped)):
            blocks[-1].setdefault(m.group(1), number)
    return [b for b in blocks if "[[layers]]" in b]


def read_spec_text(text, source="<spec>"):
    """A spec file's text as a :class:`LayeredSpec` when it has ``[[layers]]``, else as a NetworkSpec."""
    try:
        has_layers = "layers" in tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        has_layers = False
    return (LayeredSpec if has_layers else NetworkSpec).from_toml_text(text, source=source)


def read_spec(path):
    """Read a spec file of either form (see :func:`read_spec_text`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec file {str(path)!r}: {exc}") from None
    return read_spec_text(text, source=str(path))


__all__ = ["EPS", "LayeredSpec", "read_spec", "read_spec_text"]
