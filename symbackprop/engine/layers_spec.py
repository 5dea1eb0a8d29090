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
from symbackprop.engine.layers import EPS, KINDS, VECTOR_KINDS, Layer
from symbackprop.engine.spec import (
    NetworkSpec,
    _line_of,
    _split_calls,
    parse_activation,
    parse_cost,
    read_common_keys,
)
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
    input_shape: tuple | None = None  # (c, h, w) or (c, length) for channels; None: (input,)

    def __post_init__(self):
        if self.input_shape is None:
            object.__setattr__(self, "input_shape", (self.input,))
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
        first = "x".join(map(str, self.input_shape))
        text = " -> ".join([first] + [layer.label() for layer in self.layers])
        return f"{text}, cost {self.cost.label()}" + (f", batch {self.batch}" if self.batch else "")

    def __repr__(self):
        return f"LayeredSpec({self.describe()})"

    def to_toml(self, default=SpecError):
        """The spec as ``[[layers]]`` TOML text that :meth:`from_toml_text` reads back as this very spec
        (:func:`symbackprop.engine.layers_toml.to_toml`); a spec no spec file can hold raises :class:`SpecError`,
        or returns ``default`` when one is given."""
        from symbackprop.engine.layers_toml import to_toml

        try:
            return to_toml(self)
        except SpecError:
            if default is SpecError:
                raise
            return default

    # -- constructors -----------------------------------------------------------------------------------------
    @classmethod
    def from_arch(cls, arch, input_shape, loss, batch=None, custom_activations=(), custom_costs=()):
        """From ``--arch "dense(8,tanh) layernorm ..." --input 4 --loss mse``."""
        from symbackprop.engine.spec import _definition

        defs_a = dict(_definition(d, "--define-activation") for d in custom_activations)
        defs_c = dict(_definition(d, "--define-cost") for d in custom_costs)
        n0 = _shape(str(input_shape).strip(), "--input")
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
        n0 = _shape(data["input"], f"{source}, line {_line_of(text, 'input')}: 'input'")

        def at(key):
            line = _line_of(text, key)
            return f"{source}, line {line}" if line else source

        batch, name, defs = read_common_keys(data, source, at)
        try:
            cost = parse_cost(data["cost"], defs["costs"])
        except SpecError as exc:
            raise SpecError(f"{source}: {exc}") from None
        return cls._build(n0, data["layers"], cost, defs["activations"], batch, name, where)

    @classmethod
    def _build(cls, shape0, tables, cost, defs, batch, name, where):
        layers, shape = [], shape0
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
            options, activation = {"in_shape": shape}, None
            if "activation" in rule.keys:
                if not isinstance(table.get("activation"), str):
                    raise bad("activation", f"missing or not a name, got {table.get('activation')!r}")
                try:
                    activation = parse_activation(table["activation"], defs)
                except SpecError as exc:
                    raise bad("activation", str(exc)) from None
            if "eps" in table:
                try:
                    options["eps"] = act.number(str(table["eps"]), "eps")
                except SpecError as exc:
                    raise bad("eps", str(exc)) from None
                if options["eps"] <= 0:
                    raise bad("eps", f"must be positive, got {table['eps']!r}")
            out = _out_shape(kind, table, shape, options, bad)
            if activation is not None and not activation.elementwise and (len(out) > 1 or out[0] < 2):
                raise bad("activation", "softmax needs a vector of 2 or more neurons" if len(out) == 1 else
                          "softmax on channels is not derived; use it on a dense layer")
            options["out_shape"] = out
            layers.append(Layer(l, kind, _size(shape), _size(out), activation, options))
            shape = out
        try:
            return cls(_size(shape0), tuple(layers), cost, batch, name=name, input_shape=shape0)
        except SpecError as exc:
            raise SpecError(f"{where(len(layers), 'activation')}: {exc}") from None


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _out_shape(kind, table, shape, options, bad):
    """The layer's output shape, and its window geometry in ``options``; refuses what cannot be built."""
    if kind == "flatten":
        return (_size(shape),)
    if kind in VECTOR_KINDS:
        if len(shape) > 1:
            raise bad("kind", f"reads a vector but gets a signal of shape {shape}; put a flatten before it")
        if kind == "dense":
            if "size" not in table:
                raise bad("size", "missing (the number of neurons)")
            return (_int(table["size"], bad, "size"),)
        if kind == "layernorm" and shape[0] < 2:
            raise bad("kind", "a layer norm over one feature is the constant h (its variance is 0)")
        return shape
    needed = 2 if kind == "conv1d" else 3
    if len(shape) != needed:
        what = "(channels, length)" if needed == 2 else "(channels, height, width)"
        raise bad("kind", f"reads a {what} signal but gets shape {shape}")
    c, h, w = (shape[0], 1, shape[1]) if needed == 2 else shape
    if kind in ("conv2d", "conv1d"):
        for key in ("channels", "kernel"):
            if key not in table:
                raise bad(key, "missing")
        c_out = _int(table["channels"], bad, "channels")
        kh, kw = _kernel(table["kernel"], bad) if kind == "conv2d" else (1, _int(table["kernel"], bad, "kernel"))
        s = _int(table.get("stride", 1), bad, "stride")
        p = _int(table.get("padding", 0), bad, "padding", zero=True)
        ph = p if kind == "conv2d" else 0
        key = "kernel"
    else:
        size = _int(table.get("size", 0), bad, "size") if "size" in table else None
        if size is None:
            raise bad("size", "missing (the window is size x size)")
        c_out, kh, kw, ph, p = c, size, size, 0, 0
        s = _int(table.get("stride", size), bad, "stride")
        key = "size"
    if kh > h + 2 * ph or kw > w + 2 * p:
        raise bad(key, f"the window {kh}x{kw} is larger than the (padded) input {h + 2 * ph}x{w + 2 * p}")
    g = (c, h, w, c_out, kh, kw, s if kind != "conv1d" else 1, s, ph, p)
    options["geometry"] = g
    from symbackprop.engine.conv import geometry_sizes

    oh, ow = geometry_sizes(g)
    return (c_out, ow) if kind == "conv1d" else (c_out, oh, ow)


def _int(value, bad, key, zero=False):
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,6}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        raise bad(key, f"must be a {'non-negative' if zero else 'positive'} integer, got {value!r}")
    return value


def _kernel(value, bad):
    """3, "3", "3x2" or [3, 2] -> (kh, kw)."""
    if isinstance(value, str) and "x" in value:
        value = value.split("x", 1)
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise bad("kernel", f"give one size or [height, width], got {value!r}")
        return _int(value[0], bad, "kernel"), _int(value[1], bad, "kernel")
    k = _int(value, bad, "kernel")
    return k, k


def _shape(value, where):
    """The input: n features, or (c, length), or (c, h, w): an int, a list, or "1,8,8" on the command line."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
        if all(re.fullmatch(r"\d{1,7}", v) for v in value):
            value = [int(v) for v in value]
    value = value if isinstance(value, list) else [value]
    if not 1 <= len(value) <= 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise SpecError(f"{where} must be the features n, or [channels, length], or [channels, height, width] "
                        f"(positive integers), got {value!r}")
    return tuple(value)


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
