"""A time budget for SymPy steps on formulas a user wrote.

``sp.solve``, ``sp.simplify`` and ``sp.factor`` finish in milliseconds on the book's activations
and may run for hours on a formula someone typed (the tanh form of GELU, mish).  Every such step
on a user formula goes through :func:`within`, which runs it with a deadline and, when the
deadline passes, stops it and returns a fallback the caller chose (for an activation: keep
a'(y) in y instead of rewriting it through a).

The step runs in a forked child process that sends its result back through a pipe, so it can
really be stopped (a thread cannot be), from any thread (SIGALRM works only in the main one), and
nothing the interrupted step half-wrote (SymPy's caches and assumption tables) is left behind in
this process.  Where ``os.fork`` does not exist the step runs in a daemon thread that is abandoned
when its time is up.  An exception the step raises is raised again here.

>>> within(5, sum, [1, 2, 3])
6
>>> import time
>>> within(0.5, time.sleep, 60, fallback="out of time")
'out of time'
>>> within(0.5, time.sleep, 60, what="sleeping a minute")
Traceback (most recent call last):
...
symbackprop.support.budget.OutOfTime: sleeping a minute took longer than 0.5 s
"""
import os
import pickle
import select
import signal
import threading
import time

from symbackprop.errors import SymbackpropError

DEFAULT_SECONDS = 2.0  # per step on a user formula; raise it on a slow machine
_NOTHING = object()


class OutOfTime(SymbackpropError):
    """A budgeted step did not finish in time (raised only when the caller gave no fallback)."""


def within(seconds, fn, *args, fallback=_NOTHING, what=None):
    """``fn(*args)`` if it finishes within ``seconds``; otherwise ``fallback``, or :class:`OutOfTime`.

    ``seconds=None`` runs ``fn`` directly, without a limit (for the built-in formulas, whose steps
    are known to be quick).  ``fn``, its arguments and its result must be picklable.
    """
    if seconds is None:
        return fn(*args)
    run = _in_child if hasattr(os, "fork") else _in_thread
    done, value = run(seconds, fn, args)
    if done:
        return value
    if fallback is not _NOTHING:
        return fallback
    raise OutOfTime(f"{what or getattr(fn, '__name__', 'a SymPy step')} took longer than {seconds:g} s")


def _in_child(seconds, fn, args):
    """(True, result) from a forked child, or (False, None) when the deadline passes first."""
    deadline = time.monotonic() + seconds
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without running any of the parent's exit handlers
        try:
            os.close(read)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                payload = ("value", fn(*args))
            except Exception as exc:  # noqa: BLE001 -- raised again in the parent
                payload = ("error", exc)
            try:
                data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # noqa: BLE001 -- reported to the parent as an error
                data = pickle.dumps(("error", RuntimeError(f"unpicklable result: {exc!r}")))
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
        finally:
            os._exit(0)
    os.close(write)
    chunks, finished = [], False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read], [], [], left)[0]:
                break
            chunk = os.read(read, 1 << 20)
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
    finally:
        os.close(read)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if not finished or not chunks:
        return False, None
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "error":
        raise value
    return True, value


def _in_thread(seconds, fn, args):
    """The same contract where there is no fork: a daemon thread, abandoned at the deadline."""
    box = {}

    def work():
        try:
            box["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 -- raised again by the caller
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return False, None
    if "error" in box:
        raise box["error"]
    return True, box["value"]
