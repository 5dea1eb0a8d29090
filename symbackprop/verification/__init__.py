"""Verification: the derivation's own formulas evaluated and compared, exactly or at high precision.

verify (the orchestrator) -> exact (SymPy zero tests at small sizes) | numeric (mpmath arrays at any
size, points drawn by points, evaluated by evaluate) | formulas (element-wise rules and rewrites) |
float64 (a witness at machine precision) -> report.  emitted checks a written module against it all.
"""
