"""The command line as a user meets it: output, JSON, exit codes, clear errors; and the house rule that
cli.py is the only door (every command and option defined there, implementations imported lazily)."""
import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop import cli
from symbackprop.cli import main


def test_derive_prints_every_layer(capsys):
    assert main(["derive", "--layers", "3,4,2", "--activations", "relu,softmax", "--loss", "cross_entropy"]) == 0
    out = capsys.readouterr().out
    assert "layer 2 (output)" in out and "layer 1:" in out and "2 x 2 full (softmax)" in out
    assert "(a[j] - z[j])/n" in out  # the softmax + cross-entropy cancellation, found


def test_derive_json(capsys):
    assert main(["derive", "--layers", "2,2,1", "--activations", "tanh,sigmoid", "--loss", "bce", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"] == 9 and [l["W_shape"] for l in data["layers"]] == [[2, 2], [1, 2]]
    assert data["output_delta"]["simplified"] == "(a - z)/n"


def test_verify_exit_zero_and_json(capsys):
    args = ["verify", "--layers", "2,3,2", "--activations", "tanh,sigmoid", "--loss", "mse", "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and all(c["passed"] for c in data["checks"])


def test_verify_spec_file(tmp_path, capsys):
    spec = tmp_path / "net.toml"
    spec.write_text('sizes = [2, 2]\nactivations = ["softmax(T=2)"]\ncost = "cross_entropy"\nbatch = 2\n')
    assert main(["verify", str(spec)]) == 0
    assert "(batch)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["derive"], "no network given"),
    (["derive", "--layers", "3,x", "--activations", "relu", "--loss", "mse"], "size 1 must be a positive integer"),
    (["verify", "--layers", "3,2", "--activations", "relu", "--loss", "nope"], "unknown cost 'nope'"),
    (["verify", "missing.toml"], "does not exist"),
    (["derive", "net.toml", "--layers", "2,1"], "either a spec file or"),
    (["verify", "--layers", "784,128,10", "--activations", "relu,sigmoid", "--loss", "mse", "--method", "exact"],
     "exact verification is for networks of at most"),
    (["prove", "--depths", "1,x"], "comma-separated integers"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_prove_depth_one(capsys):
    assert main(["prove", "--depths", "1"]) == 0
    assert "proved for every size" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--method", "magic"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_broken_pipe_is_quiet():
    import subprocess
    import sys

    cmd = f"{sys.executable} -m symbackprop derive --layers 3,4,2 --activations tanh,sigmoid --loss mse -v | head -1"
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False)
    assert done.stdout.startswith("network 3-4-2") and "Traceback" not in done.stderr


# -- the one door: every command and option is defined in cli.py --------------------------------------
PACKAGE = Path(cli.__file__).parent
COMMAND_MODULES = ("emission.codegen", "latex.document", "book.audit", "book.claims", "demo.run", "demo.plots", "proofs",
                   "claims.check")


def _subcommands():
    return cli.build_parser()._subparsers._group_actions[0].choices


def test_no_module_but_cli_defines_commands_or_imports_cli():
    # parsers are built only in cli.py, and imports go downward: no module imports cli
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 40  # the whole package, every subpackage included
    for path in modules:
        if path.name in ("cli.py", "__main__.py"):
            continue
        tree = ast.parse(path.read_text())
        calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        assert not calls & {"add_parser", "add_subparsers", "add_argument", "add_argument_group"}, path.name
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "cli" not in imported and "symbackprop.cli" not in imported, path.name


def test_building_the_parser_imports_no_command_module():
    code = ("import sys; from symbackprop.cli import build_parser; build_parser(); "
            f"print([m for m in {COMMAND_MODULES!r} if 'symbackprop.' + m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == "[]"
    # and the names above are real modules, so the check could fail
    for name in COMMAND_MODULES:
        assert importlib.util.find_spec("symbackprop." + name) is not None, name


def test_a_broken_module_keeps_its_command_and_says_why(monkeypatch, capsys):
    # before, `emit` vanished from --help when codegen failed to import; now it is listed and fails in one line
    monkeypatch.setitem(sys.modules, "symbackprop.emission.codegen", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0 and "emit" in capsys.readouterr().out
    assert main(["emit", "--layers", "2,1", "--activations", "sigmoid", "--loss", "mse"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "emit cannot run" in err and "Traceback" not in err


@pytest.mark.parametrize("module, extra", sorted(cli.EXTRAS.items()))
def test_a_missing_extra_is_named_with_its_pip_line(monkeypatch, capsys, module, extra):
    # any command that reaches for a missing optional package says which extra installs it
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setattr(cli, "_cmd_prove", lambda args: __import__(module))
    assert main(["prove"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f'pip install "symbackprop[{extra}]"' in err


def test_parser_constants_match_the_modules_that_use_them():
    from symbackprop.book import audit as book
    from symbackprop.demo import plots
    from symbackprop.demo import run as demo
    from symbackprop.emission import codegen
    from symbackprop.latex import printing

    assert cli.DTYPES == codegen.DTYPES and cli.STYLES == codegen.STYLES
    assert cli.BOOK_FORMATS == tuple(book.FORMATS)
    assert cli.DEMO_FOLDER == demo.DEFAULT_FOLDER
    assert cli.EXPLICIT_MAX_LIMIT == printing.EXPLICIT_MAX_LIMIT
    assert all(hasattr(plots, f"{'vanishing_gradient' if k == 'vanishing' else 'sparsity' if k == 'jacobians' else k}"
                       "_figure") for k in cli.PLOT_KINDS)


def test_every_command_and_option_is_documented():
    # docs/cli.md must stay true: each command has its section and each long option appears in it
    text = (PACKAGE.parent / "docs" / "cli.md").read_text()
    for name, parser in _subcommands().items():
        assert f"## {name}" in text, name
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in text or f"{option} " in text, f"{name} {option}"
