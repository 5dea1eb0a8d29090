"""The book's chapter 3 images, read without an imaging library.

The "little faces" (20 x 20 PNGs, ``symbackprop/data/little_faces``) come from the repository of
*When Equations Learn*.  The book's listing opens each with PIL, converts it to grey (``'L'``),
divides by 255 and keeps 1 where the grey level is above 0.7.  :func:`read_png` decodes the PNG with
``zlib`` and undoes the five PNG row filters, so no Pillow is needed at run time (the tests compare it
with Pillow where Pillow is installed).

>>> face = little_face("thin4")
>>> face.shape, sorted(set(face.tolist()))
((400,), [0.0, 1.0])
"""
import struct
import zlib
from pathlib import Path

import numpy as np

from symbackprop.errors import SymbackpropError
from symbackprop.support.resources import data_path


def _unfilter(raw, width, height, channels):
    """Undo the PNG row filters (None, Sub, Up, Average, Paeth) of 8-bit samples."""
    stride, rows, previous = width * channels, [], bytearray(width * channels)
    for r in range(height):
        kind, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                line[i] = (line[i] + min((abs(p - left), 0, left), (abs(p - up), 1, up),
                                         (abs(p - corner), 2, corner))[2]) & 255
        rows.append(line)
        previous = line
    return np.array(rows, dtype=float).reshape(height, width, channels)


def read_png(path):
    """Grey levels in [0, 1] of an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA).

    RGB is turned grey with ITU-R 601 weights 0.299 R + 0.587 G + 0.114 B, as PIL's ``convert('L')``
    that the book's listing uses.
    """
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SymbackpropError(f"{path} is not a PNG file")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if depth != 8 or colour not in (0, 2, 4, 6) or interlace:
        raise SymbackpropError(f"{path}: only 8-bit non-interlaced grey/RGB(A) PNGs are read")
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            chunks.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    pixels = _unfilter(zlib.decompress(b"".join(chunks)), width, height, channels)
    grey = pixels[..., 0] if channels < 3 else pixels[..., :3] @ [0.299, 0.587, 0.114]
    return grey / 255


def little_face(name):
    """The book's preparation of a face (ch. 3 listing): grey / 255, 1 where above 0.7, 400 values."""
    return (read_png(data_path("little_faces", f"{name}.png")) > 0.7).astype(float).ravel()
