#!/bin/sh
# Install pdflatex (amsmath, amssymb, xcolor, geometry) and poppler-utils for the LaTeX tests, only if missing.
set -e
if command -v pdflatex >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then
    echo "pdflatex and pdftotext already installed"
    exit 0
fi
apt-get update
apt-get install -y texlive-latex-base texlive-latex-recommended poppler-utils
