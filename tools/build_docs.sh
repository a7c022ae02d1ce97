#!/usr/bin/env bash
# Build the documentation site into site/ with `mkdocs build --strict`.
#
#   bash tools/build_docs.sh                 install the docs extra, run every gallery example, build
#   DCI_DOCS_PLOT_GALLERY=false bash tools/build_docs.sh
#                                            build the gallery pages without running the examples
#                                            (a fast strict check of pages, links and API reference)
#   DCI_DOCS_GALLERY_PATTERN=plot_jpeg bash tools/build_docs.sh
#                                            run only the examples whose path matches the regex
#   DCI_DOCS_NO_INSTALL=1 ...                skip `pip install -e .[docs]` (already installed)
#
# Extra arguments go to `mkdocs build` (e.g. --site-dir /tmp/site). The gallery output
# (docs/generated/) is removed first, so every example runs again with the current weights.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${DCI_DOCS_NO_INSTALL:-0}" != 1 ]]; then
    python -m pip install --quiet -e ".[docs]"
fi

export MPLBACKEND=Agg NO_MKDOCS_2_WARNING=1
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning}"
rm -rf docs/generated
start=$(date +%s)
python -m mkdocs build --strict "$@"
echo "mkdocs build --strict: OK in $(( $(date +%s) - start )) s (DCI_DOCS_PLOT_GALLERY=${DCI_DOCS_PLOT_GALLERY:-true})"
