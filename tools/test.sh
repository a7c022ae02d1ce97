#!/usr/bin/env bash
# Run the test suite on a fresh clone: system libraries for napari's Qt canvas,
# a virtual environment with the package and its test extras, then pytest under
# a virtual X server.  Arguments are passed to pytest, e.g. `bash tools/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."

# napari draws with OpenGL through Qt's xcb platform: Xvfb and the xcb libraries.
QT_PACKAGES="xvfb libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0
  libxcb-xfixes0 libxkbcommon-x11-0 libxcb-shape0 libxcb-cursor0 libegl1 libdbus-1-3 libgl1"
if command -v apt-get >/dev/null; then
  missing=$(for p in $QT_PACKAGES; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
  if [ -n "$missing" ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi

VENV=${DCI_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# torch first, pinned: this release has a CPU build on this machine's disk; a loose range would download CUDA builds.
"$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -m pip install -q -e ".[test-napari,export]"

# the GUI tests run under PyQt6, the binding the test-napari extra installs (PyQt5 is deprecated by napari)
export QT_API=${QT_API:-pyqt6}
if command -v xvfb-run >/dev/null; then
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "$VENV/bin/python" -m pytest "$@"
else
  echo "xvfb-run not found: skipping the napari GUI tests" >&2
  exec "$VENV/bin/python" -m pytest -m "not napari" "$@"
fi
