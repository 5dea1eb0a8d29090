"""The three scalar symbols every element-wise formula is written in, defined once.

``Y`` is a neuron's input y (an activation is a formula a(y)), ``A`` its output a (a
derivative written through the output, like sigmoid' = a (1 - a)), and ``Z`` the target z
(a cost term is a formula e(a, z)).  All are real: the engine never leaves the reals.
Every module imports them from here, so a formula built in one module and read in another
always means the same y, a and z.

>>> from symbackprop.engine.activations import get_activation
>>> get_activation("sigmoid").formula.free_symbols == {Y}
True
>>> Y.is_real and A.is_real and Z.is_real
True
"""
import sympy as sp

Y = sp.Symbol("y", real=True)
A = sp.Symbol("a", real=True)
Z = sp.Symbol("z", real=True)

__all__ = ["A", "Y", "Z"]
