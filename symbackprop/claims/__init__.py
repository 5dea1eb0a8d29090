"""``symbackprop check``: backprop claims written in LaTeX, each given a verdict by the engine's derivation.

extract (displays, directives) -> grammar (a parse tree) -> meaning (values from the derivation)
-> judge (verdicts) -> output (text, md, json, tex).  The API others call is :func:`check_text`.
"""
from symbackprop.claims.check import Report, check_file, check_text
from symbackprop.claims.judge import ClaimResult

__all__ = ["ClaimResult", "Report", "check_file", "check_text"]
