"""Time the LaTeX derivation documents (issue 4): render, verify, compile, for the book's networks.

Run:  python benchmarks/bench_latex.py  [--repeats 5]

For each network it reports the median of ``repeats`` runs of
  derive + document   (the printer and the Jinja2 template, given the verification report),
  verify              (symbackprop.verification.verify.verify, which the CLI runs before writing),
  pdflatex            (two runs, as ``--pdf`` does; skipped when pdflatex is missing),
and the page count.  The issue's targets: the 784-128-64-10 document in under 5 s (general forms
for the large layers) and the 3-4-2 network fully explicit in under 5 s.
"""
import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from symbackprop.engine.jacobians import derive
from symbackprop.engine.spec import NetworkSpec
from symbackprop.latex import document as latex
from symbackprop.latex.printing import DerivationPrinter
from symbackprop.verification.verify import verify

NETWORKS = [
    ("3-4-2 sigmoid, mse (sec. 4.2, all explicit)", ("3,4,2", "sigmoid,sigmoid", "mse")),
    ("400-1 sigmoid, mse (ch. 3 single neuron)", ("400,1", "sigmoid", "mse")),
    ("784-128-64-10 relu,relu,sigmoid, mse (ch. 4)", ("784,128,64,10", "relu,relu,sigmoid", "mse")),
]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    print(f"{'network':<48} {'document s':>10} {'verify s':>9} {'pdflatex s':>10} {'total s':>8} "
          f"{'pages':>5}  explicit steps")
    for label, args in NETWORKS:
        docs, checks, compiles = [], [], []
        for _ in range(options.repeats):
            spec = NetworkSpec.from_options(*args)
            t_verify, report = timed(lambda spec=spec: verify(derive(spec)))
            t_doc, tex = timed(lambda spec=spec, report=report: latex.document(derive(spec), report))
            docs.append(t_doc)
            checks.append(t_verify)
        pages = "-"
        if shutil.which("pdflatex"):
            with tempfile.TemporaryDirectory() as folder:
                path = latex.write_atomic(Path(folder, "bench.tex"), tex)
                for _ in range(options.repeats):
                    t_pdf, (pdf, _) = timed(lambda path=path: latex.compile_pdf(path))
                    compiles.append(t_pdf)
                info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
                pages = next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages"))
        d = derive(NetworkSpec.from_options(*args))
        pieces = [p for layer in d for p in DerivationPrinter().layer_pieces(layer).values()]
        explicit = f"{sum(p.explicit for p in pieces)}/{len(pieces)}"
        doc, ver = statistics.median(docs), statistics.median(checks)
        pdf = statistics.median(compiles) if compiles else float("nan")
        print(f"{label:<48} {doc:>10.3f} {ver:>9.3f} {pdf:>10.3f} {doc + ver + (pdf if compiles else 0):>8.2f} "
              f"{pages:>5}  {explicit}")


if __name__ == "__main__":
    main()
