"""The audit of "When Equations Learn": is the book right, claim by claim?

* :mod:`~symbackprop.book.model`: Claim, Finding, the verdicts, and :func:`~symbackprop.book.model.finding`;
* :mod:`~symbackprop.book.shared`: the forms several chapters compare (direct, chain and outer gradients), the
  norm test of the costs, the listings' NumPy tools;
* one module per part of the book, each a ``PART`` of named checks: :mod:`~symbackprop.book.preface`,
  ``ch1`` ... ``ch5`` (with ``ch3_listing``, ``ch4_forms``, ``ch4_listing``, ``ch5_listing``),
  ``appendices`` (A-C), ``appendices_d_h`` (D-H) and ``tutorial``;
* :mod:`~symbackprop.book.claims`: the registry (every part, in book order);
* :mod:`~symbackprop.book.audit`: the runner and the reports (text, Markdown, JSON, LaTeX, ``--show``).
"""
