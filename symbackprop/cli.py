"""The ``symbackprop`` command line (also ``python -m symbackprop``).

Commands: ``derive`` and ``verify`` (this module), plus the commands that other
modules register through a ``register_cli(subparsers, common)`` function
(``emit`` in :mod:`symbackprop.codegen`, ``verify-book`` in :mod:`symbackprop.book`).

Exit status: 0 success (for ``verify``: every identity holds), 1 a check failed,
2 bad input (the message names the problem), 130 interrupted.
"""
import argparse
import importlib
import json
import os
import sys

from .errors import SymbackpropError
from .spec import NetworkSpec

PLUGINS = ("symbackprop.latex", "symbackprop.codegen", "symbackprop.book", "symbackprop.demo")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"symbackprop: error: {message}\n")


def add_spec_arguments(parser, required=True):
    """SPEC file or --layers/--activations/--loss, shared by every command that takes a network."""
    group = parser.add_argument_group("network (a spec file, or the three options)")
    group.add_argument("spec", nargs="?", help="TOML spec file (see README.md, 'Commands')")
    group.add_argument("--layers", help="sizes including the input, e.g. 784,128,64,10")
    group.add_argument("--activations", help="one per layer, e.g. relu,relu,sigmoid or leaky_relu(0.1)")
    group.add_argument("--loss", "--cost", dest="loss", help="mse, mae, cross_entropy or bce")
    group.add_argument("--batch", type=int, help="batch size beta (adds the batch forms of ch. 5)")
    group.add_argument("--define-activation", action="append", default=[], metavar="NAME=FORMULA",
                       help="a custom element-wise activation in y, e.g. 'softsign=y/(1+abs(y))'")
    group.add_argument("--define-cost", action="append", default=[], metavar="NAME=FORMULA",
                       help="a custom per-output cost term in a and z, e.g. 'quartic=(a-z)^4'")


def spec_from_args(args):
    """The NetworkSpec named by the arguments of :func:`add_spec_arguments`."""
    flags = [args.layers, args.activations, args.loss]
    if args.spec and any(flags):
        raise SymbackpropError("give either a spec file or --layers/--activations/--loss, not both")
    if args.spec:
        spec = NetworkSpec.from_toml(args.spec)
        if args.batch is not None:
            spec = NetworkSpec(spec.sizes, spec.activations, spec.cost, args.batch, name=spec.name)
        return spec
    if not all(flags):
        missing = [n for n, v in zip(("--layers", "--activations", "--loss"), flags) if not v]
        raise SymbackpropError(f"no network given: pass a spec file, or all of --layers/--activations/--loss "
                               f"(missing {', '.join(missing)})")
    return NetworkSpec.from_options(args.layers, args.activations, args.loss, args.batch,
                                    args.define_activation, args.define_cost)


def _cmd_derive(args):
    from .jacobians import derive
    from .report import derivation_json, derivation_text

    derivation = derive(spec_from_args(args))
    latex = sys.modules.get("symbackprop.latex")
    if latex is not None and hasattr(latex, "handle_derive_args"):
        status = latex.handle_derive_args(args, derivation)
        if status is not None:
            return status
    if args.json:
        print(json.dumps(derivation_json(derivation), indent=2))
    else:
        print(derivation_text(derivation, verbose=args.verbose))
    return 0


def _cmd_verify(args):
    from .jacobians import derive
    from .verify import verify

    if args.emitted:  # the emitted module's own loss and gradients against the derivation; SPEC is optional
        from .verify_emitted import verify_emitted

        if args.method != "auto":
            raise SymbackpropError("--method applies to the derivation; --emitted always compares at --digits digits")
        given = args.spec or args.layers or args.activations or args.loss
        report = verify_emitted(args.emitted, spec_from_args(args) if given else None, args.seed, args.digits)
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
        return 0 if report.passed else 1
    derivation = derive(spec_from_args(args))
    report = verify(derivation, method=args.method, seed=args.seed, digits=args.digits,
                    progress=not args.json and sys.stderr.isatty())
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
    return 0 if report.passed else 1


def _cmd_prove(args):
    from .proofs import prove_all

    try:
        depths = tuple(int(d) for d in args.depths.split(","))
    except ValueError:
        raise SymbackpropError(f"--depths takes comma-separated integers, got {args.depths!r}") from None
    proofs = prove_all(depths=depths)
    if args.json:
        print(json.dumps([p.to_dict() for p in proofs], indent=2))
    else:
        print("\n\n".join(p.text() for p in proofs))
        held = sum(p.proved for p in proofs)
        print(f"\n{held} of {len(proofs)} statements proved for every size (symbolic n, m, p)")
    return 0 if all(p.proved for p in proofs) else 1


def build_parser():
    parser = _Parser(prog="symbackprop", description="Backpropagation derived symbolically, as "
                     '"When Equations Learn" writes it: derive, verify, typeset and emit.')
    parser.add_argument("--version", action="version", version=f"symbackprop {__import__('symbackprop').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("derive", help="print every per-layer derivative of a network")
    add_spec_arguments(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-v", "--verbose", action="store_true", help="print the Jacobian entries too")
    p.set_defaults(func=_cmd_derive)

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

    p = sub.add_parser("prove", help="prove the backprop identities for every size and depth (symbolic sizes)")
    p.add_argument("--depths", default="1,2,3", help="depths of the direct composed-error proofs (default 1,2,3)")
    p.add_argument("--json", action="store_true", help="machine-readable proofs")
    p.set_defaults(func=_cmd_prove)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "register_cli"):
            module.register_cli(sub, add_spec_arguments)
    return parser


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
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `symbackprop derive ... | head`: the reader left, so stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
