"""The executable docs: docs/api.md's examples (doctest) and docs/tour.ipynb (run headlessly by nbclient).

A doc that runs cannot rot.  Beyond "no cell raised", the tour's outputs are checked for what it
promises: derivations rendered as math (text/latex), pictures (image/png), the verification and audit
tables (text/html), and the book's results printed by the cells (3.14 learned, both held-out faces
right, XOR beyond the perceptron rule).  The tour needs the test extras nbclient, nbformat, ipykernel
and matplotlib; without them its tests are skipped.
"""
import doctest
import json
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
TOUR = DOCS / "tour.ipynb"


def test_api_examples_run():
    # every >>> example of docs/api.md, with its printed output, is what the library does today
    result = doctest.testfile(str(DOCS / "api.md"), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 40 and result.failed == 0


def test_tour_is_stored_without_outputs():
    # outputs are produced by running it; a stored copy would go stale silently
    notebook = json.loads(TOUR.read_text())
    assert all(not c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")


@pytest.fixture(scope="module")
def executed():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    notebook = nbformat.read(TOUR, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(DOCS)}})
    client.execute()
    return notebook


def _outputs(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def test_tour_runs_and_renders_math_pictures_and_tables(executed):
    outputs = list(_outputs(executed))
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = [k for o in outputs for k in o.get("data", {})]
    assert kinds.count("text/latex") >= 5  # gradient, a'(y), the neuron, the column of matrices, the network
    assert kinds.count("image/png") >= 6
    assert kinds.count("text/html") >= 2  # the verification report and the audit table
    latex = "".join(o.data["text/latex"] for o in outputs if "text/latex" in o.get("data", {}))
    assert r"\begin{bmatrix}" in latex and "w^{1}_{1,1}" in latex


def test_tour_prints_the_books_results(executed):
    text = "".join(o.get("text", "") for o in _outputs(executed) if o.output_type == "stream")
    assert "np.isclose(W x, 3.14): [ True]" in text
    assert "np.allclose(atol=0.01): True" in text
    assert "'Thin' --- Neuron output (P)" in text and "Final prediction: Thin" in text
    assert "Final prediction: Gross" in text
    assert "every identity holds" in text
    assert "perceptron rule on XOR: 100 epochs" in text and "mistakes in the last: 0" in text
