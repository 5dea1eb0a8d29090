"""Benchmark of the core engine: derive and verify, cold, in fresh processes, from 9 to 4 million weights.

    python benchmarks/bench_engine.py [--repeats 3] [--threads 1,2] [--only NAME] [--write]

Every measurement runs in a new Python process (SymPy's caches cold; imports timed apart), with BLAS
pinned to the given number of threads.  The child does what ``symbackprop verify`` does,
``verify(derive(spec))`` with the default ``auto`` method, and reports

* ``derive`` and ``verify``: wall-clock seconds of the two calls;
* ``cpu``: the CPU seconds of derive + verify in the child (``time.process_time``, all its threads; on a
  shared machine the wall clock also counts the time spent waiting for a core, CPU time does not);
* ``command``: wall-clock seconds of the whole process, start-up and imports included (what a user
  waits for at the command line);
* ``rss``: the child's peak resident memory;
* which methods ran and whether every identity held.

Runs are interleaved: each repeat measures every case at every thread count side by side, so that
the medians and the 1-thread / 2-thread ratios come from the same stretch of machine load.
``--write`` rewrites the results section of docs/engine.md and docs/images/engine_scaling.png.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from symbackprop.engine.spec import NetworkSpec
from symbackprop.engine.jacobians import derive
from symbackprop.verification.verify import verify
layers, acts, loss, batch, mode = sys.argv[1:6]
spec = NetworkSpec.from_options(layers, acts, loss, int(batch) or None)
t1, c1 = time.perf_counter(), time.process_time()
d = derive(spec)
if mode == "derive":                  # every per-layer form the derive command reports
    for layer in d:
        layer.da_dy_diagonal if layer.activation.elementwise else layer.da_dy
        layer.dy_dW, layer.dy_db
    d[d.L].dE_da, d[d.L].delta
t2, c2 = time.perf_counter(), time.process_time()
out = {"imports": t1 - t0, "derive": t2 - t1, "weights": spec.n_params}
if mode == "verify":
    report = verify(d)
    out["verify"] = time.perf_counter() - t2
    out["cpu"] = time.process_time() - c1
    out["passed"] = report.passed
    out["checks"] = len(report.checks)
    out["methods"] = sorted({c.method for c in report.checks})
out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def deep(width, depth):
    """``depth`` layers of ``width``: tanh below, a sigmoid output, mse (the issue's deep case)."""
    return ",".join([str(width)] * (depth + 1)), ",".join(["tanh"] * (depth - 1) + ["sigmoid"]), "mse"


# name, (layers, activations, cost), batch, goal in seconds for derive + verify (None: none set), series in the plot
BOOK = ("784,128,64,10", "relu,relu,sigmoid", "mse")
CASES = [
    ("2-2-1", ("2,2,1", "relu,sigmoid", "mse"), 0, None, "relu/sigmoid/mse, widening"),
    ("2-3-2", ("2,3,2", "relu,sigmoid", "mse"), 0, None, "relu/sigmoid/mse, widening"),
    ("8-8-4", ("8,8,4", "relu,sigmoid", "mse"), 0, None, "relu/sigmoid/mse, widening"),
    ("24-32-10", ("24,32,10", "relu,sigmoid", "mse"), 0, None, "relu/sigmoid/mse, widening"),
    ("100-80-10", ("100,80,10", "relu,sigmoid", "mse"), 0, None, "relu/sigmoid/mse, widening"),
    ("book 784-128-64-10", BOOK, 0, 3.0, "relu/sigmoid/mse, widening"),
    ("300-300-10", ("300,300,10", "relu,sigmoid", "mse"), 0, None, "relu/sigmoid/mse, widening"),
    ("book, batch 32", BOOK, 32, 5.0, None),
    ("32 layers of 64", deep(64, 32), 0, 5.0, None),
    ("1000-1000-10", ("1000,1000,10", "tanh,softmax", "cross_entropy"), 0, None, "tanh/softmax/CE"),
    ("2000-2000-10", ("2000,2000,10", "tanh,softmax", "cross_entropy"), 0, 10.0, "tanh/softmax/CE"),
]
MEMORY_GOAL = {"2000-2000-10": 1024}  # MiB
DERIVE_GOAL = 0.1  # s, derive of the book network with every per-layer form (this page's earlier goal)


def run(spec, batch, threads, mode="verify"):
    """One fresh process; returns its measurements (``error`` set if it failed)."""
    pin = str(threads)
    env = dict(os.environ, OMP_NUM_THREADS=pin, OPENBLAS_NUM_THREADS=pin, MKL_NUM_THREADS=pin,
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *spec, str(batch), mode], check=False, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=900)
    wall = time.perf_counter() - start
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1], "command": wall}
    out = json.loads(done.stdout)
    out["command"] = wall
    return out


def median_runs(runs):
    """Medians of the numeric fields over runs without error (the other fields from the first)."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    out = dict(good[0])
    for key in ("imports", "derive", "verify", "cpu", "rss", "command"):
        if key in out:
            out[key] = statistics.median(r[key] for r in good)
    out["passed"] = all(r.get("passed", True) for r in good)
    out["runs"] = len(good)
    return out


def measure(cases, threads, repeats, log=print):
    """{(name, t): median measurements}, each repeat running every case at every thread count in turn."""
    runs = {}
    for rep in range(repeats):
        for name, spec, batch, *_ in cases:
            for t in threads:
                r = run(spec, batch, t)
                runs.setdefault((name, t), []).append(r)
                what = r.get("error") or f"verify {r['verify']:.2f} s, cpu {r['cpu']:.2f} s, {r['rss']:.0f} MiB"
                log(f"  [{rep + 1}/{repeats}] {name}, {t} thread(s): {what}")
    book_derive = {t: median_runs([run(BOOK, 0, t, "derive") for _ in range(repeats)]) for t in threads[:1]}
    return {k: median_runs(v) for k, v in runs.items()}, book_derive[threads[0]]


def _seconds(x):
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def _verdict(wall, cpu, goal):
    if wall < goal:
        return "met"
    return "not met on the wall clock; CPU within" if cpu < goal else "**not met**"


def tables(cases, threads, results, book_derive, header):
    """The markdown of the results section."""
    t0 = threads[0]
    lines = [header, "", ("The issue's goals: derive + verify in one process (`auto` method), wall clock, with the "
                          "CPU time of the same calls:"), "",
             "| case | weights | goal | " + " | ".join(f"{t} BLAS thread{'s' * (t > 1)}" for t in threads)
             + " | peak memory |",
             "|---|---|---|" + "---|" * len(threads) + "---|"]
    for name, _, _, goal, _ in cases:
        if goal is None:
            continue
        r0 = results[(name, t0)]
        if "error" in r0:
            lines.append(f"| {name} | | < {goal:g} s | {r0['error']} |")
            continue
        cells = []
        for t in threads:
            r = results[(name, t)]
            wall = r["derive"] + r["verify"]
            cells.append(f"{_seconds(wall)}, CPU {_seconds(r['cpu'])} ({_verdict(wall, r['cpu'], goal)})")
        mem_goal = MEMORY_GOAL.get(name)
        mem = f"{r0['rss']:.0f} MiB" + (f" (goal < {mem_goal} MiB)" if mem_goal else "")
        lines.append(f"| {name} | {r0['weights']:,} | < {goal:g} s | " + " | ".join(cells) + f" | {mem} |")
    lines.append(f"| derive only, every per-layer form, book | {book_derive['weights']:,} | < {DERIVE_GOAL * 1000:.0f} ms "
                 f"(this page's earlier goal) | {_seconds(book_derive['derive'])} |" + " |" * (len(threads) - 1)
                 + f" {book_derive['rss']:.0f} MiB |")
    lines += ["", (f"Growth with the number of weights ({t0} BLAS thread, medians; *verify CPU* is the CPU time of "
                   "derive + verify, *command* the wall clock of the whole process with start-up and imports):"), "",
              "| network | activations; cost | weights | derive | verify | verify CPU | command | peak memory | methods | "
              + "".join(f"verify time {t0} / {t} threads | " for t in threads[1:]) + "result |",
              "|---|---|---|---|---|---|---|---|---|" + "---|" * len(threads[1:]) + "---|"]
    for name, spec, batch, *_ in sorted(cases, key=lambda c: results[(c[0], t0)].get("weights", 0)):
        r = results[(name, t0)]
        acts = spec[1].replace(",", ", ") if len(spec[1]) < 40 else "tanh x31, sigmoid"
        acts = f"{acts}; {spec[2]}" + (f"; batch {batch}" if batch else "")
        if "error" in r:
            lines.append(f"| {name} | {acts} | | | {r['error']} |")
            continue
        ratios = []
        for t in threads[1:]:
            rt = results[(name, t)]
            ratios.append(f"{r['verify'] / rt['verify']:.2f}" if "error" not in rt else "error")
        lines.append(f"| {name} | {acts} | {r['weights']:,} | {_seconds(r['derive'])} | {_seconds(r['verify'])} | "
                     f"{_seconds(r['cpu'])} | {r['command']:.2f} s | {r['rss']:.0f} MiB | {', '.join(r['methods'])} | "
                     + "".join(f"{x} | " for x in ratios) + ("pass" if r["passed"] else "**FAIL**") + " |")
    return "\n".join(lines)


def plot(cases, threads, results, path):
    """Time and memory against weights, log-log (matplotlib; nothing when it is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot written")
        return
    t0 = threads[0]
    done = [c for c in cases if all("error" not in results[(c[0], t)] for t in threads)]

    def xs(cs):
        return [results[(c[0], t0)]["weights"] for c in cs]

    def ys(cs, key, t=t0):
        return [results[(c[0], t)][key] + (results[(c[0], t)]["derive"] if key == "verify" else 0) for c in cs]

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.5, 6.2))
    series = list(dict.fromkeys(c[4] for c in done if c[4]))
    for k, name in enumerate(series):
        cs = sorted((c for c in done if c[4] == name), key=lambda c: results[(c[0], t0)]["weights"])
        color = f"C{k}"
        ax.loglog(xs(cs), ys(cs, "verify"), "o-", color=color, label=f"{name}: derive + verify, wall")
        ax.loglog(xs(cs), ys(cs, "cpu"), "o:", color=color, mfc="none", label=f"{name}: CPU")
        for t, marker in zip(threads[1:], "^v"):
            ax.loglog(xs(cs), ys(cs, "verify", t), marker, color=color, ms=5, alpha=0.6,
                      label=f"{name}: wall, {t} threads")
        bx.loglog(xs(cs), [results[(c[0], t0)]["rss"] for c in cs], "o-", color=color, label=name)
    single = [c for c in done if not c[4]]
    for k, c in enumerate(single):
        color = f"C{len(series) + k}"
        ax.loglog(xs([c]), ys([c], "verify"), "s", color=color, label=f"{c[0]}: wall")
        ax.loglog(xs([c]), ys([c], "cpu"), "s", color=color, mfc="none")
        bx.loglog(xs([c]), [results[(c[0], t0)]["rss"]], "s", color=color, label=c[0])
    goals = [c for c in done if c[3] is not None]
    ax.loglog(xs(goals), [c[3] for c in goals], "_", color="red", ms=16, mew=2, label="goal (issue 10)")
    by_goal = {}  # one label per goal value: the cases that share it are near each other
    for c in goals:
        by_goal.setdefault(c[3], []).append(c)
    for goal, cs in by_goal.items():
        x = max(results[(c[0], t0)]["weights"] for c in cs)
        ax.annotate(" / ".join(c[0] for c in cs) + f": < {goal:g} s", (x, goal), textcoords="offset points",
                    xytext=(8, -3), fontsize=7, ha="left", color="red")
    ax.set_xlim(right=max(xs(done)) * 60)
    ax.set_xlabel("weights and biases")
    ax.set_ylabel(f"seconds, median of fresh processes ({t0} thread)")
    ax.set_title("time: filled = wall clock, hollow = CPU")
    handles, labels = ax.get_legend_handles_labels()
    bx.axhline(1024, color="red", lw=0.8, ls="--")
    bx.annotate("1 GiB (goal at 4 million weights)", (xs(done)[0], 1024), textcoords="offset points", xytext=(2, -12),
                fontsize=8, color="red")
    bx.set_xlabel("weights and biases")
    bx.set_ylabel("peak resident memory, MiB")
    bx.set_title("memory (whole process, imports included)")
    bx.legend(fontsize=7, loc="center left")
    for a in (ax, bx):
        a.grid(True, which="both", alpha=0.3)
    fig.suptitle("symbackprop: derive + verify, fresh process per run", fontsize=11)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7.5, frameon=False)
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="BLAS thread counts, comma-separated (first is the base)")
    parser.add_argument("--only", help="run only the cases whose name contains one of these comma-separated texts")
    parser.add_argument("--write", action="store_true", help="rewrite docs/engine.md's results and the plot")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    cases = [c for c in CASES if not args.only or any(text in c[0] for text in args.only.split(","))]
    load = os.getloadavg()
    results, book_derive = measure(cases, threads, args.repeats, log=lambda s: print(s, file=sys.stderr))
    load_after = os.getloadavg()
    header = (f"Measured with `python benchmarks/bench_engine.py --repeats {args.repeats} --threads {args.threads}` "
              f"on {os.cpu_count()} cores shared with other jobs: load average (1, 5, 15 min) "
              f"{', '.join(f'{x:.1f}' for x in load)} at the start and "
              f"{', '.join(f'{x:.1f}' for x in load_after)} at the end; fresh process per run, medians of "
              f"{args.repeats}.")
    text = tables(cases, threads, results, book_derive, header)
    print(text)
    if args.write:
        doc = ROOT / "docs" / "engine.md"
        body = doc.read_text()
        start = body.index("<!-- results -->") + len("<!-- results -->")
        end = body.index("<!-- /results -->")
        doc.write_text(body[:start] + "\n" + text + "\n" + body[end:])
        plot(cases, threads, results, ROOT / "docs" / "images" / "engine_scaling.png")


if __name__ == "__main__":
    main()
