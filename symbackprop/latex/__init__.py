"""LaTeX: the derivation typeset in the book's notation (printing, forms) and compiled (document).

escape holds the one escaper of TeX's special characters that every writer uses.
"""
