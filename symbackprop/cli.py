"""The ``symbackprop`` command line (also ``python -m symbackprop``): the one door.

Every command and every option is defined in this module, and only here; each command is a
small function that imports the module doing the work when it runs (imports go downward,
cli -> modules, never back).  So ``symbackprop --help`` always lists every command, and a
command whose code or optional extra is missing says so in one line instead of vanishing.

=============  ===========================================  ==============================
command        what it does                                 implemented in
=============  ===========================================  ==============================
derive         every per-layer derivative; ``--latex``      engine, text, latex
verify         direct = chain = outer, layer by layer       verification
prove          the identities for every size (symbolic)     proofs
emit           a standalone NumPy training module           emission
verify-book    the book's claims, one by one                book
check          the equations of your own LaTeX/Markdown     claims
demo           the book end to end, into one folder         demo.run
plot           a picture (the ``plot`` extra: matplotlib)   demo.plots
=============  ===========================================  ==============================

Exit status: 0 success (for ``verify``: every identity holds), 1 a check failed,
2 bad input or a missing extra (the message names the problem), 130 interrupted.

>>> sorted(build_parser()._subparsers._group_actions[0].choices)
['check', 'demo', 'derive', 'emit', 'plot', 'prove', 'verify', 'verify-book']
"""
import argparse
import json
import os
import sys
from pathlib import Path

from symbackprop import __version__
from symbackprop.errors import SymbackpropError

#: Optional extras: the importable module -> the extra of symbackprop that installs it.
EXTRAS = {"matplotlib": "plot", "tqdm": "progress"}
#: Choices and defaults the parser needs before any command module is imported; tests/test_cli.py
#: checks each against the module that uses it (codegen.DTYPES, book.FORMATS, demo.DEFAULT_FOLDER, ...).
DTYPES = ("float64", "float32")
STYLES = ("fast", "book")
BOOK_FORMATS = ("text", "md", "json", "tex")
CHECK_FORMATS = ("text", "md", "json", "tex")  # claims.output.FORMATS
PROGRESS_FROM = 20  # displays in a file from which check shows its progress
PLOT_KINDS = ("activations", "vanishing", "cost", "descent", "jacobians")
DEMO_FOLDER = "symbackprop-demo"
EXPLICIT_MAX_LIMIT = 10


def install_hint(extra):
    """The one line that says how to get an optional extra."""
    return f'pip install "symbackprop[{extra}]"'


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"symbackprop: error: {message}\n")


# -- the network: a spec file, or --layers/--activations/--loss -----------------------------------
def add_spec_arguments(parser):
    """SPEC file or --layers/--activations/--loss, shared by every command that takes a network."""
    group = parser.add_argument_group("network (a spec file, or the three options)")
    group.add_argument("spec", nargs="?", help="TOML spec file (see README.md, 'Commands')")
    group.add_argument("--layers", help="sizes including the input, e.g. 784,128,64,10")
    group.add_argument("--activations", help="one per layer, e.g. relu,relu,sigmoid or leaky_relu(0.1)")
    group.add_argument("--loss", "--cost", dest="loss", help="mse, mae, cross_entropy or bce")
    group.add_argument("--batch", type=int, help="batch size beta (adds the batch forms of ch. 5)")
    group.add_argument("--arch", help='layer kinds instead of --layers/--activations, e.g. '
                       '"dense(8,tanh) layernorm residual(relu) dense(3,softmax)" (docs/layers.md)')
    group.add_argument("--input", help="with --arch: the features of one example, e.g. 4")
    group.add_argument("--define-activation", action="append", default=[], metavar="NAME=FORMULA",
                       help="a custom element-wise activation in y, e.g. 'softsign=y/(1+abs(y))'")
    group.add_argument("--define-cost", action="append", default=[], metavar="NAME=FORMULA",
                       help="a custom per-output cost term in a and z, e.g. 'quartic=(a-z)^4'")


def spec_from_args(args):
    """The NetworkSpec named by the arguments of :func:`add_spec_arguments`."""
    from symbackprop.engine.spec import NetworkSpec

    flags = [args.layers, args.activations, args.loss]
    arch = getattr(args, "arch", None)
    if args.spec and (any(flags) or arch):
        raise SymbackpropError("give either a spec file or --layers/--activations/--loss (or --arch), not both")
    if args.spec:
        from dataclasses import replace

        from symbackprop.engine.layers_spec import read_spec

        spec = read_spec(args.spec)
        if args.batch is not None:
            spec = replace(spec, batch=args.batch, name=spec.name)
        return spec
    if arch or getattr(args, "input", None):
        from symbackprop.engine.layers_spec import LayeredSpec

        if args.layers or args.activations:
            raise SymbackpropError("--arch replaces --layers/--activations; give one or the other")
        if not (arch and args.input and args.loss):
            raise SymbackpropError("--arch needs --input (the features of one example) and --loss")
        return LayeredSpec.from_arch(arch, args.input, args.loss, args.batch, args.define_activation,
                                     args.define_cost)
    if not all(flags):
        missing = [n for n, v in zip(("--layers", "--activations", "--loss"), flags) if not v]
        raise SymbackpropError(f"no network given: pass a spec file, or all of --layers/--activations/--loss "
                               f"(missing {', '.join(missing)})")
    return NetworkSpec.from_options(args.layers, args.activations, args.loss, args.batch,
                                    args.define_activation, args.define_cost)


def _network_given(args):
    return bool(args.spec or args.layers or args.activations or args.loss or getattr(args, "arch", None))


def _layered(spec):
    """Whether the spec is a network of layer kinds ([[layers]] or --arch), read by the layered modules."""
    from symbackprop.engine.layers_spec import LayeredSpec

    return isinstance(spec, LayeredSpec)


def _cmd_derive_layered(args, spec):
    from symbackprop.engine.layered import LayeredDerivation
    from symbackprop.text_layers import layered_json, layered_text

    derivation = LayeredDerivation(spec)
    if args.latex or args.pdf:
        from symbackprop.latex.layers import handle_layered_derive_args

        return handle_layered_derive_args(args, derivation)
    print(json.dumps(layered_json(derivation), indent=2) if args.json else layered_text(derivation, args.verbose))
    return 0


# -- the commands -------------------------------------------------------------------------------------
def _cmd_derive(args):
    from symbackprop.engine.jacobians import derive
    from symbackprop.text import derivation_json, derivation_text

    spec = spec_from_args(args)
    if _layered(spec):
        return _cmd_derive_layered(args, spec)
    derivation = derive(spec)
    if args.latex or args.pdf:
        from symbackprop.latex.document import handle_derive_args

        return handle_derive_args(args, derivation)
    if args.json:
        print(json.dumps(derivation_json(derivation), indent=2))
    else:
        print(derivation_text(derivation, verbose=args.verbose))
    return 0


def _cmd_verify(args):
    from symbackprop.engine.jacobians import derive
    from symbackprop.verification.verify import verify

    if args.emitted:  # the emitted module's own loss and gradients against the derivation; SPEC is optional
        from symbackprop.verification.emitted import load_module
        from symbackprop.verification.emitted_layers import emitted_checker

        if args.method != "auto":
            raise SymbackpropError("--method applies to the derivation; --emitted always compares at --digits digits")
        spec = spec_from_args(args) if _network_given(args) else None
        module = load_module(args.emitted)
        check = emitted_checker(module, args.emitted, spec)  # a perceptron module, or a module of layer kinds
        report = check(args.emitted, spec, args.seed, args.digits, module=module)
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
        return 0 if report.passed else 1
    spec = spec_from_args(args)
    if _layered(spec):
        from symbackprop.engine.layered import LayeredDerivation
        from symbackprop.verification.layers import verify_layers

        report = verify_layers(LayeredDerivation(spec), method=args.method, seed=args.seed, digits=args.digits,
                               progress=not args.json and sys.stderr.isatty())
    else:
        report = verify(derive(spec), method=args.method, seed=args.seed, digits=args.digits,
                        progress=not args.json and sys.stderr.isatty())
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
    return 0 if report.passed else 1


def _cmd_prove(args):
    from symbackprop.proofs import prove_all, summary

    try:
        depths = tuple(int(d) for d in args.depths.split(","))
    except ValueError:
        raise SymbackpropError(f"--depths takes comma-separated integers, got {args.depths!r}") from None
    proofs = prove_all(depths=depths)
    if args.kinds:
        from symbackprop.proofs.kinds import prove_kinds

        proofs += prove_kinds()
    if args.json:
        print(json.dumps([p.to_dict() for p in proofs], indent=2))
    else:
        print("\n\n".join(p.text() for p in proofs))
        print("\n" + summary(proofs))
    return 0 if all(p.proved for p in proofs) else 1


def _cmd_emit(args):
    from symbackprop.emission.codegen import emit, emit_perceptron, write_atomic
    from symbackprop.errors import SpecError

    spec = spec_from_args(args)
    if _layered(spec):
        from symbackprop.emission.layers import emit_layers

        if args.perceptron_rule:
            raise SpecError("--perceptron-rule emits one step layer, not a network of layer kinds")
        if args.style != "fast":
            raise SpecError("--style book is the perceptron's per-example loop; a network of layer kinds is emitted "
                            "in one style (its lines name the derivation's matrices, as the LaTeX document does)")
        source = emit_layers(spec, args.dtype, args.template)
    elif args.perceptron_rule:
        if spec.depth != 1 or spec.activations[0].name != "step":
            raise SpecError("--perceptron-rule emits one step layer: give e.g. --layers 2,1 --activations step")
        source = emit_perceptron(spec.sizes[0], spec.sizes[1], args.dtype, args.template)
    else:
        source = emit(spec, args.dtype, args.template, args.style)
    if args.output in (None, "-"):
        print(source, end="")
    else:
        write_atomic(args.output, source, args.force)
        print(f"wrote {args.output}")
    return 0


def _cmd_verify_book(args):
    from symbackprop.book import audit as book

    if args.show:
        outcome = book.audit([args.show])[0]
        print(book.show(args.show, outcome), end="")
        return 1 if outcome.verdict == book.BROKEN else 0
    outcomes = book.audit(args.only)
    text = book.FORMATS[args.format or "text"](outcomes)
    if args.output:
        book.write_atomically(args.output, text)
        print(book._totals(outcomes), file=sys.stderr)
    else:
        print(text, end="")
    return 1 if any(o.verdict == book.BROKEN for o in outcomes) else 0


def _cmd_check(args):
    from symbackprop.claims.check import check_text
    from symbackprop.claims.extract import displays
    from symbackprop.claims.output import FORMATS
    from symbackprop.support.progress import bar

    path = Path(args.file)
    try:
        document = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SymbackpropError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    kind = "md" if path.suffix.lower() in (".md", ".markdown") else "tex"
    if args.output:
        from symbackprop.support.files import check_output_path

        check_output_path(args.output, args.force, "report.txt")
    spec = spec_from_args(args) if _network_given(args) else None
    total = len(displays(document, kind))
    shown = bar(total, f"check {path.name}") if total >= PROGRESS_FROM else None  # a long file
    try:
        report = check_text(document, kind=kind, spec=spec, seed=args.seed, exact=args.exact,
                            progress=shown and (lambda done, total: shown.update()))
    finally:
        if shown is not None:
            shown.close()
    out = FORMATS[args.format](report, document)
    if args.output:
        from symbackprop.support.files import write_atomic

        write_atomic(args.output, out, force=args.force)
        from symbackprop.claims.output import summary

        print(f"wrote {args.output}: {summary(report)}", file=sys.stderr)
    else:
        print(out, end="")
    return 1 if report.failed else 0


def _cmd_demo(args):
    from symbackprop.demo.run import run_demo

    folder = Path(args.out)
    try:
        run_demo(folder, args.force)
    except KeyboardInterrupt:
        print(f"symbackprop demo: interrupted; files finished so far are complete in {folder}/, nothing "
              f"half-written was left", file=sys.stderr)
        return 130
    return 0


def _pair(text):
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise SymbackpropError(f"--start takes two numbers like 4,3; got {text!r}") from None
    return a, b


def _cmd_plot(args):
    from symbackprop.demo import plots

    plots.require_matplotlib()
    kind = args.kind
    if args.steps is not None and not 1 <= args.steps <= 10_000:
        raise SymbackpropError(f"--steps must be between 1 and 10000, got {args.steps}")
    if kind == "activations":
        names = args.names.split(",") if args.names else plots.ELEMENTWISE
        fig = plots.activations_figure([n.strip() for n in names])
    elif kind == "vanishing":
        fig = plots.vanishing_gradient_figure(args.steps or 10)
    elif kind == "cost":
        if not args.history:
            raise SymbackpropError("plot cost needs --history FILE (one cost per epoch)")
        fig = plots.cost_figure(plots.read_history(args.history))
    elif kind == "descent":
        if not 0 < args.lr < 1e6:
            raise SymbackpropError(f"--lr must be positive, got {args.lr}")
        fig = plots.descent_figure(args.loss_surface, _pair(args.start), args.lr, args.steps or 20)
    else:
        from symbackprop.engine.jacobians import derive

        spec = spec_from_args(args) if _network_given(args) else None
        if spec is not None and _layered(spec):
            raise SymbackpropError("plot jacobians draws perceptron layers; give --layers/--activations/--loss")
        fig = plots.sparsity_figure(derive(spec) if spec is not None else None)
    path = plots.save(fig, args.output or f"{kind}.png", args.force)
    print(f"wrote {path}")
    return 0


# -- the parser: every command and option ------------------------------------------------------------
def _derive_parser(sub):
    p = sub.add_parser("derive", help="print every per-layer derivative of a network")
    add_spec_arguments(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-v", "--verbose", action="store_true", help="print the Jacobian entries too")
    group = p.add_argument_group("LaTeX document (see docs/latex.md)")
    group.add_argument("--latex", metavar="OUT.tex", help="write the whole derivation as a LaTeX document")
    group.add_argument("--explicit-max", type=int, default=4, metavar="N",
                       help=f"write matrices explicitly up to N rows/columns (1..{EXPLICIT_MAX_LIMIT}, default 4)")
    kind = group.add_mutually_exclusive_group()
    kind.add_argument("--standalone", dest="standalone", action="store_true", default=True,
                      help="a complete document (default)")
    kind.add_argument("--fragment", dest="standalone", action="store_false",
                      help="a fragment to \\input (needs amsmath, amssymb, xcolor)")
    group.add_argument("--pdf", action="store_true", help="also run pdflatex and report where the PDF is")
    group.add_argument("--force", action="store_true", help="overwrite an existing OUT.tex")
    group.add_argument("--allow-failed", action="store_true",
                       help="write the document even if the verification fails (marked in red)")
    p.set_defaults(func=_cmd_derive)


def _verify_parser(sub):
    p = sub.add_parser("verify", help="check direct = chain = outer-product gradients, layer by layer")
    add_spec_arguments(p)
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--method", choices=("auto", "exact", "high-precision"), default="auto",
                   help="exact symbolic zero (small networks) or high-precision evaluation (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random evaluation points")
    p.add_argument("--digits", type=int, default=50, help="significant digits of the high-precision method")
    p.add_argument("--emitted", metavar="MODEL.py", help="check this emitted module's own loss and gradients "
                   "against the derivation (the spec is read from the module unless given)")
    p.set_defaults(func=_cmd_verify)


def _prove_parser(sub):
    p = sub.add_parser("prove", help="prove the backprop identities for every size and depth (symbolic sizes)")
    p.add_argument("--depths", default="1,2,3", help="depths of the direct composed-error proofs (default 1,2,3)")
    p.add_argument("--json", action="store_true", help="machine-readable proofs")
    p.add_argument("--kinds", action="store_true",
                   help="also prove the identities of the layer kinds (residual recursion, layer norm Jacobian)")
    p.set_defaults(func=_cmd_prove)


def _emit_parser(sub):
    p = sub.add_parser("emit", help="write a standalone NumPy module that trains the network")
    add_spec_arguments(p)
    p.add_argument("-o", "--output", help="file to write (default: print to standard output)")
    p.add_argument("--dtype", choices=DTYPES, default="float64", help="floating type of the module (default float64)")
    p.add_argument("--style", choices=STYLES, default="fast",
                   help="fast (default): every array allocated once, for training; book: the book's loop in plain "
                   "NumPy, equation numbers in the comments, to read beside the book (same functions, same derivation)")
    p.add_argument("--template", help="your own Jinja2 template (same variables as templates/train_module.py.j2, "
                   "or train_module_book.py.j2 with --style book)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--perceptron-rule", action="store_true",
                   help="emit Rosenblatt's perceptron rule for a single step layer instead of backprop")
    p.set_defaults(func=_cmd_emit)


def _verify_book_parser(sub):
    p = sub.add_parser("verify-book", help='check the equations, tables and listings of "When Equations Learn" '
                       "(and the tutorial), claim by claim")
    p.add_argument("--format", choices=BOOK_FORMATS, default=None,
                   help="text table (default), or the full report in Markdown, JSON or LaTeX")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")
    p.add_argument("--only", nargs="+", metavar="ID", help="check only these claims")
    p.add_argument("--show", metavar="ID", help="one claim in full: statement, check, evidence")
    p.set_defaults(func=_cmd_verify_book)


def _check_parser(sub):
    p = sub.add_parser("check", help="check the backprop equations of your own LaTeX or Markdown file, "
                       "each against the engine's derivation (see docs/check.md)")
    p.add_argument("file", metavar="FILE", help=".tex or .md file whose displayed equations are the claims")
    add_spec_arguments(p)
    p.add_argument("--format", choices=CHECK_FORMATS, default="text",
                   help="text (default), md, json, or tex: your document with a verdict beside each equation")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")
    p.add_argument("--force", action="store_true", help="overwrite an existing output FILE")
    p.add_argument("--seed", type=int, default=0, help="seed of the random points (default 0)")
    p.add_argument("--exact", action="store_true", help="also prove each claim that holds for every value of the "
                   "symbols of the smallest network it holds on (slower)")
    p.set_defaults(func=_cmd_check)


def _demo_parser(sub):
    p = sub.add_parser("demo", help="walk the book end to end: games, derivations, LaTeX, training, XOR, audit "
                       "(about 15-20 s)")
    p.add_argument("--out", default=DEMO_FOLDER, metavar="DIR",
                   help=f"folder to write into (default ./{DEMO_FOLDER}; created if missing)")
    p.add_argument("--force", action="store_true",
                   help="write into a folder that already holds files (replaces only the demo's files)")
    p.set_defaults(func=_cmd_demo)


def _plot_parser(sub):
    p = sub.add_parser("plot", help="draw a picture: activations, vanishing, cost, descent, jacobians "
                       f"(needs matplotlib: {install_hint('plot')})")
    p.add_argument("kind", choices=PLOT_KINDS, metavar="KIND", help=f"one of {', '.join(PLOT_KINDS)}")
    p.add_argument("-o", "--output", metavar="FILE", help="PNG, SVG or PDF file (default KIND.png)")
    p.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    p.add_argument("--names", help="activations: which ones, comma-separated (default every element-wise one)")
    p.add_argument("--history", metavar="FILE", help="cost: a file of numbers, one cost per epoch")
    p.add_argument("--loss-surface", default="w1**2 + w2**2", metavar="EXPR",
                   help="descent: a loss in w1 and w2 (default w1**2 + w2**2)")
    p.add_argument("--start", default="4,3", help="descent: the starting point w1,w2 (default 4,3)")
    p.add_argument("--lr", type=float, default=0.1, help="descent: the learning rate (default 0.1)")
    p.add_argument("--steps", type=int, help="descent: number of steps (default 20); vanishing: layers (10)")
    add_spec_arguments(p)
    p.set_defaults(func=_cmd_plot)


#: The commands in the order ``--help`` lists them: data plus one rule (each adds its parser).
COMMANDS = (_derive_parser, _verify_parser, _prove_parser, _emit_parser, _verify_book_parser, _check_parser,
            _demo_parser, _plot_parser)


def build_parser():
    """The argument parser of every command; it imports no command's implementation."""
    parser = _Parser(prog="symbackprop", description="Backpropagation derived symbolically, as "
                     '"When Equations Learn" writes it: derive, verify, typeset and emit.')
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _missing_module(exc, command):
    """The one line for a command whose module cannot be imported: name the extra to install."""
    top = (exc.name or "").partition(".")[0]
    if top in EXTRAS:
        return f"{command} needs {top}, which is not installed: {install_hint(EXTRAS[top])}"
    return f"{command} cannot run: its code could not be imported ({exc}); reinstall symbackprop"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except SymbackpropError as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"symbackprop: error: {_missing_module(exc, args.command)}", file=sys.stderr)
        return 2
    except RecursionError:  # SymPy on deeply nested expressions (Piecewise through many layers)
        print(f"symbackprop: error: {args.command}: SymPy ran past Python's recursion limit on this network; "
              "try a smaller one or --method high-precision", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `symbackprop derive ... | head`: the reader left, so stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
