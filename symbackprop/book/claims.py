"""The registry of the book's claims: every part's claims, in book order (see :mod:`symbackprop.book.model`).

Each module below holds one part of the book and registers its claims on its ``PART``; this module only
collects them.  Nothing here imports the runner (:mod:`symbackprop.book.audit`), so there is no import cycle.

>>> len(CLAIMS) >= 120 and len({c.id for c in CLAIMS}) == len(CLAIMS)
True
>>> CLAIMS[0].chapter, CLAIMS[-1].chapter
('preface', 'tutorial')
"""
from symbackprop.book import (
    appendices,
    appendices_d_h,
    ch1,
    ch2,
    ch3,
    ch3_listing,
    ch4,
    ch4_forms,
    ch4_listing,
    ch5,
    ch5_listing,
    preface,
    tutorial,
)

#: The parts of the book, in reading order.
MODULES = (preface, ch1, ch2, ch3, ch3_listing, ch4, ch4_forms, ch4_listing, ch5, ch5_listing, appendices,
           appendices_d_h, tutorial)

CLAIMS = [c for module in MODULES for c in module.PART.claims]

_duplicates = sorted({c.id for c in CLAIMS if sum(d.id == c.id for d in CLAIMS) > 1})
if _duplicates:
    raise ValueError(f"claim ids must be unique; repeated: {_duplicates}")
