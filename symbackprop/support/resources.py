"""Where the package's templates and data live, installed or in a source checkout.

The Jinja2 templates sit in the repository's top-level ``templates/`` folder and
are installed as ``symbackprop/templates/``; data files sit in
``symbackprop/data/``.
"""
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def template_dir():
    """The folder holding the ``*.j2`` templates."""
    for candidate in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("symbackprop's templates folder is missing; reinstall the package")


def data_path(*parts):
    """A file or folder under ``symbackprop/data``."""
    return _PACKAGE.joinpath("data", *parts)


@cache
def jinja_env(kind="code"):
    """A Jinja2 environment over the templates: ``kind='code'`` for Python, ``'latex'`` for TeX.

    The LaTeX environment uses ``<< >>`` / ``<% %>`` delimiters so that TeX braces stay literal.
    """
    import jinja2

    loader = jinja2.FileSystemLoader(str(template_dir()))
    if kind == "latex":
        return jinja2.Environment(
            loader=loader, block_start_string="<%", block_end_string="%>", variable_start_string="<<",
            variable_end_string=">>", comment_start_string="<#", comment_end_string="#>",
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
            autoescape=False,
        )
    return jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)
