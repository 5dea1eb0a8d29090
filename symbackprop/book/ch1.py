"""Chapter 1: the little game (eq. 1-2) and its two listings (sec. 1.1), checked in exact decimals.

>>> PART.claims[0].check().values["value"]
'24/5'
"""
import math
from fractions import Fraction

import numpy as np

from symbackprop.book.model import CONDITIONAL, Comparison, Part, expect, finding, holds_or_fails
from symbackprop.book.shared import dot

PART = Part("ch. 1")
claim = PART.claim

X_GAME, W_START, W_LEARNED = [1, 2, 3, 4], [0.9, 1.5, -0.1, 0.3], [0.9, 0.97, -0.3, 0.3]
W_FINAL_3x4 = [[0.9, 0.97, -0.3, 0.3], [0.1, 0.5, 0.8, -0.1525], [1.0, 2.0, 0.9, -0.2425]]
TARGETS_3 = [3.14, 2.71, 6.63]


@claim("ch1.game.initial", "ch. 1, the little game", r"$[1,2,3,4]\cdot[0.9,1.5,-0.1,0.3]=4.8$", equations=(1,),
       reconstructed=True, passage="Now, 4.8 is not yet 3.14, and not even close enough to 3.14!")
def initial_dot_product():
    value = dot(X_GAME, W_START)
    return expect(value == Fraction("4.8"), "1(0.9) + 2(1.5) + 3(-0.1) + 4(0.3) = 4.8 exactly",
                  compared=[Comparison("the dot product", r"0.9+3.0-0.3+1.2", str(float(value)), "exact decimals")],
                  values={"value": str(value)})


@claim("ch1.game.adjustment", "ch. 1, the little game",
       r"$4.8-1.66=3.14$; changing $1.5\to0.97$ (by $-0.53$) and $-0.1\to-0.3$ (by $-0.2$) gives the needed $-1.66$",
       passage="We subtracted 0.53 from 1.5 to get 0.97 in the second position, and we added -0.2 to -0.1 to get "
               "-0.3 in the third position.")
def adjustment_closes_the_gap():
    change = 2 * Fraction("-0.53") + 3 * Fraction("-0.2")
    gap = Fraction("3.14") - Fraction("4.8")
    return expect(change == gap and Fraction("1.5") - Fraction("0.53") == Fraction("0.97"),
                  "the two changes move the result by 2(-0.53) + 3(-0.2) = -1.66, exactly the gap",
                  compared=[Comparison("the change of the result", r"x_2(-0.53)+x_3(-0.2)", r"3.14-4.8=-1.66",
                                       "exact decimals")], values={"change": str(change), "gap": str(gap)})


@claim("ch1.game.final", "ch. 1, the little game", r"$f([1,2,3,4])=[0.9,0.97,-0.3,0.3]\cdot[1,2,3,4]=3.14$",
       equations=(2,), passage="so that \\( f([1,2,3,4])=[0.9, 0.97, -0.3, 0.3] \\cdot [1,2,3,4]=3.14\\)!")
def learned_dot_product():
    value = dot(X_GAME, W_LEARNED)
    return expect(value == Fraction("3.14"), "0.9 + 1.94 - 0.9 + 1.2 = 3.14 exactly",
                  compared=[Comparison("f(x)", r"0.9+1.94-0.9+1.2", str(float(value)), "exact decimals")],
                  values={"value": str(value)})


@claim("ch1.constants", "ch. 1 and sec. 1.1, extended listing, lines 6-7",
       r"$\pi=3.14$; $e\approx2.71$; $h$ ($6.626\times10^{-34}$) scaled to $6.63$",
       passage="e (Euler\u2019s Number) \u2248 2.71")
def constants_to_two_decimals():
    rounded = {"pi": round(math.pi, 2), "e": round(math.e, 2), "h": round(6.62607015, 2)}
    truncated_e = math.floor(math.e * 100) / 100
    return finding(CONDITIONAL, "pi and h are rounded to two decimals, but e = 2.71828... rounds to 2.72; 2.71 is "
                   "its truncation (and pi = 3.14 is an approximation, not an equality)",
                   [(f"pi = {math.pi:.6f} -> {rounded['pi']}; e = {math.e:.6f} -> {rounded['e']} (truncated "
                    f"{truncated_e}); h = 6.62607015e-34 J s (SI, exact) -> {rounded['h']}")],
                   condition="the constants are read as truncated (not rounded) to two decimals, and the "
                             "\u201c=\u201d of $\\pi=3.14$ as \u201c\u2248\u201d",
                   correct=r"$\pi\approx3.14$, $e\approx2.72$ (rounded) and $h\approx6.63$ (scaled)",
                   values=rounded)


@claim("ch1.listing1", "sec. 1.1, first listing, lines 13-51",
       r"prints Initial Result 4.80, Final Result 3.14 and the success message (\texttt{np.isclose})",
       passage="if np.isclose(pi_calculado, 3.14):")
def first_listing_prints():
    x, w0, w1 = np.array(X_GAME), np.array(W_START), np.array(W_LEARNED)
    printed = (f"{np.dot(x, w0):.2f}", f"{np.dot(x, w1):.2f}", bool(np.isclose(np.dot(x, w1), 3.14)))
    return expect(printed == ("4.80", "3.14", True), "the listing prints 4.80 and 3.14 and reaches its success line",
                  [f"np.dot(x, w_inicial) = {float(np.dot(x, w0))!r} prints {printed[0]}",
                   (f"np.dot(x, w_final) = {float(np.dot(x, w1))!r} prints {printed[1]}; "
                   f"np.isclose(., 3.14) = {printed[2]}")],
                  values={"initial": float(np.dot(x, w0)), "final": float(np.dot(x, w1))})


@claim("ch1.listing2", "sec. 1.1, extended listing, lines 36-56",
       r"$W_{final}\,[1,2,3,4]^T\approx[3.14,\,2.71,\,6.63]^T$ (\texttt{np.allclose}, atol 0.01): "
       r"``the final results are very close to the desired targets''",
       passage="Note, below, that the final results are very close to the desired targets.")
def extended_listing_reaches_targets():
    W, x = np.array(W_FINAL_3x4), np.array(X_GAME, dtype=float)
    result = W @ x
    rows = [float(dot(row, X_GAME)) for row in W_FINAL_3x4]
    fixed = [float((Fraction(str(t)) - dot(row[:3], X_GAME[:3])) / 4) for t, row in zip(TARGETS_3, W_FINAL_3x4)]
    ok = bool(np.allclose(result, TARGETS_3, atol=0.01))
    return holds_or_fails(
        ok, "W_final x is within 0.01 of the targets",
        [f"np.allclose(W_final x, targets, atol=0.01) = {ok}: the success message is never printed",
         f"last weights that would hit the targets: {fixed}"],
        compared=[Comparison("W_final x", str(rows), str(TARGETS_3), "exact decimals, row by row")],
        values={"rows": rows, "fixed_last_weights": fixed, "allclose": ok},
        failed="W_final x = [3.14, 2.89, 6.73]: rows 2 and 3 miss e and h by 0.18 and 0.10; the check fails",
        correct=r"with $w_{2,4}=-0.1975$ and $w_{3,4}=-0.2675$ the rows give exactly $2.71$ and $6.63$",
        counterexample="row 2: 0.1*1 + 0.5*2 + 0.8*3 + (-0.1525)*4 = 0.1 + 1.0 + 2.4 - 0.61 = 2.89 (target 2.71); "
                       "row 3: 1 + 4 + 2.7 - 0.97 = 6.73 (target 6.63)")
