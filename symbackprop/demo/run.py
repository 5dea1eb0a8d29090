"""``symbackprop demo``: the book end to end in one run, everything written into one folder.

Six steps, each printed as it runs (about 15-20 s on two shared cores):

1. chapter 1's games, played by the engine: a linear neuron learns, by the gradient SymPy derives,
   to turn [1, 2, 3, 4] into 3.14; a 3x4 matrix learns 3.14, 2.71 and 6.63 at once;
2. the book's networks derived and verified layer by layer: the chapter 3 neuron (400-1 sigmoid),
   the section 4.2 two-layer network and the chapter 4 network 784-128-64-10;
3. the LaTeX derivation of the two-layer network, and its PDF when pdflatex is installed;
4. the chapter 3 neuron emitted as a NumPy module (the book style, :data:`EMIT_STYLE`) and trained on the book's little faces, then
   asked about the two held-out faces, as the book's listing does;
5. XOR: a 2-layer network learns it, Rosenblatt's perceptron rule cannot;
6. the book audit (:mod:`symbackprop.book.audit`) on one screen, with the full report written.

Every file is written atomically (temporary file, then rename); Ctrl-C stops with one line and
leaves no half-written file.  A folder that already holds files is used only with ``--force``
(then only the demo's own files are replaced).

The little faces are decoded without an imaging library:

>>> image = little_face("thin4")
>>> image.shape, sorted(set(image.tolist()))
((400,), [0.0, 1.0])
"""
import importlib.util
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from symbackprop.demo.images import little_face
from symbackprop.demo.plots import INSTALL_HINT
from symbackprop.errors import SymbackpropError

DEFAULT_FOLDER = "symbackprop-demo"
PDFLATEX_HINT = "apt-get install texlive-latex-base texlive-latex-recommended"

#: The section 4.2 network. The book names its sizes m (inputs), n, p and leaves them and the
#: activations open; the demo chooses m = 3, n = 4, p = 2, sigmoid in both layers, and the MSE of
#: the chapter 3 listing.
TWO_LAYER = ("3,4,2", "sigmoid,sigmoid", "mse")
NETWORKS = (  # (what the book calls it, sizes, activations, cost)
    ("chapter 3: one sigmoid neuron on 400 pixels", "400,1", "sigmoid", "mse"),
    ("section 4.2: a two-layer perceptron (m=3, n=4, p=2 chosen by the demo)", *TWO_LAYER),
    ("chapter 4: the MNIST network", "784,128,64,10", "relu,relu,sigmoid", "mse"),
)
TRAIN_FACES, TEST_FACES = ("gross1", "gross2", "gross3", "thin1", "thin2", "thin3"), ("thin4", "gross4")
XOR_X, XOR_Z = np.array([[0, 0, 1, 1], [0, 1, 0, 1]]), np.array([[0, 1, 1, 0]])
#: The style of the modules the demo emits: "book" (the book's loop in plain NumPy, equation numbers in the
#: comments), because the demo's modules are there to be read beside the book; its networks are tiny, so the
#: fast style's speed would buy nothing here (`symbackprop emit` keeps "fast" as its default).
EMIT_STYLE = "book"


def readable(path):
    """Give a file the emitted module saved the usual permissions (its save() uses an owner-only temp file)."""
    import os

    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
    return path


# -- the run --------------------------------------------------------------------------------------------
@dataclass
class Demo:
    """The folder, what was written there, and the numbers each step found (for the tests)."""

    folder: Path
    stream: object = None
    written: list = field(default_factory=list)
    results: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def say(self, text=""):
        print(text, file=self.stream or sys.stdout, flush=True)

    def heading(self, number, title):
        self.say(f"\n== {number}. {title} " + "=" * max(3, 74 - len(title)))

    def path(self, name, what):
        path = self.folder / name
        if path not in [p for p, _ in self.written]:
            self.written.append((path, what))
        return path

    def write_text(self, name, text, what):
        from symbackprop.emission.codegen import write_atomic

        write_atomic(self.path(name, what), text, force=True)

    def picture(self, name, draw, what):
        """Save ``draw()`` as a PNG when matplotlib is there; say how to get it otherwise."""
        from symbackprop.demo import plots

        self.results.setdefault("pictures", []).append(name)  # every picture the demo draws, drawn or not
        try:
            plots.require_matplotlib()
        except SymbackpropError:
            if not self.results.get("pictures_skipped"):
                self.say(f"   (no pictures: matplotlib is not installed; {INSTALL_HINT})")
            self.results["pictures_skipped"] = self.results.get("pictures_skipped", 0) + 1
            return None
        path = plots.save(draw(), self.path(name, what), force=True)
        self.say(f"   picture: {path}")
        return path

    def load_module(self, name, source, what):
        """Write emitted source to the folder and import it from there (no __pycache__ left behind)."""
        self.write_text(name, source, what)
        path = self.folder / name
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            spec.loader.exec_module(module)
        finally:
            sys.dont_write_bytecode = saved
        return module


def _named(spec, name):
    """The same spec under another name (the name heads the emitted module's docstring)."""
    return type(spec)(spec.sizes, spec.activations, spec.cost, spec.batch, name=name)


def step_games(demo):
    """Chapter 1: the little game and the extended game, learned by the SymPy-derived gradient."""
    from symbackprop.engine.jacobians import derive
    from symbackprop.engine.spec import NetworkSpec

    demo.heading(1, "Chapter 1: equations that learn (the little games)")
    x = np.array([1.0, 2.0, 3.0, 4.0])
    plays = (  # (targets, starting W, learning rate, steps): the book's starting weights
        ([3.14], np.array([[0.9, 1.5, -0.1, 0.3]]), 0.01, 60),
        ([3.14, 2.71, 6.63], np.random.RandomState(42).randn(3, 4) * 0.5, 0.03, 60),
    )
    for targets, W, lr, steps in plays:
        n = len(targets)
        d = derive(NetworkSpec.from_options(f"4,{n}", "identity", "mse"))
        net = d.network
        # dE/dW^1 = delta^1 x^T (eq. 66) with delta^1 written out, then y = W x (the game has no bias)
        gradient = d.outer_gradient(1, "W").xreplace(net.composed_substitution()).xreplace(
            {b: 0 for b in net.b(1)})
        if n == 1:
            demo.say("The engine derives, for y = w . x (identity activation) and E = (y - z)^2:")
            for j in range(4):
                demo.say(f"   dE/dw_{j + 1} = {sp.factor(gradient[0, j])}")
        step = sp.lambdify([list(net.W(1)), list(net.x), list(net.z)], gradient, "numpy")
        W = W.astype(float)
        demo.say(f"\n{n} neuron(s), targets {targets}, starting W = {np.array2string(W, precision=4)}")
        demo.say(f"   start: W x = {np.round(W @ x, 4).tolist()}")
        for k in range(1, steps + 1):
            W = W - lr * np.asarray(step(W.ravel(), x, targets), dtype=float)
            if k in (1, 2, 3, 10, steps):
                demo.say(f"   step {k:>2}: W x = {np.round(W @ x, 4).tolist()}")
        result = W @ x
        close = bool(np.allclose(result, targets, atol=0.01))
        demo.say(f"   learned W = {np.array2string(W, precision=4)}")
        demo.say(f"   result {np.round(result, 4).tolist()} vs {targets}: np.allclose(atol=0.01) is {close}"
                 f"{' (np.isclose, the first listing test: ' + str(bool(np.isclose(result[0], 3.14))) + ')' if n == 1 else ''}")
        demo.results[f"game{n}"] = {"W": W, "result": result, "targets": targets, "close": close}

    def draw():
        from symbackprop.demo.plots import descent_figure

        return descent_figure()

    demo.say("\nThe same rule on the tutorial's loss w1^2 + w2^2 (gradient by sp.diff, lr 0.1, 20 steps):")
    demo.picture("gradient_descent.png", draw, "gradient descent on w1^2 + w2^2 (tutorial)")


def step_verify(demo):
    """Derive and verify the book's networks; print the per-layer verification tables."""
    from symbackprop.engine.jacobians import derive
    from symbackprop.engine.spec import NetworkSpec
    from symbackprop.verification.verify import verify

    demo.heading(2, "Derive and verify the book's networks")
    demo.say("Each gradient three ways: (a) derivative of the composed E, (b) the long chain of eq. 50-51,\n"
             "(c) the outer products delta^l s^T of eq. 66; shown equal exactly or to 50 digits, plus float64.")
    tables = []
    for title, sizes, acts, cost in NETWORKS:
        derivation = derive(NetworkSpec.from_options(sizes, acts, cost))
        report = verify(derivation)
        demo.say(f"\n-- {title}\n{report.table()}")
        tables.append(f"-- {title}\n{report.table()}\n")
        demo.results[sizes] = report
        if sizes == TWO_LAYER[0]:
            demo.results["two_layer"] = (derivation, report)
    demo.write_text("verification.txt", "\n".join(tables), "the three verification tables")
    from symbackprop.demo.plots import activations_figure, sparsity_figure, vanishing_gradient_figure

    demo.say("")
    demo.picture("activations.png", activations_figure, "every activation with its SymPy-derived derivative")
    demo.picture("vanishing_gradient.png", vanishing_gradient_figure, "sigmoid vs ReLU: the vanishing gradient")
    demo.picture("jacobian_sparsity.png", sparsity_figure, "Jacobian patterns: diagonal, softmax, column of matrices")


def step_latex(demo):
    """The LaTeX derivation of the two-layer network; the PDF when pdflatex is installed."""
    from symbackprop.latex.document import compile_pdf, document

    demo.heading(3, "The derivation of the two-layer network, typeset")
    derivation, report = demo.results["two_layer"]
    name = "two_layer_network.tex"
    demo.write_text(name, document(derivation, report), "LaTeX derivation of the section 4.2 network")
    demo.say(f"   wrote {demo.folder / name}")
    if shutil.which("pdflatex") is None:
        demo.say(f"   pdflatex is not installed, so no PDF; get it with: {PDFLATEX_HINT}")
        return
    try:
        pdf, _ = compile_pdf(demo.folder / name)
    except SymbackpropError as exc:
        demo.say(f"   no PDF: {exc}")
        return
    demo.path(pdf.name, "the same derivation as PDF")
    demo.say(f"   wrote {pdf}")


def step_faces(demo):
    """Emit the chapter 3 neuron, train it on the little faces, classify the held-out faces."""
    from symbackprop.emission.codegen import emit
    from symbackprop.engine.spec import NetworkSpec
    from symbackprop.support.progress import bar

    demo.heading(4, "Chapter 3: a neuron learns the little faces")
    demo.say("The images are the book's own (github.com/aleperrod/perceptron-book, carinhas/), shipped in\n"
             "symbackprop/data/little_faces; prepared as the listing does: grey/255 > 0.7 gives 0 or 1.")
    spec = _named(NetworkSpec.from_options("400,1", "sigmoid", "mse"), "little-faces")
    model = demo.load_module("little_faces_model.py", emit(spec, style=EMIT_STYLE),
                             "emitted NumPy training module (400-1 sigmoid), the book's loop")
    demo.say(f"   emitted {demo.folder / 'little_faces_model.py'} (the book's loop in NumPy, equation numbers in "
             f"its comments; python it --help)")
    X = np.column_stack([little_face(n) for n in TRAIN_FACES])
    Z = np.array([[0, 0, 0, 1, 1, 1]])  # 0 = "Gross", 1 = "Thin"
    params = model.init_params(seed=0, scale=0.01)  # W = randn * 0.01, b = 0 as in the listing
    epochs = 30
    with bar(epochs, "   training (lr 0.1, one face at a time)", demo.stream or sys.stdout) as progress:
        def tick(epoch, error, params):
            progress.update()
            progress.set_postfix_str(f"mean error {error:.4f}")

        history = model.train(params, X, Z, epochs=epochs, lr=0.1, batch_size=1, callback=tick)
    demo.say(f"   mean error per epoch: {history[0]:.4f} (epoch 1) -> {history[-1]:.4f} (epoch {len(history)})")
    model.save(params, demo.path("little_faces_params.npz", "the trained W and b"))
    readable(demo.folder / "little_faces_params.npz")
    demo.write_text("little_faces_cost.txt", "\n".join(f"{e:.10g}" for e in history) + "\n",
                    "the cost history, one number per epoch")
    answers = {}
    for name in TEST_FACES:
        P = float(model.predict(params, little_face(name)[:, None])[0, 0])
        answers[name] = P
        real = "Thin" if name.startswith("thin") else "Gross"
        demo.say(f"   --- Testing image: '{real}' ({name}.png, never seen in training) ---")
        demo.say(f"   Neuron output (P): {P:.4f}   Final prediction: {'Thin' if P > 0.5 else 'Gross'}")
    demo.results["faces"] = {"history": history, "P": answers, "params": params}
    from symbackprop.demo.plots import cost_figure, faces_figure

    demo.picture("little_faces_cost.png", lambda: cost_figure(history, "Error evolution during training "
                                                                       "(little faces)"),
                 "the cost curve of the little-faces training")
    images = [little_face(n) for n in (*TRAIN_FACES, *TEST_FACES)]
    titles = [("Thin" if n.startswith("thin") else "Gross") + f" ({n})" for n in TRAIN_FACES]
    titles += [f"{n}: P={answers[n]:.2f}" for n in TEST_FACES]
    demo.picture("little_faces.png", lambda: faces_figure(images, titles), "the faces and the two predictions")


def step_xor(demo):
    """XOR: the emitted 2-4-1 network learns it; the perceptron rule cannot."""
    from symbackprop.emission.codegen import emit, emit_perceptron
    from symbackprop.engine.spec import NetworkSpec

    demo.heading(5, "XOR: why the book needs more than one layer")
    spec = _named(NetworkSpec.from_options("2,4,1", "tanh,sigmoid", "bce"), "xor")
    net = demo.load_module("xor_network.py", emit(spec, style=EMIT_STYLE), "emitted 2-4-1 tanh/sigmoid/bce module for XOR")
    params = net.init_params(seed=1, scale=1.0)
    history = net.train(params, XOR_X, XOR_Z, epochs=2000, lr=1.0, batch_size=4)
    P = net.predict(params, XOR_X)[0]
    rule = demo.load_module("xor_perceptron.py", emit_perceptron(2, 1), "Rosenblatt's perceptron rule, 1 step neuron")
    learned = {}
    for gate, targets in (("AND", [[0, 0, 0, 1]]), ("XOR", XOR_Z)):
        p = rule.init_params(seed=0)
        mistakes = rule.train(p, XOR_X, np.array(targets), epochs=100, lr=0.1)
        learned[gate] = (mistakes, rule.predict(p, XOR_X)[0])
    demo.say(" x1 x2 | XOR | 2-layer network (backprop) | perceptron rule after 100 epochs")
    for c in range(4):
        demo.say(f"  {XOR_X[0, c]}  {XOR_X[1, c]} |  {XOR_Z[0, c]}  | P = {P[c]:.3f} -> {int(P[c] > 0.5)}"
                 f"{'':>13}| {int(learned['XOR'][1][c])}")
    demo.say(f"   network: error {history[0]:.3f} -> {history[-1]:.4f} in 2000 epochs; "
             f"all four right: {bool(((P > 0.5) == XOR_Z[0]).all())}")
    and_mistakes, xor_mistakes = learned["AND"][0], learned["XOR"][0]
    demo.say(f"   perceptron rule: AND learned after {len(and_mistakes)} epochs (mistakes {and_mistakes}); XOR still "
             f"wrong in every one of {len(xor_mistakes)} epochs (mistakes per epoch {min(xor_mistakes)} to "
             f"{max(xor_mistakes)}): no line separates XOR")
    demo.results["xor"] = {"P": P, "perceptron_mistakes": xor_mistakes, "and_mistakes": and_mistakes}


def step_audit(demo):
    """The book audit: a one-screen summary; the full report in Markdown."""
    from symbackprop.book.audit import CONDITIONAL, FAILS, _totals, audit, claims, markdown_report
    from symbackprop.support.progress import track

    demo.heading(6, "Is the book right? The audit, claim by claim")
    outcomes = []
    for claim in track(claims(), desc="   checking claims", stream=demo.stream or sys.stdout):
        outcomes += audit([claim.id])
    demo.say(f"   {_totals(outcomes)}")
    for verdict, label in ((FAILS, "fail"), (CONDITIONAL, "hold only under a condition")):
        picked = [o for o in outcomes if o.verdict == verdict]
        demo.say(f"   {len(picked)} {label}:")
        for o in picked:
            line = f"     {o.claim.id:<28} {o.finding.summary}"
            demo.say(line if len(line) <= 110 else line[:107] + "...")
    demo.write_text("book_audit.md", markdown_report(outcomes), "the full audit: every claim, check and evidence")
    demo.say(f"   full report: {demo.folder / 'book_audit.md'}  (or: symbackprop verify-book --show ID)")
    demo.results["audit"] = outcomes


STEPS = (step_games, step_verify, step_latex, step_faces, step_xor, step_audit)


def prepare_folder(folder, force=False):
    """The output folder, created if missing; refuses one that holds files unless ``force``.

    Returns (path, created).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SymbackpropError(f"{folder} is a file, not a folder; choose another --out")
    if folder.is_dir():
        present = sorted(p.name for p in folder.iterdir())
        if present and not force:
            shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
            raise SymbackpropError(f"{folder} already holds files ({shown}); pass --force to write into it "
                                   f"(the demo's own files are replaced, others are left alone) or choose --out")
        return folder, False
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise SymbackpropError(f"cannot create {folder}: {exc.strerror or exc}") from None
    return folder, True


def run_demo(folder=DEFAULT_FOLDER, force=False, stream=None, steps=None):
    """Run the steps (default :data:`STEPS`), writing into ``folder``; returns the :class:`Demo`."""
    from symbackprop.support.progress import no_half_written_files

    steps = STEPS if steps is None else steps
    folder, created = prepare_folder(folder, force)
    demo = Demo(folder, stream)
    try:
        with no_half_written_files(folder):
            for step in steps:
                step(demo)
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    demo.say(f"\n== Written into {folder}/ " + "=" * 50)
    for path, what in demo.written:
        if path.exists():
            demo.say(f"   {path.name:<26} {what}")
    if demo.results.get("pictures_skipped"):
        demo.say(f"   ({demo.results['pictures_skipped']} pictures skipped: {INSTALL_HINT})")
    demo.say(f"\nDone in {time.perf_counter() - demo.started:.1f} s.  Next: open the files above, run an emitted module "
             f"(python FILE.py --help),\nread the notebook docs/tour.ipynb, or see symbackprop --help.")
    return demo
