"""Benchmark: the size-generic proofs of symbackprop.proofs (issue item 5: depth 1-3 together under 30 s).

Each repetition runs ``prove_all(depths)`` in a fresh Python process (so SymPy's
cache starts cold, as for a user running ``symbackprop prove``), after the
import, and reports per-proof seconds, the total, and the child's peak memory.
Medians over the repetitions are printed as a Markdown table; ``--write``
puts that table into docs/proofs.md between the BENCHMARK markers.

    python benchmarks/bench_proofs.py --repeat 5 --write
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from symbackprop.proofs import prove_all
imported = time.perf_counter() - t0
t0 = time.perf_counter()
proofs = prove_all(depths=tuple(int(d) for d in sys.argv[1].split(",")))
total = time.perf_counter() - t0
print(json.dumps({"import": imported, "total": total,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "proofs": [[p.name, p.seconds, p.verdict] for p in proofs]}))
"""

DOC = Path(__file__).resolve().parent.parent / "docs" / "proofs.md"
BEGIN, END = "<!-- BENCHMARK:BEGIN -->", "<!-- BENCHMARK:END -->"


def run_once(depths):
    out = subprocess.run([sys.executable, "-c", CHILD, ",".join(map(str, depths))],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def table(runs, depths):
    names = [name for name, _, _ in runs[0]["proofs"]]
    lines = [(f"Measured with `python benchmarks/bench_proofs.py --repeat {len(runs)}` "
             f"({platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
             "each repetition a fresh process, SymPy cache cold; medians):"), "",
             "| proof | median s | min s | max s | verdict |", "|---|---:|---:|---:|---|"]
    for index, name in enumerate(names):
        times = [run["proofs"][index][1] for run in runs]
        verdict = runs[0]["proofs"][index][2]
        lines.append(f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} | {verdict} |")
    depth_rows = [index for index, name in enumerate(names) if name.startswith("depth ")]
    depth_total = [sum(run["proofs"][index][1] for index in depth_rows) for run in runs]
    totals = [run["total"] for run in runs]
    lines += ["",
              (f"- direct depth proofs {', '.join(map(str, depths))} together: median "
              f"**{statistics.median(depth_total):.2f} s** (budget 30 s)"),
              (f"- all proofs (`prove_all`): median **{statistics.median(totals):.2f} s** "
              f"(min {min(totals):.2f}, max {max(totals):.2f})"),
              (f"- import of symbackprop.proofs: median {statistics.median(r['import'] for r in runs):.2f} s; "
              f"peak memory of the process: {max(r['peak_mib'] for r in runs):.0f} MiB")]
    return "\n".join(lines)


def write_doc(text):
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} section to fill")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with tempfile.NamedTemporaryFile("w", dir=DOC.parent, delete=False, suffix=".tmp") as handle:
        handle.write(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    os.replace(handle.name, DOC)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--depths", default="1,2,3")
    parser.add_argument("--write", action="store_true", help="write the table into docs/proofs.md")
    args = parser.parse_args()
    depths = tuple(int(d) for d in args.depths.split(","))
    runs = [run_once(depths) for _ in range(args.repeat)]
    text = table(runs, depths)
    print(text)
    if args.write:
        write_doc(text)


if __name__ == "__main__":
    main()
