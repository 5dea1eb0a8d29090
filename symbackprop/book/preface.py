"""The preface, the table of contents and the book's cross-references by name.

The book refers to its own sections by title ("see Section Training") and, once, by an unresolved label
("Chapter [train-in-batches]").  The headings below are transcribed from the book's body, in order; each check
compares what the text points to with what is there.
"""
import importlib.util

from symbackprop.book.model import FAILS, Part, expect, finding

PART = Part("preface")
claim = PART.claim

#: The headings of the book's body, in order (chapters, sections, appendices; subsection titles the text cites).
HEADINGS = (
    "Preface", "Introduction", "1. Shall We Start with a Little Game?", "1.1. Giving Life to Equations",
    "2. The Basic Description", "2.1. Weights and Biases, or Trainable Parameters",
    "2.2. The General Form of the Perceptron", "2.3. Two Alternative Representations", "2.4. Activation Functions",
    "Some Activation Functions", "2.5. Training", "3. Artificial Learning", "3.1. Optimization",
    "3.2. The Cost Function", "Some Cost Functions", "3.3. Gradient of the Error with Respect to W",
    "3.4. Gradient of the Error with Respect to the bias b", ("3.5. Some Cost and Activation Functions and Their "
    "Derivatives"), "3.6. Updating the Trainable Parameters", "3.7. Giving Life to Equations", "4. Multiple Layers",
    "4.1. The Propagation of a Signal x Through the Network's Layers", "4.2. A 2-Layer Perceptron",
    "4.3. A Multi-Layer Perceptron", "4.4. The Error Function of a Multi-Layer Perceptron",
    "4.5. The Derivative of the Error with Respect to the Weights of Any Given Layer",
    "4.6. Practical Process for Updating Weights and Biases",
    "4.7. Analyzing the Dimension of the Matrices", "4.8. Updating the Weights and Biases",
    "4.9. Giving Life to Equations", "5. Training in Batches", "5.1. Training in Batches",
    "5.2. Updating the Trainable Parameters in Batch Training", "5.3. Giving Life to Equations",
    "Appendix A: Norm on a Vector Space", "Appendix B: The Derivatives of y_i",
    "Appendix C: Derivative of Vector Functions", "Appendix D: Some Observations on the Gradient",
    "Appendix E: Outer Product", "Appendix F: Continuous Learning",
    "Appendix G: The Cost Function over a Matrix Domain is a Norm",
    "Appendix H: Fundamental Topics in Neural Network Learning Not Covered in This Book",
)

#: The table of contents as printed (its sub-entries of sec. 4.2 are subsection titles, left out here).
TOC = (
    "Preface", "Introduction", "1. Shall We Start with a Little Game?", "2. The Basic Description",
    "3. Artificial Learning", "4. Multiple Layers", "4.1. The Propagation of a Signal x Through the Network's Layers",
    "4.2. A 2-Layer Perceptron", "4.3. A Multi-Layer Perceptron", "4.4. The Error Function of a Multi-Layer Perceptron",
    "4.5. The Derivative of the Error with Respect to the Weights of Any Given Layer",
    "4.6. Practical Process for Updating Weights and Biases", "4.7. Analyzing the Dimension of the Matrices",
    "4.8. Updating the Weights and Biases", "4.9. Giving Life to Equations", "5. Training in Batches",
    "Appendix A: Norm on a Vector Space", "Appendix B: The Derivatives of y_i",
    "Appendix C: Derivative of Vector Functions", "Appendix D: Some Observations on the Gradient",
    "Appendix E: Outer Product", "Appendix F: Continuous Learning",
    "Appendix G: The Cost Function over a Matrix Domain is a Norm",
    "Appendix H: Fundamental Topics in Neural Network Learning Not Covered in This Book",
)

#: References by title in the text: (where, the title the text names).
REFERENCES = (
    ("preface", "Fundamental Topics in Neural Network Learning Not Covered in This Book"),
    ("sec. 2.2", "Training"), ("sec. 2.5", "The Cost Function"), ("sec. 2.5", "Some Cost Functions"),
    ("sec. 2.5", "Norm on a Vector Space"), ("sec. 2.5", "Updating the Trainable Parameters"),
    ("sec. 3.1", "Training in Batches"), ("sec. 3.3", "Derivative of Vector Functions"),
    ("sec. 3.3", "The Derivatives of y_i"), ("sec. 3.6", "Some Observations on the Gradient"),
    ("sec. 4.2", "The Derivative of the Error with Respect to the Weights of Any Given Layer"),
    ("sec. 4.7", "Outer Product"), ("sec. 4.8", "Continuous Learning"),
    ("sec. 5.1", "The Cost Function over a Matrix Domain is a Norm"),
)


def _title(heading):
    """The title of a heading without its number ("2.5. Training" -> "Training")."""
    if heading.startswith("Appendix "):
        return heading.split(": ", 1)[1]
    head, _, rest = heading.partition(". ")
    return rest if rest and head.replace(".", "").isdigit() else heading


@claim("preface.toc", "table of contents", r"the table of contents lists the book's chapters, sections 4.1--4.9 "
       r"and appendices A--H", passage="- 4.1. The Propagation of a Signal x Through the Network")
def toc_entries_are_headings():
    missing = [t for t in TOC if t not in HEADINGS]
    order = [HEADINGS.index(t) for t in TOC if t in HEADINGS]
    return expect(not missing and order == sorted(order), "every entry of the table of contents is a heading of the "
                  "body, in the same order", [(f"{len(TOC)} entries, {len(HEADINGS)} headings; entries missing from "
                                              f"the body: {missing or 'none'}")],
                  values={"missing": missing, "entries": len(TOC)})


@claim("preface.references", "preface, sec. 2.2-5.1", r"``see Section Training'', ``Appendix Norm on a Vector "
       r"Space'', \dots: the sections the text names by title", passage="We will talk more about \\( D\\) when we "
       "get to Section Training.")
def references_by_title_resolve():
    titles = {_title(h) for h in HEADINGS}
    unresolved = [(where, t) for where, t in REFERENCES if t not in titles]
    return expect(not unresolved, "every section or appendix the text names by title exists under that title",
                  [f"{where}: \u201c{t}\u201d" for where, t in REFERENCES], values={"unresolved": unresolved})


@claim("preface.frameworks", "preface, 4th paragraph", r"``a good programming language like TensorFlow or "
       r"PyTorch. These very languages are \dots''", passage="it is not enough to just know how to write code in a "
       "good programming language like TensorFlow or PyTorch")
def frameworks_are_libraries():
    spec = importlib.util.find_spec("torch")
    where = "/".join(spec.origin.split("/")[-2:]) if spec is not None else "(torch not installed)"
    return finding(FAILS, "TensorFlow and PyTorch are libraries (frameworks) used from Python, not programming "
                   "languages", [f"PyTorch is imported by Python as a package: {where}"],
                   correct="a good framework such as TensorFlow or PyTorch (libraries used from Python); "
                           "\u201cthese very frameworks\u201d",
                   counterexample="`import torch` in a Python program loads torch/__init__.py, a Python module; "
                                  "a programming language is not imported",
                   values={"torch_is_python_package": spec is not None and where.endswith("__init__.py")})
