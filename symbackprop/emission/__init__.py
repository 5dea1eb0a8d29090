"""Emission: training modules printed from the derivation into a Jinja2 skeleton.

codegen (the module's context and template) reads the forms; print_numpy prints matrix forms,
backward prints each layer's backward step, output the fused cost and output delta.
"""
