"""Progress for long work, and Ctrl-C that leaves no half-written file behind.

:func:`bar` returns a progress bar with ``update(n=1)``, ``set_postfix_str(text)`` and ``close()``
(also a context manager).  On a terminal it is tqdm's bar when tqdm is installed (the optional
``progress`` extra) and otherwise :class:`TextBar`, a one-line bar redrawn in place.  When the
stream is not a terminal (a log file, a test, a notebook cell) nothing is redrawn: one summary
line is printed when the bar closes, so logs stay readable.

:func:`no_half_written_files` guards a block that writes into a folder: if the block is stopped
(Ctrl-C, an error), every temporary file that appeared in the folder during the block is removed.
Writers in symbackprop write ``.NAME.*.tmp`` beside the target and ``os.replace`` it, so a stop
leaves either the complete old file, the complete new file, or (after this cleanup) nothing.

>>> import io
>>> out = io.StringIO()
>>> with bar(3, "epochs", stream=out) as b:
...     for _ in range(3):
...         b.update()
...     b.set_postfix_str("error 0.1")
>>> print(out.getvalue().strip())
epochs: 3/3 [##############################] 100%  error 0.1
"""
import sys
import time
from contextlib import contextmanager
from pathlib import Path

WIDTH = 30  # characters of the text bar


def have_tqdm():
    """True when the optional tqdm package can be imported."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class TextBar:
    """A minimal progress bar: ``desc: done/total [####......]  pct%  postfix``.

    Redrawn in place (at most ten times a second) when ``live``; otherwise printed once, on close.
    """

    def __init__(self, total, desc="", stream=None, live=None):
        self.total, self.desc, self.n, self.postfix = int(total), desc, 0, ""
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_terminal(self.stream) if live is None else live
        self._drawn, self._closed = 0.0, False

    def line(self):
        """The bar as text."""
        frac = min(self.n / self.total, 1.0) if self.total > 0 else 1.0
        filled = round(frac * WIDTH)
        text = f"{self.desc}: {self.n}/{self.total} [{'#' * filled}{'.' * (WIDTH - filled)}] {frac:4.0%}"
        return text + (f"  {self.postfix}" if self.postfix else "")

    def _draw(self, force=False):
        now = time.monotonic()
        if self.live and (force or now - self._drawn >= 0.1):
            self.stream.write("\r" + self.line())
            self.stream.flush()
            self._drawn = now

    def update(self, n=1):
        self.n += n
        self._draw(force=self.n >= self.total)

    def set_postfix_str(self, text):
        self.postfix = str(text)
        self._draw()

    def close(self):
        if self._closed:
            return
        self._closed = True
        self.stream.write(("\r" if self.live else "") + self.line() + "\n")
        self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def bar(total, desc="", stream=None):
    """A progress bar over ``total`` steps: tqdm on a terminal when installed, else :class:`TextBar`."""
    stream = stream if stream is not None else sys.stderr
    if _is_terminal(stream) and have_tqdm():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, file=stream, leave=True, dynamic_ncols=True)
    return TextBar(total, desc, stream)


def track(iterable, total=None, desc="", stream=None):
    """Iterate over ``iterable`` with a progress bar (``total`` defaults to ``len(iterable)``)."""
    total = len(iterable) if total is None else total
    with bar(total, desc, stream) as b:
        for item in iterable:
            yield item
            b.update()


def _temporary_files(folder):
    return {p for p in Path(folder).glob(".*.tmp") if p.is_file()}


@contextmanager
def no_half_written_files(folder):
    """On any exception in the block (KeyboardInterrupt included), delete temp files it left in ``folder``.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> try:
    ...     with no_half_written_files(folder):
    ...         _ = open(os.path.join(folder, ".model.py.123.tmp"), "w").write("half")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     pass
    >>> os.listdir(folder)
    []
    """
    before = _temporary_files(folder)
    try:
        yield
    except BaseException:
        for path in _temporary_files(folder) - before:
            try:
                path.unlink()
            except OSError:
                pass
        raise
