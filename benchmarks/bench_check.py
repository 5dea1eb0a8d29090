"""Benchmark of ``symbackprop check``: a 100-claim LaTeX file, checked on the default panel, in a fresh process.

    python benchmarks/bench_check.py [--claims 100] [--repeats 3] [--keep FILE]

The file cycles through the claims of tests/test_check.py (true claims on the panel, batch forms, scalar
identities, planted errors, directives for softmax + CE, sigmoid + BCE and MSE networks), one per display,
so every verdict kind and both the panel and single networks are timed.  Each repeat runs
``python -m symbackprop check FILE --format json`` in a new process and reports

* ``command``: wall-clock seconds of the whole process (start-up, imports, panel, every claim);
* ``cpu``: the child's CPU seconds (on a shared machine the wall clock also counts waiting for a core);
* the verdict counts, so that a faster run that checks less would show, and how many held exactly.

It runs the default mode (high precision on the panel) and ``--exact`` (also a symbolic proof on the smallest
network each claim holds on).

The goal (issue 12): under 30 s for 100 claims on the project's 2-core machine.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def document(count):
    """A LaTeX file of ``count`` claims: the tests' claims in turn, each with the directive it needs."""
    import test_check as claims

    items = [(c, "% symbackprop: panel\n") for c in claims.TRUE_ON_THE_PANEL]
    items += [(c, h or "% symbackprop: panel\n") for c, h, *_ in claims.PLANTED]
    items += [(c, "") for c in ("\\sigma'(y) = \\sigma(y)(1 - \\sigma(y))", "\\tanh'(y) = 1 - \\tanh^{2}(y)")]
    lines = ["\\documentclass{article}", "\\usepackage{amsmath}", "\\begin{document}"]
    for k in range(count):
        claim, header = items[k % len(items)]
        lines += [header.rstrip("\n"), f"\\begin{{equation}} {claim} \\end{{equation}}"]
    return "\n".join(lines + ["\\end{document}", ""])


def run_once(path, extra=()):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "symbackprop", "check", str(path), "--format", "json", *extra],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"check failed ({done.returncode}): {done.stderr}")
    data = json.loads(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, Counter(c["verdict"] for c in data["claims"]), Counter(c["method"] for c in data["claims"]
                                                                                if c["method"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", metavar="FILE", help="also write the generated document to FILE")
    args = parser.parse_args(argv)
    text = document(args.claims)
    if args.keep:
        Path(args.keep).write_text(text)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "claims.tex"
        path.write_text(text)
        for extra in ((), ("--exact",)):  # interleaved would be fairer; each mode's repeats run back to back
            runs = [run_once(path, extra) for _ in range(args.repeats)]
            report(args, " ".join(extra) or "default", runs)


def report(args, mode, runs):
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    print(f"{mode}: {args.claims} claims, {args.repeats} fresh processes, load {os.getloadavg()[0]:.1f}")
    print(f"  command: median {statistics.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f}); "
          f"cpu: median {statistics.median(cpus):.1f} s")
    verdicts = Counter()
    for name, count in runs[0][2].items():
        verdicts[name] += count
    print("  verdicts:", dict(sorted(verdicts.items())), "methods:", dict(sorted(runs[0][3].items())))
    print("  goal (< 30 s):", "met" if statistics.median(walls) < 30 else "NOT met")


if __name__ == "__main__":
    main()
