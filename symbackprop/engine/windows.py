"""Window operations on signals stored (c h w, beta): the NumPy forms of convolution and pooling.

A signal of c channels of h x w positions is a (c h w) x beta matrix, rows in C order (c, then h, then w, as
torch.flatten), one example per column.  ``g`` is the geometry (c_in, h, w, c_out, kh, kw, sh, sw, ph, pw).

Each function is one step of a layer, written once with NumPy and no loop over positions: strided slices of the
signal, one per kernel offset (the window view, copied once into columns), and one matrix product; pooling and
col2im loop over the kh x kw kernel offsets only.  They work on any
dtype, float32/float64 in the emitted module (their source is printed into it) and object arrays of mpmath
numbers in the high-precision verification, where the nodes of :mod:`symbackprop.engine.conv` evaluate
through them and are checked against their explicit SymPy definitions.

>>> import numpy
>>> g = (1, 3, 3, 1, 2, 2, 1, 1, 0, 0)
>>> S = numpy.arange(9.0).reshape(9, 1)
>>> conv_forward(numpy.ones((1, 4)), numpy.zeros((1, 1)), columns(S, g), g).ravel().tolist()
[8.0, 12.0, 20.0, 24.0]
>>> pool_max(S, (1, 3, 3, 1, 2, 2, 1, 1, 0, 0)).ravel().tolist()
[4.0, 5.0, 7.0, 8.0]
"""
import numpy


def out_size(n, k, s, p):
    """Output positions along one axis: floor((n + 2p - k)/s) + 1, as PyTorch (windows that do not fit are dropped)."""
    return (n + 2 * p - k) // s + 1


def padded(S, g):
    """S as (c_in, h + 2 ph, w + 2 pw, beta), zero-padded (a view when there is no padding)."""
    (c_in, h, w), (ph, pw) = g[:3], g[8:]
    X = S.reshape(c_in, h, w, S.shape[1])
    return numpy.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0))) if ph or pw else X


def offsets(X, g):
    """For each kernel offset (p, q): (p, q, the strided slice of X that offset reads at every output position)."""
    kh, kw, sh, sw = g[4:8]
    oh, ow = (X.shape[1] - kh) // sh + 1, (X.shape[2] - kw) // sw + 1
    for p in range(kh):
        for q in range(kw):
            yield p, q, X[:, p:p + sh * (oh - 1) + 1:sh, q:q + sw * (ow - 1) + 1:sw, :]


def columns(S, g):
    """The window view of S, copied once (im2col): a (c_in kh kw oh ow) x beta matrix, entry ((c, p, q, i, j), b)
    the input entry that kernel offset (p, q) of channel c meets at output position (i, j) of example b (0 in the
    padding); filled by one strided copy per kernel offset."""
    X = padded(S, g)
    c_in, kh, kw, beta = g[0], g[4], g[5], S.shape[1]
    oh, ow = (X.shape[1] - kh) // g[6] + 1, (X.shape[2] - kw) // g[7] + 1
    K = numpy.empty((c_in, kh, kw, oh, ow, beta), dtype=S.dtype)
    for p, q, part in offsets(X, g):
        K[:, p, q] = part
    return K.reshape(-1, beta)


def conv_forward(W, b, K, g):
    """Y = W * S + b (cross-correlation, as torch Conv2d) from the window view K of S: one product
    W (c_out, c_in kh kw) @ K (c_in kh kw, oh ow beta), and b added in place, broadcast over positions."""
    Y = W @ K.reshape(W.shape[1], -1)
    Y += b
    return Y.reshape(-1, K.shape[1])


def conv_grad_W(D, K, g):
    """sum over examples and positions of D (x) the window read: the correlation of the input with delta,
    D (c_out, oh ow beta) @ K^T, computed as (K D^T)^T (the faster order for BLAS when c_out is small)."""
    k = g[0] * g[4] * g[5]
    return (K.reshape(k, -1) @ D.reshape(g[3], -1).T).T


def conv_grad_b(D, g):
    """sum over examples and positions of D, per output channel: D (c_out, oh ow beta) @ 1."""
    rows = D.reshape(g[3], -1)
    return rows @ numpy.ones((rows.shape[1], 1), dtype=D.dtype)


def scatter(dV, g, dtype):
    """The adjoint of the window view: add each window's entries (c_in, kh, kw, oh, ow, beta) back where they
    were read (col2im), one loop over the kh x kw kernel offsets; padding rows are dropped."""
    c_in, h, w, _, kh, kw, sh, sw, ph, pw = g
    oh, ow, beta = dV.shape[3:]
    dX = numpy.zeros((c_in, h + 2 * ph, w + 2 * pw, beta), dtype=dtype)
    for p in range(kh):
        for q in range(kw):
            dX[:, p:p + sh * (oh - 1) + 1:sh, q:q + sw * (ow - 1) + 1:sw, :] += dV[:, p, q]
    return dX[:, ph:ph + h, pw:pw + w].reshape(c_in * h * w, beta)


def conv_grad_S(W, D, g):
    """W^T delta put back where it was read: the full convolution of delta with the flipped kernel."""
    c_in, kh, kw = g[0], g[4], g[5]
    beta = D.shape[1]
    cols = W.T @ D.reshape(g[3], -1)  # (c_in kh kw, oh ow beta)
    oh = out_size(g[1], kh, g[6], g[8])
    ow = out_size(g[2], kw, g[7], g[9])
    return scatter(cols.reshape(c_in, kh, kw, oh, ow, beta), g, D.dtype)


def pool_max(S, g):
    """The largest entry of each window (c, oh, ow) per example: a running maximum over the kernel offsets."""
    out = None
    for _, _, part in offsets(padded(S, g), g):
        out = part.copy() if out is None else numpy.maximum(out, part, out=out)
    return out.reshape(-1, S.shape[1])


def pool_max_back(S, T, D, g):
    """delta routed to the arg-max of each window, the first one on ties (as PyTorch), given the window maxima T
    the forward step computed: the offsets are visited in order, and each takes delta where it holds the maximum
    and no earlier offset did (the last takes what is left).  Windows that do not overlap are written, not added."""
    X = padded(S, g)
    c, beta, (kh, kw, sh, sw) = g[0], S.shape[1], g[4:8]
    oh, ow = (X.shape[1] - kh) // sh + 1, (X.shape[2] - kw) // sw + 1
    top, D4 = T.reshape(c, oh, ow, beta), D.reshape(c, oh, ow, beta)
    disjoint = sh >= kh and sw >= kw
    tiled = sh == kh and sw == kw and X.shape[1] == kh * oh and X.shape[2] == kw * ow
    dX = (numpy.empty if tiled else numpy.zeros)(X.shape, dtype=D.dtype)
    free, last = None, kh * kw - 1
    for k, (p, q, part) in enumerate(offsets(X, g)):
        if k == last and free is not None:
            here = free  # the maximum is one of the window's entries: where no earlier offset held it, this one does
        else:
            here = numpy.equal(part, top)
            if free is None:
                free = ~here
            else:
                here &= free
                free ^= here
        view = dX[:, p:p + sh * (oh - 1) + 1:sh, q:q + sw * (ow - 1) + 1:sw, :]
        if disjoint:
            numpy.multiply(D4, here, out=view)
        else:
            view += D4 * here
    return dX[:, g[8]:g[8] + g[1], g[9]:g[9] + g[2]].reshape(-1, beta)


def pool_avg(S, g):
    """The mean of each window: a running sum over the kernel offsets."""
    out = None
    for _, _, part in offsets(padded(S, g), g):
        out = part.copy() if out is None else numpy.add(out, part, out=out)
    return out.reshape(-1, S.shape[1]) / (g[4] * g[5])


def pool_avg_back(D, g):
    """delta / (kh kw) spread over the window it averaged."""
    c, kh, kw = g[0], g[4], g[5]
    beta = D.shape[1]
    oh, ow = out_size(g[1], kh, g[6], g[8]), out_size(g[2], kw, g[7], g[9])
    share = D.reshape(c, 1, 1, oh, ow, beta) / (kh * kw)
    return scatter(numpy.broadcast_to(share, (c, kh, kw, oh, ow, beta)), g, D.dtype)


#: the functions printed into an emitted module, in an order that defines each before use
SOURCES = (out_size, padded, offsets, columns, conv_forward, conv_grad_W, conv_grad_b, scatter, conv_grad_S, pool_max,
           pool_max_back, pool_avg, pool_avg_back)
