"""Writing a file so that nothing is ever half-written, and refusing what cannot be written.

Every writer of symbackprop goes through :func:`write_atomic`: the content goes to a temporary file
``.NAME.*.tmp`` beside the target, gets the permissions a plainly created file would have (the
process umask; ``mkstemp`` alone makes owner-only files), and is renamed over the target in one step.
An interrupted or failed write leaves the target as it was and removes the temporary file.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomic(folder / "a.txt", "hello").read_text()
'hello'
>>> write_atomic(folder / "a.txt", "again")
Traceback (most recent call last):
...
symbackprop.errors.SymbackpropError: ... exists; pass --force to overwrite it
"""
import os
import tempfile
from pathlib import Path

from symbackprop.errors import SymbackpropError


def check_output_path(path, force=False, example="output.txt"):
    """Fail early, with a clear message, if ``path`` cannot or should not be written."""
    path = Path(path)
    if path.is_dir():
        raise SymbackpropError(f"{path} is a folder; give a file name such as {path / example}")
    if path.exists() and not force:
        raise SymbackpropError(f"{path} exists; pass --force to overwrite it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SymbackpropError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SymbackpropError(f"cannot write {path}: folder {folder} is not writable")
    return path


def write_atomic(path, content=None, force=False, writer=None, example="output.txt"):
    """Write ``content`` (str as UTF-8, or bytes) or call ``writer(binary_file)``; then rename into place."""
    path = check_output_path(path, force, example)
    handle, temp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.",
                                    suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            if writer is not None:
                writer(out)
            else:
                out.write(content.encode("utf-8") if isinstance(content, str) else content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except OSError as exc:
        raise SymbackpropError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path
