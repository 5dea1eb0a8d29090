"""The command line as a user meets it: output, JSON, exit codes, clear errors."""
import json

import pytest

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
