"""The README as a new user reads it: its Python example runs as written, and its first command gets the pictures.

Identities checked:
* the README's >>> lines are doctests that pass;
* the first Quickstart command installs every distribution the demo's pictures import
  (symbackprop.demo.plots.NEEDS): the extras it names, looked up in setup.cfg, plus install_requires, hold a
  requirement of that name; the same check refuses the command as it was (`pip install .`), which skipped
  all six pictures;
* the picture the README shows is a file under docs/images/ that has the name of a picture the demo draws.
"""
import configparser
import doctest
import re
from pathlib import Path

from symbackprop.demo import plots
from symbackprop.demo import run as demo_module

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_examples():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False)
    assert result.attempted >= 6 and result.failed == 0


def first_command(readme):
    """The first line of the first code block under '## Quickstart'."""
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```[a-z]*\n(.*?)```", section, re.DOTALL).group(1)
    return block.splitlines()[0]


def installed_extras(command):
    """The extras a `pip install ".[a,b]"` (or `pip install .`) of this folder names; None if no such install."""
    match = re.search(r"""pip install\s+(["']?)\.(?:\[([^\]]*)\])?\1(?:\s|$)""", command)
    if match is None:
        return None
    return {extra.strip() for extra in (match.group(2) or "").split(",") if extra.strip()}


def requirement_names(extras):
    """Distribution names setup.cfg installs for ``extras``: install_requires plus each extra's list."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    for extra in extras:
        assert extra in config["options.extras_require"], f"setup.cfg has no extra {extra!r}"
        lines += config["options.extras_require"][extra].splitlines()
    return {re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0].lower() for line in lines if line.strip()}


def test_the_first_command_installs_what_the_pictures_need():
    command = first_command(README)
    assert "symbackprop demo" in command
    extras = installed_extras(command)
    assert extras is not None, command
    assert set(plots.NEEDS) <= requirement_names(extras), (command, plots.NEEDS)


def test_the_check_refuses_the_command_that_skipped_the_pictures():
    old = "pip install . && symbackprop demo          # the book end to end, written to ./symbackprop-demo/"
    assert installed_extras(old) == set()
    assert not set(plots.NEEDS) <= requirement_names(installed_extras(old))


def test_plots_need_exactly_what_they_import(monkeypatch):
    """NEEDS is the truth: hiding any one of them makes the pictures refuse (the demo then skips them)."""
    import sys

    import pytest

    plots.require_matplotlib()  # present here (the test extra)
    for name in plots.NEEDS:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, name, None)
            with pytest.raises(demo_module.SymbackpropError, match=name):
                plots.require_matplotlib()


def test_the_picture_shown_is_one_the_demo_draws():
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert shown, "the README shows no picture"
    source = (ROOT / "symbackprop" / "demo" / "run.py").read_text()
    drawn = set(re.findall(r"""demo\.picture\(\s*"([^"]+\.png)\"""", source))
    for path in shown:
        assert path.startswith("docs/images/") and (ROOT / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        assert Path(path).name in drawn, (path, drawn)
