"""Every text input is parsed by the restricted grammar: nothing in it can run code."""
import pytest

from symbackprop.cli import main
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SpecError

ATTACKS = [
    "__import__('os').system('touch /tmp/pwned')",
    "exec('x=1')",
    "eval('1')",
    "y.__class__",
    "lambda: 0",
    "open('/etc/passwd')",
    "y; import os",
    "Symbol('y')",
    "9**9**9**9",
    "y**(10**100)",
    "1e99999999*y",
    "sympify('y')",
    "(" * 200 + "y" + ")" * 200,
    "y" * 1000,
    "",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_custom_activation_attacks_rejected(text):
    with pytest.raises(SpecError):
        NetworkSpec.from_options("2,1", "evil", "mse", custom_activations=[f"evil={text}"])


@pytest.mark.parametrize("text", ATTACKS)
def test_custom_cost_attacks_rejected(text):
    with pytest.raises(SpecError):
        NetworkSpec.from_options("2,1", "sigmoid", "evil", custom_costs=[f"evil={text}"])


@pytest.mark.parametrize("text", ["relu;import os", "leaky_relu(__import__('os'))", "elu(alpha=1e999999)",
                                  "softmax(T=exec(1))", "relu()()"])
def test_activation_names_and_parameters_rejected(text):
    with pytest.raises(SpecError):
        NetworkSpec.from_options("2,2", text, "mse")


@pytest.mark.parametrize("name", ["os.system", "import", "a b", "_hidden", "x" * 50, "class"])
def test_custom_names_must_be_identifiers(name):
    with pytest.raises(SpecError, match="must be a letter"):
        NetworkSpec.from_options("2,1", "sigmoid", name, custom_costs=[f"{name}=(a-z)^2"])


def test_toml_formulas_go_through_the_grammar(tmp_path, capsys):
    spec = tmp_path / "evil.toml"
    spec.write_text('sizes = [2, 1]\nactivations = ["evil"]\ncost = "mse"\n'
                    '[custom.activations]\nevil = "__import__(\'os\').system(\'touch /tmp/pwned\')"\n')
    assert main(["derive", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "unexpected character '_'" in err and "Traceback" not in err


def test_legitimate_formulas_accepted():
    spec = NetworkSpec.from_options("2,2,1", "swish,sigmoid", "quartic",
                                    custom_activations=["swish=y*sigmoid(y)"], custom_costs=["quartic=(a-z)^4"])
    assert spec.activations[0].derivative is not None and spec.cost.derivative is not None
