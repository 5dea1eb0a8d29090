"""The README's Python example runs as written (its >>> lines are doctests)."""
import doctest
from pathlib import Path


def test_readme_examples():
    readme = Path(__file__).resolve().parent.parent / "README.md"
    result = doctest.testfile(str(readme), module_relative=False)
    assert result.attempted >= 6 and result.failed == 0
