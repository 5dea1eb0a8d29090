"""What is proved, all together: :func:`prove_all` and the sentence that says it precisely.

Three kinds of statement, each a :class:`~symbackprop.proofs.proof.Proof`:

* size-generic: sizes are symbols and activations, costs and the error above a
  layer are undefined functions (layer gradients, softmax Jacobian, base case,
  batch forms, the chain rule through a vector, the induction step);
* per depth: depths 1..D checked directly on the composed error;
* every depth: by induction on L - l, from the base case at layer L and the
  induction step proved once for a generic layer l.  The induction itself (the
  part of an L-layer network above layer l is a function of y^{l+1}) is the one
  argument not checked by SymPy; it is what "E_above" stands for.

>>> print(summary(prove_all(depths=(1,))))   # doctest: +NORMALIZE_WHITESPACE
9 of 9 statements proved for every size. Sizes are symbols and activations, cost terms and the error above a layer are
undefined functions. Depth 1 checked directly on the composed error. Every depth: by induction on L - l, from
the base case at layer L and the induction step, proved once for a generic layer l (element-wise or softmax) under
an undefined E_above(y^{l+1}); the layer gradients hold for any E(y^l).
"""
from symbackprop.proofs.depth import prove_depth
from symbackprop.proofs.induction import prove_recursion, prove_vector_chain_rule
from symbackprop.proofs.layers import prove_base_case, prove_batch, prove_layer_gradients, prove_softmax_jacobian

#: the statements the induction over depth rests on (name prefixes of their proofs)
INDUCTION = ("layer gradients", "base case", "induction step", "chain rule through a vector")


def prove_all(depths=(1, 2, 3)):
    """Every proof: the generic layer, softmax Jacobian, chain rule, induction step, base case, batch, depths.

    >>> [p.proved for p in prove_all(depths=(1,))]
    [True, True, True, True, True, True, True, True, True]
    """
    depths = tuple(depths)
    return [
        prove_layer_gradients(),
        prove_softmax_jacobian(),
        prove_vector_chain_rule(),
        prove_recursion("elementwise"),
        prove_recursion("softmax"),
        prove_base_case("elementwise"),
        prove_base_case("softmax"),
        prove_batch(),
        *[prove_depth(L) for L in depths],
    ]


def summary(proofs):
    """A few lines saying exactly what ``proofs`` (from :func:`prove_all`) establish, and what not."""
    held = sum(p.proved for p in proofs)
    lines = [f"{held} of {len(proofs)} statements proved for every size."]
    failed = [p.name for p in proofs if not p.proved]
    if failed:
        lines.append("NOT proved: " + "; ".join(failed) + ".")
    lines.append("Sizes are symbols and activations, cost terms and the error above a layer are undefined functions.")
    depths = [p.depth for p in proofs if p.depth is not None and p.proved]
    if depths:
        listed = ", ".join(map(str, depths))
        lines.append(f"Depth{'s' if len(depths) > 1 else ''} {listed} checked directly on the composed error.")
    basis = {prefix: [p for p in proofs if p.name.startswith(prefix)] for prefix in INDUCTION}
    if all(group and all(p.proved for p in group) for group in basis.values()):
        lines.append("Every depth: by induction on L - l, from the base case at layer L and the induction step, "
                     "proved once for a generic layer l (element-wise or softmax) under an undefined "
                     "E_above(y^{l+1}); the layer gradients hold for any E(y^l).")
    else:
        lines.append("Every depth: not established (the base case, the induction step, the chain rule through a "
                     "vector or the layer gradients is missing or not proved).")
    return "\n".join(lines)
