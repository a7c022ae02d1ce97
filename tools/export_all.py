"""Export every shipped model in all three formats; with ``--test``, check each bioimage.io package.

For each model this writes ``OUT/NAME.zip`` (bioimage.io), ``OUT/NAME.onnx``
and ``OUT/NAME.pt`` (TorchScript) with :mod:`dci_cnn.export`. ``--test`` then
runs bioimageio.core's own model test on each package (the test tensors
through every weight format) and loads the package back with
``dci_cnn.load_model``. CI tests the small ``dci-paper`` package only
(tests/test_export.py); this script covers all five. Needs the ``export`` extra.

    python tools/export_all.py exported --test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None):
    from dci_cnn import list_models, load_model
    from dci_cnn.export import to_bioimageio, to_onnx, to_torchscript

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="folder for the exported files")
    p.add_argument("--models", nargs="*", default=list_models(), help="default: every shipped model")
    p.add_argument("--test", action="store_true", help="run bioimageio.core's model test on each package")
    p.add_argument("--overwrite", action="store_true", help="replace files from an earlier run")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for name in args.models:
        t0 = time.perf_counter()
        package = to_bioimageio(name, args.out / f"{name}.zip", overwrite=args.overwrite)
        onnx_file = to_onnx(name, args.out / f"{name}.onnx", overwrite=args.overwrite)
        script_file = to_torchscript(name, args.out / f"{name}.pt", overwrite=args.overwrite)
        loaded = load_model(name)
        d_onnx, d_script = _differences(loaded, onnx_file, script_file)
        row = [name, str(loaded.spec.size_multiple), str(loaded.halo), str(2 * loaded.halo + loaded.spec.size_multiple),
               f"{package.stat().st_size / 1e6:.1f}", f"{d_onnx:.1e}", f"{d_script:.1e}",
               f"{time.perf_counter() - t0:.0f}"]
        if args.test:
            from bioimageio.core import test_model

            t0 = time.perf_counter()
            summary = test_model(package)
            loads_back = load_model(package).card["sha256"] == load_model(name).card["sha256"]
            failed += summary.status != "passed" or not loads_back
            row += [summary.status, "yes" if loads_back else "NO", f"{time.perf_counter() - t0:.0f}"]
            if summary.status != "passed":
                print(summary.format(), file=sys.stderr)
        rows.append(row)
        print(" | ".join(row), flush=True)
    headers = ["model", "size step", "halo", "smallest tile", "zip MB", "max abs(ONNX - torch)",
               "max abs(TorchScript - torch)", "export s"] + (["bioimageio.core test", "loads back", "test s"] if args.test else [])
    print("\n| " + " | ".join(headers) + " |\n|" + "---|" * len(headers))
    print("\n".join("| " + " | ".join(r) + " |" for r in rows))
    return 1 if failed else 0


def _differences(loaded, onnx_file, script_file):
    """Largest differences of ONNX Runtime (CPU) and TorchScript from torch float32 on the package's test input."""
    import numpy as np
    import onnxruntime
    import torch

    from dci_cnn.export import sample_input

    x = sample_input(loaded)
    with torch.no_grad():
        expected = loaded.module(torch.from_numpy(x)).numpy()
        scripted = torch.jit.load(str(script_file))(torch.from_numpy(x)).numpy()
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    return float(np.abs(session.run(None, {"input": x})[0] - expected).max()), float(np.abs(scripted - expected).max())


if __name__ == "__main__":
    sys.exit(main())
