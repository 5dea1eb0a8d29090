"""Benchmark of the core engine: derive and verify, cold, in fresh processes.

    python benchmarks/bench_engine.py [--repeats 5] [--write]

Each measurement runs in a new Python process (SymPy's caches cold, imports done before the
clock starts), with BLAS pinned to one thread.  Reported: medians over ``--repeats`` runs, peak
resident memory of the verifying process, and how both times grow with the number of weights.
``--write`` rewrites the results section of docs/engine.md and the plot docs/images/engine_scaling.png
(when matplotlib is installed).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from symbackprop.spec import NetworkSpec
from symbackprop.jacobians import derive
from symbackprop.verify import verify
layers, acts, loss, do_verify = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
spec = NetworkSpec.from_options(layers, acts, loss)
t0 = time.perf_counter()
d = derive(spec)
for layer in d:                       # every per-layer form the derive command reports
    layer.da_dy_diagonal if layer.activation.elementwise else layer.da_dy
    layer.dy_dW, layer.dy_db
d[d.L].dE_da, d[d.L].delta
t1 = time.perf_counter()
out = {"derive": t1 - t0, "weights": spec.n_params}
if do_verify:
    report = verify(d)
    out["verify"] = time.perf_counter() - t1
    out["passed"] = report.passed
    out["methods"] = sorted({c.method for c in report.checks})
out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""

BOOK = ("784,128,64,10", "relu,relu,sigmoid", "mse")
DEEP = (",".join(["8"] * 33), ",".join(["tanh"] * 31 + ["sigmoid"]), "mse")
SCALING = [("2,2,1", "relu,sigmoid"), ("2,3,2", "relu,sigmoid"), ("8,8,4", "relu,sigmoid"), ("24,32,10", "relu,sigmoid"),
           ("100,80,10", "relu,sigmoid"), ("300,300,10", "relu,sigmoid")]


def run(layers, acts, loss, verify=True):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", CHILD, layers, acts, loss, "1" if verify else "0"],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def median_of(repeats, *args, **kw):
    runs = [run(*args, **kw) for _ in range(repeats)]
    out = dict(runs[0])
    for key in ("derive", "verify", "rss_mib"):
        if key in out:
            out[key] = statistics.median(r[key] for r in runs)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    book_derive = median_of(args.repeats, *BOOK, verify=False)
    book = median_of(args.repeats, *BOOK)
    deep = median_of(max(1, args.repeats // 2), *DEEP)
    scaling = [median_of(max(1, args.repeats // 2), layers, acts, "mse") for layers, acts in SCALING]
    lines = [
        (f"Measured with `python benchmarks/bench_engine.py --repeats {args.repeats}` "
         f"(fresh process per run, 1 BLAS thread, load average {load:.1f} at the start; medians)."),
        "",
        "| what | network | median | goal |",
        "|---|---|---|---|",
        (f"| derive (per-layer forms) | 784-128-64-10 | {book_derive['derive'] * 1000:.0f} ms | < 100 ms "
         f"(tangent-ad 140 ms, tensorgrad 530 ms) |"),
        (f"| derive + verify all identities | 784-128-64-10 | {book['derive'] + book['verify']:.2f} s, "
         f"peak {book['rss_mib']:.0f} MiB | < 10 s, < 1 GiB |"),
        (f"| derive + verify | 32 layers of 8 | {deep['derive'] + deep['verify']:.2f} s | works (tensorgrad: "
         f"RecursionError at 12 layers) |"),
        "",
        "Growth with the number of weights (relu, sigmoid, mse; `auto` method):",
        "",
        "| network | weights | derive | verify | method | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    for (layers, _), r in zip(SCALING, scaling):
        lines.append(f"| {layers.replace(',', '-')} | {r['weights']:,} | {r['derive'] * 1000:.1f} ms | "
                     f"{r['verify']:.2f} s | {', '.join(r['methods'])} | {r['rss_mib']:.0f} MiB |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        doc = ROOT / "docs" / "engine.md"
        body = doc.read_text()
        start = body.index("<!-- results -->") + len("<!-- results -->")
        end = body.index("<!-- /results -->")
        doc.write_text(body[:start] + "\n" + text + "\n" + body[end:])
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib not installed: no plot written")
            return
        fig, ax = plt.subplots(figsize=(6, 4))
        w = [r["weights"] for r in scaling]
        ax.loglog(w, [r["derive"] for r in scaling], "o-", label="derive")
        ax.loglog(w, [r["verify"] for r in scaling], "s-", label="verify")
        ax.set_xlabel("number of weights and biases")
        ax.set_ylabel("seconds (median, cold process)")
        ax.set_title("symbackprop: time against network size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        (ROOT / "docs" / "images").mkdir(exist_ok=True)
        fig.savefig(ROOT / "docs" / "images" / "engine_scaling.png", dpi=120)


if __name__ == "__main__":
    main()
