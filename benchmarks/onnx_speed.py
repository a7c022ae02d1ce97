"""ONNX Runtime on the CPU against dci-cnn's own torch path (``deblur``, bf16 where the CPU has it), seconds per megapixel.

Every model runs on the same JPEG-degraded image in one process, one after
the other: ``deblur`` as users call it (strips, bf16 autocast on CPUs with
native bf16, else float32), ``deblur`` forced to float32, and the model
exported by :func:`dci_cnn.export.to_onnx` run by ONNX Runtime's CPU provider
on the whole image in one pass (float32, the threads torch uses). The last
column is the largest difference between the ONNX Runtime and the torch
float32 outputs (one 8-bit step is 0.0039). Needs the ``export`` extra.

Examples
--------
    python benchmarks/onnx_speed.py                       # the four U-Nets, 1 MP
    python benchmarks/onnx_speed.py --models dci-unet-gray --mp 4 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import force_dtype, machine_line, table, test_image, used_dtype


def _best(repeat, run, *args, **kwargs):
    """Output of ``run(*args, **kwargs)`` and its fastest wall time over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = run(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return out, min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=["dci-unet-gray", "dci-unet-color", "dci-unet-gray-jpeg",
                                                   "dci-unet-color-jpeg"])
    p.add_argument("--mp", type=float, default=1.0, help="image size in megapixels")
    p.add_argument("--repeat", type=int, default=1, help="runs per path; the fastest counts")
    args = p.parse_args(argv)

    import onnxruntime
    import torch

    import dci_cnn._deblur as core
    from dci_cnn import deblur, load_model
    from dci_cnn.export import to_onnx

    print(machine_line())
    print(f"onnxruntime {onnxruntime.__version__}, CPUExecutionProvider, {torch.get_num_threads()} threads")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            loaded = load_model(name)
            image = test_image(args.mp, loaded.channels)
            axis = -1 if loaded.channels == 3 else None
            mp = image.shape[0] * image.shape[1] / 1e6
            deblur(image[:64, :64], model=loaded, channel_axis=axis)  # warm-up: first-call costs out of the timing
            own_choice = core.fast_dtype
            fast_dtype = str(used_dtype()).replace("torch.", "")
            _, t_fast = _best(args.repeat, deblur, image, model=loaded, channel_axis=axis)
            force_dtype("float32")
            ref, t_f32 = _best(args.repeat, deblur, image, model=loaded, channel_axis=axis)
            core.fast_dtype = own_choice
            session = onnxruntime.InferenceSession(str(to_onnx(loaded, Path(tmp) / f"{name}.onnx")), options,
                                                   providers=["CPUExecutionProvider"])
            x = (image / 255.0).astype(np.float32)
            x = (x[None] if axis is None else x.transpose(2, 0, 1))[None]
            session.run(None, {"input": x[..., :64, :64]})
            out, t_ort = _best(args.repeat, session.run, None, {"input": x})
            out = out[0][0]
            out = np.clip(out[0] if axis is None else out.transpose(1, 2, 0), 0, 1)
            rows.append([name, f"{mp:.2f}", t_fast / mp, fast_dtype, t_f32 / mp, t_ort / mp, t_ort / t_fast,
                         float(np.abs(out - ref).max())])
            print(rows[-1], flush=True)
    print()
    print(table(["model", "MP", "deblur s/MP", "deblur dtype", "deblur float32 s/MP", "onnxruntime s/MP",
                 "onnxruntime / deblur", "max abs(ORT - torch float32)"], rows))


if __name__ == "__main__":
    main()
