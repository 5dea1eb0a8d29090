"""The engine: a network spec, its layer kinds and the one derivation every reader uses.

spec -> activations/costs (element-wise rules, each its forward formula) -> network (the composed
error E) -> jacobians (per-layer Jacobians, the column-vector of matrices, the recursion) -> forms
(the backward pass as matrix expressions over W^l, Y^l, A^l, Delta^l), with the rewrites that
replace a derived formula only together with the proof that they are equal.
"""
