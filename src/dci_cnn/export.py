"""Export models to other tools: bioimage.io packages, ONNX and TorchScript.

A bioimage.io package (spec 0.5) runs in Fiji (deepImageJ), ilastik, QuPath
and ``bioimageio.core``; ONNX runs in ONNX Runtime and everything built on it;
TorchScript loads in LibTorch (C++) and DJL (Java). All three hold float32
weights: the float16 values stored in ``weights/`` cast up exactly, and every
consumer runs float32 on the CPU. Needs the ``export`` extra
(``pip install "dci-cnn[export]"``).

>>> from dci_cnn.export import to_bioimageio
>>> to_bioimageio("dci-unet-gray", "dci-unet-gray.zip")     # doctest: +SKIP
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from PIL import Image

from . import __version__, models
from ._files import atomic_write
from .degrade import jpeg
from .models import ARCHITECTURES
from .weights import LoadedModel, WeightsError, load_model

__all__ = ["FORMATS", "ONNX_OPSET", "to_bioimageio", "to_onnx", "to_torchscript"]

#: ONNX operator set of the exported graphs.
ONNX_OPSET = 20
#: ``--format`` choices and the file suffix each writes.
FORMATS = {"bioimageio": ".zip", "onnx": ".onnx", "torchscript": ".pt"}
#: JPEG quality of the test input made from the sample image.
TEST_QUALITY = 10
_COVER = 256  # side of each half of the cover image
_SAMPLE_CENTRE = (600, 400)  # row, column in skimage.data.retina: vessels beside the optic disc
_DOCS = "https://dci-cnn.readthedocs.io/en/latest"
_REPO = "https://github.com/dci-cnn/dci-cnn"
_PAPER = 'DCI-CNN paper, "Deblurring compression images using a CNN" (CC BY-SA 4.0)'


def _loaded(model):
    return model if isinstance(model, LoadedModel) else load_model(model)


def _target(path, suffix, overwrite):
    path = Path(path)
    if path.suffix != suffix:
        raise ValueError(f"output {path} must end in {suffix}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    return path


def _module(loaded):
    """A private copy of the network in the default memory layout (``deblur`` turns the shared one channels_last)."""
    return copy.deepcopy(loaded.module).to(memory_format=torch.contiguous_format)


def _example(loaded):
    """A small input tensor ``(1, C, H, W)`` of the shape the model accepts, for tracing."""
    side = max(64, loaded.spec.size_multiple)
    return torch.rand(1, loaded.channels, side, side, generator=torch.Generator().manual_seed(0))


def sample_input(loaded, *, min_side=64):
    """A package's test input: ``skimage.data.retina`` (gray for gray models) beside the optic disc, JPEG quality 10.

    The crop is the smallest square the model accepts (more than two halos,
    a multiple of the size step) that is at least ``min_side`` pixels.

    Returns
    -------
    ndarray
        float32 ``(1, C, H, W)`` in [0, 1].
    """
    from skimage import data
    from skimage.color import rgb2gray

    smallest, step = _min_size(loaded)
    side = smallest + -(-max(0, min_side - smallest) // step) * step
    image = data.retina() / 255.0
    if loaded.channels == 1:
        image = rgb2gray(image)
    top, left = (max(0, c - side // 2) for c in _SAMPLE_CENTRE)
    crop = np.ascontiguousarray(image[top:top + side, left:left + side])
    degraded = jpeg(crop, TEST_QUALITY).astype(np.float32)
    return (degraded[None] if degraded.ndim == 2 else degraded.transpose(2, 0, 1))[None]


def _min_size(loaded):
    """Smallest input side a tile may have (more than two halos) and the size step."""
    step = loaded.spec.size_multiple
    return (2 * loaded.halo // step + 1) * step, step


def to_onnx(model, path, *, overwrite=False, opset=ONNX_OPSET):
    """Write a model as ONNX with dynamic batch, height and width.

    Height and width must be multiples of the model's size multiple
    (``load_model(name).spec.size_multiple``); inputs and outputs are float32
    ``(batch, channel, y, x)`` in [0, 1]. The graph's metadata records the
    model name, the sha256 of its weights, the size multiple and the halo.

    Parameters
    ----------
    model : str, path-like or LoadedModel
        A shipped model's name, a ``.safetensors`` path or a bioimage.io zip.
    path : path-like
        The ``.onnx`` file to write.
    overwrite : bool
        Replace an existing file.
    opset : int
        ONNX operator set.

    Returns
    -------
    pathlib.Path
    """
    path = _target(path, FORMATS["onnx"], overwrite)
    loaded = _loaded(model)
    onnx = _require("onnx")
    _require("onnxscript")  # torch's ONNX exporter writes the graph with it
    step = loaded.spec.size_multiple
    height, width = torch.export.Dim("height_steps", min=1), torch.export.Dim("width_steps", min=1)
    shapes = {"x": {0: torch.export.Dim("batch", min=1), 2: step * height, 3: step * width}}
    program = torch.onnx.export(_module(loaded), (_example(loaded),), dynamo=True, opset_version=opset,
                                input_names=["input"], output_names=["output"], dynamic_shapes=shapes,
                                external_data=False, verbose=False)
    proto = program.model_proto
    meta = {"name": loaded.name, "weights_sha256": loaded.card["sha256"], "size_multiple": str(step),
            "halo": str(loaded.halo), "value_range": "[0, 1]", "dci_cnn_version": __version__}
    onnx.helper.set_model_props(proto, meta)
    atomic_write(path, lambda tmp: onnx.save(proto, tmp), overwrite=overwrite)
    return path


def to_torchscript(model, path, *, overwrite=False):
    """Write a model as TorchScript (scripted, BatchNorm folded, float32).

    Loads with ``torch.jit.load`` in Python, ``torch::jit::load`` in LibTorch
    or DJL in Java; the input is float32 ``(batch, channel, y, x)`` in [0, 1]
    with height and width multiples of the model's size multiple.

    Parameters
    ----------
    model : str, path-like or LoadedModel
        A shipped model's name, a ``.safetensors`` path or a bioimage.io zip.
    path : path-like
        The ``.pt`` file to write.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
    """
    path = _target(path, FORMATS["torchscript"], overwrite)
    loaded = _loaded(model)
    scripted = torch.jit.script(_module(loaded))
    atomic_write(path, lambda tmp: torch.jit.save(scripted, tmp), overwrite=overwrite)
    return path


def to_bioimageio(model, path, *, overwrite=False):
    """Write a model as a bioimage.io package (spec 0.5) for deepImageJ, ilastik, QuPath and bioimageio.core.

    The zip holds the weights as ``pytorch_state_dict`` (with the
    architecture source, ``dci_cnn/models.py``), ``torchscript`` and
    ``onnx``, all float32; test tensors from ``skimage.data.retina``
    (JPEG quality 10); axes ``batch, channel, y, x`` with the size step and
    halo of the model; preprocessing that scales each image's min..max to
    [0, 1] and clipping of the output to [0, 1]; a before/after cover;
    ``doc.md`` made from the card with its measured numbers; and the model's
    ``.safetensors`` and card, so ``load_model(path)`` reads it back.

    Parameters
    ----------
    model : str, path-like or LoadedModel
        A shipped model's name or a ``.safetensors`` path with its card.
    path : path-like
        The ``.zip`` file to write.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
    """
    path = _target(path, FORMATS["bioimageio"], overwrite)
    loaded = _loaded(model)
    spec = _require("bioimageio.spec")
    with tempfile.TemporaryDirectory(prefix="dci-cnn-export-") as tmp:
        descr = _describe(loaded, Path(tmp))
        atomic_write(path, lambda out: spec.save_bioimageio_package(descr, output_path=out), overwrite=overwrite)
    return path


def _describe(loaded, folder):
    """Write every file of the package into ``folder``; return its ``ModelDescr``."""
    from bioimageio.spec.model import v0_5 as bio

    name, card = loaded.name, loaded.card
    files = {k: folder / f for k, f in [("state", f"{name}.state_dict.pt"), ("script", f"{name}.torchscript.pt"),
                                         ("onnx", f"{name}.onnx"), ("input", "test-input.npy"),
                                         ("output", "test-output.npy"), ("cover", "cover.png"), ("doc", "doc.md")]}
    raw = _stored_bytes(loaded)
    state = safetensors.torch.load(raw)
    torch.save({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, files["state"])
    to_torchscript(loaded, files["script"])
    to_onnx(loaded, files["onnx"])
    image = sample_input(loaded)
    restored = _predict(loaded, image)
    np.save(files["input"], image)
    np.save(files["output"], restored)
    shown = image if image.shape[-1] >= _COVER else sample_input(loaded, min_side=_COVER)
    _cover(shown[0], (restored if shown is image else _predict(loaded, shown))[0], files["cover"])
    files["doc"].write_text(_doc(loaded, image.shape))
    attachments = [folder / f"{name}.safetensors", folder / f"{name}.json"]
    attachments[0].write_bytes(raw)
    attachments[1].write_text(json.dumps(card, indent=2) + "\n")

    min_side, step = _min_size(loaded)
    channel_names = ["gray"] if loaded.channels == 1 else ["red", "green", "blue"]
    space_in = [bio.SpaceInputAxis(id=bio.AxisId(a), size=bio.ParameterizedSize(min=min_side, step=step))
                for a in "yx"]
    space_out = [bio.SpaceOutputAxisWithHalo(id=bio.AxisId(a), halo=loaded.halo,
                                             size=bio.SizeReference(tensor_id=bio.TensorId("input"),
                                                                    axis_id=bio.AxisId(a)))
                 for a in "yx"]
    head = [bio.BatchAxis(), bio.ChannelAxis(channel_names=[bio.Identifier(c) for c in channel_names])]
    scale = bio.ScaleRangeDescr(kwargs=bio.ScaleRangeKwargs(axes=[bio.AxisId(a) for a in ("channel", "y", "x")]))
    arch = bio.ArchitectureFromFileDescr(source=Path(models.__file__), callable=ARCHITECTURES[card["architecture"]].factory.__name__,
                                         kwargs=card["arguments"])
    torch_version = bio.Version(torch.__version__.split("+")[0])
    derived = f"converted by dci-cnn {__version__} from {name}.safetensors (float16, cast to float32)"
    return bio.ModelDescr(
        name=name,
        description=(card.get("description") or name)[:1024],
        authors=[bio.Author(name="dci-cnn developers")],
        cite=[bio.CiteEntry(text=_PAPER, url=f"{_DOCS}/paper/"),
              bio.CiteEntry(text=f"dci-cnn {__version__}: pretrained CNNs that remove JPEG artifacts, blur "
                            "and noise (BSD-3-Clause)", url=_REPO)],
        license=bio.LicenseId("BSD-3-Clause"),
        git_repo=_REPO,
        tags=["image-restoration", "jpeg-artifact-removal", "denoising", "deblurring", "2d", "pytorch", "dci-cnn"],
        covers=[bio.FileDescr(source=files["cover"])],
        documentation=bio.FileDescr(source=files["doc"]),
        attachments=[bio.FileDescr(source=p) for p in attachments],
        inputs=[bio.InputTensorDescr(
            id=bio.TensorId("input"), axes=[*head, *space_in],
            description="image; any dtype, each sample's min..max scaled to [0, 1] by the preprocessing",
            test_tensor=bio.FileDescr(source=files["input"]),
            preprocessing=[bio.EnsureDtypeDescr(kwargs=bio.EnsureDtypeKwargs(dtype="float32")), scale])],
        outputs=[bio.OutputTensorDescr(
            id=bio.TensorId("output"), axes=[*head, *space_out],
            description="restored image in [0, 1]",
            test_tensor=bio.FileDescr(source=files["output"]),
            postprocessing=[bio.ClipDescr(kwargs=bio.ClipKwargs(min=0.0, max=1.0))])],
        weights=bio.WeightsDescr(
            pytorch_state_dict=bio.PytorchStateDictWeightsDescr(
                source=files["state"], architecture=arch, pytorch_version=torch_version,
                comment=f"{derived}; BatchNorm unfolded, as the architecture source builds it"),
            torchscript=bio.TorchscriptWeightsDescr(
                source=files["script"], pytorch_version=torch_version, parent="pytorch_state_dict",
                comment=f"{derived}; BatchNorm folded"),
            onnx=bio.OnnxWeightsDescr(
                source=files["onnx"], opset_version=ONNX_OPSET, parent="pytorch_state_dict",
                comment=f"{derived}; BatchNorm folded; opset {ONNX_OPSET}")),
        config=bio.Config(bioimageio=bio.BioimageioConfig(
            architecture_type=card["architecture"], task="image restoration (JPEG artifacts, blur, noise)"),
            dci_cnn={"model": name, "weights_sha256": card["sha256"], "size_multiple": step, "halo": loaded.halo,
                     "onnx_opset": ONNX_OPSET, "test_jpeg_quality": TEST_QUALITY}),
    )


def _predict(loaded, image):
    """The package's pipeline in torch float32: min..max to [0, 1] (eps as bioimage.io's scale_range), network, clip."""
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / (high - low + 1e-6)
    with torch.no_grad():
        out = loaded.module(torch.from_numpy(scaled.astype(np.float32)))
    return out.clamp(0, 1).numpy()


def _cover(before, after, path):
    """The middle ``_COVER`` pixels of input and restoration side by side (2:1), as PNG."""
    top = (before.shape[1] - _COVER) // 2
    left = (before.shape[2] - _COVER) // 2
    window = np.s_[:, top:top + _COVER, left:left + _COVER]
    both = np.concatenate([before[window], after[window]], axis=2).transpose(1, 2, 0)
    pixels = np.rint(both.clip(0, 1) * 255).astype(np.uint8)
    Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(path)


def _doc(loaded, shape):
    """``doc.md`` of a package: the card in prose, tiling, weights, and the card's measured numbers."""
    card, training = loaded.card, loaded.card.get("training", {})
    smallest, step = _min_size(loaded)
    rows = [f"| {dataset} | {kind} | {condition} | {m['psnr_in']:.2f} | {m['psnr_out']:.2f} | {m['psnr_gain']:+.2f} "
            f"| {m.get('ssim_in', float('nan')):.4f} | {m.get('ssim_out', float('nan')):.4f} |"
            for dataset, kinds in card.get("metrics", {}).items() for kind, conditions in kinds.items()
            for condition, m in conditions.items() if isinstance(m, dict) and "psnr_out" in m]
    colour = "gray" if loaded.channels == 1 else "RGB"
    return _DOC_TEMPLATE.format(
        name=loaded.name, description=card.get("description", ""), repo=_REPO, version=__version__,
        channels=loaded.channels, colour=colour, step=step, smallest=smallest, halo=loaded.halo,
        callable=ARCHITECTURES[card["architecture"]].factory.__name__, opset=ONNX_OPSET,
        architecture=card["architecture"], arguments=json.dumps(card["arguments"]),
        parameters=card.get("parameters", "?"), data=Path(str(training.get("data", "?"))).name,
        files=training.get("files", "?"), validation_files=training.get("validation_files", "?"),
        degradation=training.get("degradation", "?"), loss=training.get("loss", "?"),
        optimizer=training.get("optimizer", "?"), steps=training.get("step", "?"),
        hours=training.get("wall_time_s", 0) / 3600, height=shape[2], width=shape[3], quality=TEST_QUALITY,
        rows="\n".join(rows), paper=_PAPER)


_DOC_TEMPLATE = """# {name}

{description}

Written by [dci-cnn]({repo}) {version}: `dci-cnn export {name} --format bioimageio`.

## Input and output

- Axes `batch, channel, y, x`; {channels} channel(s) ({colour}); float32.
- Preprocessing: each image's minimum..maximum scaled to [0, 1] (`scale_range`, percentiles 0 and 100
  over channel, y and x). For 8-bit images that span 0..255 this is dci-cnn's `img_as_float`; otherwise
  it is `deblur(..., preserve_range=True)`.
- Output: the restored image in [0, 1] (clipped), the shape of the input.

## Tiling

- Height and width: multiples of **{step}** (the size step), at least {smallest}.
- Halo: **{halo}** pixels on each side (the receptive-field radius). Tiles that overlap by two halos,
  each cropped by one halo, give the result of one pass over the whole image.

## Weights

`pytorch_state_dict` (architecture `{callable}` in `models.py`, BatchNorm unfolded), `torchscript` and
`onnx` (opset {opset}; dynamic batch, height and width), BatchNorm folded. All float32, cast exactly from
the float16 `{name}.safetensors` that dci-cnn ships. That file and its card `{name}.json` are included:
`dci_cnn.load_model("this.zip")` checks the card's sha256 and loads them without pickle.

## Training

- Architecture `{architecture}` {arguments}, {parameters:,} parameters.
- Data: {data} ({files} training and {validation_files} validation images); degradation `{degradation}`;
  loss {loss}; {optimizer}; {steps} steps in {hours:.2f} h.

## Validation

The test input is a {height} x {width} crop of `skimage.data.retina` ({colour}) saved as JPEG quality
{quality}; the test output is its restoration by dci-cnn in torch float32. Measured by `dci-cnn evaluate`
(PSNR in dB and SSIM of the degraded input and of the restored output against the clean image; gray
models on luma):

| set | degradation | condition | PSNR in | PSNR out | gain | SSIM in | SSIM out |
|---|---|---|---|---|---|---|---|
{rows}

## License and citation

BSD-3-Clause. Cite the {paper} and dci-cnn ({repo}).
"""


def _stored_bytes(loaded):
    """The model's ``.safetensors`` bytes as shipped (float16), checked against the card's sha256."""
    source = Path(loaded.path)
    if source.suffix == ".zip":
        with zipfile.ZipFile(source) as zf:
            raw = zf.read(f"{loaded.name}.safetensors")
    else:
        raw = source.read_bytes()
    if hashlib.sha256(raw).hexdigest() != loaded.card["sha256"]:
        raise WeightsError(f"weights {source} changed since they were loaded: sha256 differs from the card's")
    return raw


def _require(module):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"exporting needs {module}: pip install 'dci-cnn[export]'") from None


def build_parser(parser):
    """Arguments of ``dci-cnn export``."""
    parser.add_argument("model", help="model name, .safetensors path (card beside it) or bioimage.io .zip")
    parser.add_argument("--format", choices=list(FORMATS), default="bioimageio", help="default: bioimageio")
    parser.add_argument("-o", "--output", required=True, help="file to write: .zip, .onnx or .pt (by --format)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser


def main(args):
    """``dci-cnn export``: write one model in one format."""
    write = {"bioimageio": to_bioimageio, "onnx": to_onnx, "torchscript": to_torchscript}[args.format]
    try:
        path = write(args.model, args.output, overwrite=args.overwrite)
    except ImportError as exc:
        print(f"dci-cnn export: error: {exc}", file=sys.stderr)
        return 2
    except FileExistsError as exc:
        print(f"dci-cnn export: error: {exc}".replace("overwrite=True (--overwrite)", "--overwrite"), file=sys.stderr)
        return 2
    print(f"wrote {path}" + (f" (ONNX opset {ONNX_OPSET})" if args.format == "onnx" else ""))
    return 0
