#!/usr/bin/env bash
# Build the documentation site into site/ with `mkdocs build --strict`.
#
#   bash tools/build_docs.sh                 install the docs extra, run every gallery example, build
#   DCI_DOCS_PLOT_GALLERY=false bash tools/build_docs.sh
#                                            build the gallery pages without running the examples
#                                            (a fast strict check of pages, links and API reference)
#   DCI_DOCS_GALLERY_PATTERN=plot_jpeg bash tools/build_docs.sh
#                                            run only the examples whose path matches the regex
#   DCI_DOCS_NO_INSTALL=1 ...                skip the pip installs (the docs extra is already there)
#
# Python: the active virtual environment if there is one, otherwise the one tools/test.sh uses
# (.venv, or $DCI_VENV), created if missing. Extra arguments go to `mkdocs build` (e.g.
# --site-dir /tmp/site). The gallery output (docs/generated/) is removed first, so every
# example runs again with the current weights.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${VIRTUAL_ENV:-}" ]; then
    PY="$VIRTUAL_ENV/bin/python"
else
    VENV=${DCI_VENV:-.venv}
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    PY="$VENV/bin/python"
fi

if [ "${DCI_DOCS_NO_INSTALL:-0}" != 1 ]; then
    # torch first, pinned (as in tools/test.sh): a loose range would download a CUDA build.
    "$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install -q torch==2.13.0
    "$PY" -m pip install -q -e ".[docs]"
fi

export MPLBACKEND=Agg NO_MKDOCS_2_WARNING=1
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning}"
rm -rf docs/generated
start=$(date +%s)
"$PY" -m mkdocs build --strict "$@"
echo "mkdocs build --strict: OK in $(( $(date +%s) - start )) s (DCI_DOCS_PLOT_GALLERY=${DCI_DOCS_PLOT_GALLERY:-true})"
