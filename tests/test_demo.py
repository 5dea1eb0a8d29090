"""``symbackprop demo`` (symbackprop/demo.py) and the progress helpers it uses (symbackprop/progress.py).

The demo runs once (module fixture); every number it reports is recomputed here independently:
W x from the learned weights, the held-out faces' outputs from the saved parameters and images
decoded by Pillow, XOR from the emitted module's own predictions.
"""
import io
import os
import stat
import sys

import numpy as np
import pytest

from symbackprop.book.audit import claims
from symbackprop.cli import main
from symbackprop.demo import images
from symbackprop.demo import run as demo_module
from symbackprop.engine.jacobians import derive
from symbackprop.engine.spec import NetworkSpec
from symbackprop.support.progress import TextBar, bar, no_half_written_files, track
from symbackprop.support.resources import data_path

X_GAME = np.array([1.0, 2.0, 3.0, 4.0])
FACES = ("gross1", "gross2", "gross3", "gross4", "thin1", "thin2", "thin3", "thin4", "thin5")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "out"
    stream = io.StringIO()
    result = demo_module.run_demo(folder, stream=stream)
    return result, stream.getvalue()


# -- step 1: the chapter 1 games ----------------------------------------------------------------
def test_engine_gradient_of_the_game_is_the_hand_derivative():
    # E = (w . x - z)^2  =>  dE/dw_j = 2 (w . x - z) x_j   (eq. 15-17 for one linear neuron)
    d = derive(NetworkSpec.from_options("4,1", "identity", "mse"))
    net = d.network
    grad = d.outer_gradient(1, "W").xreplace(net.composed_substitution()).xreplace({net.b(1)[0]: 0})
    rng = np.random.default_rng(3)
    w, z = rng.normal(size=4), 3.14
    values = {**dict(zip(net.W(1), w)), **dict(zip(net.x, X_GAME)), net.z[0]: z}
    engine = np.array([float(g.xreplace(values)) for g in grad])
    assert np.allclose(engine, 2 * (w @ X_GAME - z) * X_GAME, rtol=1e-12)


def test_games_learn_the_constants_to_the_books_tolerance(run):
    result, _ = run
    one, three = result.results["game1"], result.results["game3"]
    # the book's tests: np.isclose(f(x), 3.14) and np.allclose(W x, [3.14, 2.71, 6.63], atol=0.01)
    assert np.isclose(one["W"] @ X_GAME, 3.14).all()
    assert np.allclose(three["W"] @ X_GAME, [3.14, 2.71, 6.63], atol=0.01)
    # started from the book's weights: W x was 4.8 before learning
    assert one["W"].shape == (1, 4) and three["W"].shape == (3, 4)


# -- step 2: derive and verify --------------------------------------------------------------------
def test_three_book_networks_verified(run):
    result, out = run
    for sizes in ("400,1", "3,4,2", "784,128,64,10"):
        report = result.results[sizes]
        assert report.passed
        layers = {c.layer for c in report.checks}
        assert layers == set(range(1, sizes.count(",") + 1))  # every layer checked
    text = (result.folder / "verification.txt").read_text()
    assert text.count("every identity holds") == 3
    assert "784-128-64-10 [relu, relu, sigmoid]" in out


# -- step 3: LaTeX -----------------------------------------------------------------------------------
def test_latex_document_and_pdf(run):
    result, out = run
    tex = (result.folder / "two_layer_network.tex").read_text()
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert "w^{2}_{2,4}" in tex  # a weight of the 3-4-2 network: W^2 is 2 x 4
    pdf = result.folder / "two_layer_network.pdf"
    if demo_module.shutil.which("pdflatex"):
        assert pdf.read_bytes()[:5] == b"%PDF-"
    else:
        assert not pdf.exists() and demo_module.PDFLATEX_HINT in out


# -- step 4: the little faces --------------------------------------------------------------------------
def test_png_decoder_agrees_with_pillow():
    Image = pytest.importorskip("PIL.Image")
    for name in FACES:
        path = data_path("little_faces", f"{name}.png")
        ours = images.read_png(path) * 255
        pil = np.asarray(Image.open(path).convert("L"), dtype=float)  # the book's listing's conversion
        assert ours.shape == pil.shape == (20, 20)
        assert np.abs(ours - pil).max() <= 0.5 + 1e-9  # PIL rounds the same weighted sum to an integer
        assert ((ours / 255 > 0.7) == (pil / 255 > 0.7)).all()


def test_read_png_refuses_what_is_not_a_png(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"GIF89a....")
    with pytest.raises(demo_module.SymbackpropError, match="not a PNG"):
        images.read_png(path)


def test_held_out_faces_classified_as_the_book_does(run):
    result, out = run
    faces = result.results["faces"]
    assert faces["history"][-1] < faces["history"][0] / 10  # the cost curve descends (book ch. 3, step 4)
    with np.load(result.folder / "little_faces_params.npz") as saved:
        W, b = saved["W1"], saved["b1"]
    for name, thin in (("thin4", True), ("gross4", False)):
        x = demo_module.little_face(name)
        P = 1 / (1 + np.exp(-(W @ x + b)))  # y = W . x + b, P = sigmoid(y): the listing's forward pass
        assert np.isclose(P.item(), faces["P"][name], rtol=1e-12)
        assert (P.item() > 0.5) == thin
    assert "Final prediction: Thin" in out and "Final prediction: Gross" in out
    history = [float(v) for v in (result.folder / "little_faces_cost.txt").read_text().split()]
    assert np.allclose(history, faces["history"], rtol=1e-9)


def test_the_demos_modules_are_the_book_style_and_pass_verify_emitted(run):
    """The modules the demo writes are emit(spec, style=EMIT_STYLE) (the book's loop) and their own loss and
    gradients equal the derivation at 50 digits (verify --emitted, the points with |y| of order 1 and 1e-3)."""
    from symbackprop.emission.codegen import emit
    from symbackprop.verification.emitted import REGIMES, load_module, verify_emitted

    result, _ = run
    assert demo_module.EMIT_STYLE == "book"
    for name in ("little_faces_model.py", "xor_network.py"):
        path = result.folder / name
        spec = NetworkSpec.from_toml_text(load_module(path).SPEC_TOML)
        assert path.read_text() == emit(spec, style=demo_module.EMIT_STYLE)
        report = verify_emitted(path, regimes=REGIMES[:2])
        assert report.passed, report.table()


# -- step 5: XOR -------------------------------------------------------------------------------------
def test_xor_network_learns_and_perceptron_rule_cannot(run):
    result, _ = run
    xor = result.results["xor"]
    assert ((xor["P"] > 0.5) == np.array([False, True, True, False])).all()
    assert len(xor["perceptron_mistakes"]) == 100 and min(xor["perceptron_mistakes"]) > 0
    assert xor["and_mistakes"][-1] == 0  # the same rule does learn AND (linearly separable)


# -- step 6: the audit ------------------------------------------------------------------------------------
def test_audit_summary_and_full_report(run):
    result, out = run
    outcomes = result.results["audit"]
    assert [o.claim.id for o in outcomes] == [c.id for c in claims()]
    fails = [o for o in outcomes if o.verdict == "fails"]
    assert f"{len(fails)} fail:" in out
    report = (result.folder / "book_audit.md").read_text()
    assert all(f"`{o.claim.id}`" in report for o in outcomes)


# -- the folder ------------------------------------------------------------------------------------------
def test_written_files_are_listed_complete_and_readable(run):
    result, out = run
    names = {p.name for p in result.folder.iterdir()}
    expected = {"verification.txt", "two_layer_network.tex", "little_faces_model.py", "little_faces_params.npz",
                "little_faces_cost.txt", "xor_network.py", "xor_perceptron.py", "book_audit.md"}
    assert expected <= names
    assert not [n for n in names if n.endswith(".tmp") or n == "__pycache__"]
    umask = os.umask(0)
    os.umask(umask)
    for path, _ in result.written:
        assert path.name in out.split("== Written into")[1]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask  # not mkstemp's owner-only 0600
    for module in ("little_faces_model.py", "xor_network.py", "xor_perceptron.py"):
        compile((result.folder / module).read_text(), module, "exec")


def test_with_matplotlib_every_picture_is_written_and_drawn(run):
    """The pictures the demo draws (every call of Demo.picture) are all in the folder, none skipped, each a PNG
    that decodes (our own reader) to more than a blank canvas."""
    pytest.importorskip("matplotlib")
    result, out = run
    attempted = result.results["pictures"]
    assert attempted and not result.results.get("pictures_skipped") and "skipped" not in out
    assert sorted(p.name for p in result.folder.glob("*.png")) == sorted(attempted)
    for name in attempted:
        grey = images.read_png(result.folder / name)
        assert grey.size > 100 * 100 and len(np.unique(grey.round(2))) > 10, name


def test_refuses_a_folder_with_files_and_leaves_it_alone(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and "notes.txt" in err and len(err.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("")
    assert main(["demo", "--out", str(tmp_path / "file")]) == 2


def test_force_replaces_only_the_demos_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "xor_network.py").write_text("old")
    demo_module.run_demo(tmp_path, force=True, stream=io.StringIO(), steps=(demo_module.step_xor,))
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert "def train" in (tmp_path / "xor_network.py").read_text()


def test_ctrl_c_stops_with_one_line_and_no_half_written_file(tmp_path, monkeypatch, capsys):
    def interrupted(demo):  # a writer stopped half-way: its temporary file is still there
        (demo.folder / ".book_audit.md.abc.tmp").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_module, "STEPS", (demo_module.step_xor, interrupted))
    folder = tmp_path / "out"
    assert main(["demo", "--out", str(folder)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0]
    assert sorted(p.name for p in folder.iterdir()) == ["xor_network.py", "xor_perceptron.py"]
    assert "def train" in (folder / "xor_network.py").read_text()


def test_ctrl_c_before_any_file_removes_the_folder_it_created(tmp_path, monkeypatch):
    def interrupted(demo):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_module, "STEPS", (interrupted,))
    assert main(["demo", "--out", str(tmp_path / "new")]) == 130
    assert not (tmp_path / "new").exists()


# -- progress ------------------------------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_text_bar_redraws_on_a_terminal_and_prints_one_line_otherwise():
    live = Terminal()
    with TextBar(4, "work", live) as b:
        for _ in range(4):
            b.update()
    assert live.getvalue().count("\r") >= 2 and live.getvalue().endswith("4/4 [" + "#" * 30 + "] 100%\n")
    log = io.StringIO()
    with TextBar(4, "work", log) as b:
        b.update(2)
    assert log.getvalue() == "work: 2/4 [" + "#" * 15 + "." * 15 + "]  50%\n"


def test_bar_uses_tqdm_on_a_terminal_only_when_installed(monkeypatch):
    monkeypatch.setattr("symbackprop.support.progress.have_tqdm", lambda: False)
    assert isinstance(bar(3, "x", Terminal()), TextBar)
    assert isinstance(bar(3, "x", io.StringIO()), TextBar)
    tqdm = pytest.importorskip("tqdm")
    monkeypatch.undo()
    b = bar(3, "x", Terminal())
    assert isinstance(b, tqdm.tqdm)
    b.close()


def test_track_counts_every_item():
    out = io.StringIO()
    assert list(track(range(5), desc="n", stream=out)) == [0, 1, 2, 3, 4]
    assert out.getvalue().startswith("n: 5/5")


def test_cleanup_removes_only_new_temporary_files(tmp_path):
    (tmp_path / ".old.tmp").write_text("someone else's")
    with pytest.raises(RuntimeError), no_half_written_files(tmp_path):
        (tmp_path / ".new.py.x1.tmp").write_text("half")
        (tmp_path / "done.txt").write_text("complete")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == [".old.tmp", "done.txt"]



def test_without_matplotlib_the_demo_says_once_how_to_get_pictures(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = io.StringIO()
    demo_module.run_demo(tmp_path / "out", stream=out, steps=(demo_module.step_games, demo_module.step_faces))
    text = out.getvalue()
    assert text.count("matplotlib is not installed") == 1 and "3 pictures skipped" in text
    assert not list((tmp_path / "out").glob("*.png"))
    assert (tmp_path / "out" / "little_faces_cost.txt").exists()  # the numbers are still written
