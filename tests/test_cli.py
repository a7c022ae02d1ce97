"""The ``dci-cnn`` command line: deblur files and folders, models, demo; no file is ever lost."""

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from dci_cnn.cli import main
from dci_cnn.imageio import read_image, write_image


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(src / "rgb.jpg", quality=20)
    Image.fromarray(rng.integers(0, 256, (33, 21), dtype=np.uint8)).save(src / "sub" / "gray.png")
    tifffile.imwrite(src / "deep.tif", rng.integers(0, 65536, (30, 40), dtype=np.uint16))
    return src


def test_deblur_folder_keeps_bit_depth_and_layout(folder, tmp_path, random_models):
    out = tmp_path / "out"
    assert main(["deblur", str(folder), "-o", str(out), "--quiet"]) == 0
    rgb, gray, deep = read_image(out / "rgb.png"), read_image(out / "gray.png"), read_image(out / "deep.tif")
    assert rgb.shape == (40, 50, 3) and rgb.dtype == np.uint8
    assert gray.shape == (33, 21) and gray.dtype == np.uint8
    assert deep.shape == (30, 40) and deep.dtype == np.uint16


def test_single_file_to_named_tiff(folder, tmp_path, random_models):
    target = tmp_path / "restored.tif"
    assert main(["deblur", str(folder / "deep.tif"), "-o", str(target), "--model", random_models["unet1"],
                 "--preserve-range", "--tile-size", "32"]) == 0
    restored = tifffile.imread(target)
    assert restored.dtype == np.uint16 and restored.shape == (30, 40)


def test_model_family_picks_gray_or_colour_per_file(folder, tmp_path):
    out = {name: tmp_path / name for name in ("jpeg", "default")}
    for name, target in out.items():
        assert main(["deblur", str(folder), "-o", str(target), "--model", name, "--quiet"]) == 0
    for file in ("rgb.png", "gray.png"):
        jpeg_only, blind = read_image(out["jpeg"] / file), read_image(out["default"] / file)
        assert jpeg_only.shape == blind.shape and not np.array_equal(jpeg_only, blind)


def test_existing_output_is_never_overwritten_without_flag(folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gray.png").write_bytes(b"precious")
    assert main(["deblur", str(folder / "sub" / "gray.png"), "-o", str(out), "--quiet"]) == 1
    assert (out / "gray.png").read_bytes() == b"precious"
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["deblur", str(folder / "sub" / "gray.png"), "-o", str(out), "--overwrite"]) == 0
    assert read_image(out / "gray.png").shape == (33, 21)


def test_input_is_never_overwritten_even_with_flag(folder, capsys):
    before = (folder / "sub" / "gray.png").read_bytes()
    assert main(["deblur", str(folder / "sub" / "gray.png"), "-o", str(folder / "sub"), "--overwrite"]) == 1
    assert (folder / "sub" / "gray.png").read_bytes() == before
    assert "is an input" in capsys.readouterr().err


def test_corrupt_file_is_reported_and_others_still_processed(folder, tmp_path, capsys):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    out = tmp_path / "out"
    assert main(["deblur", str(folder), "-o", str(out), "--quiet"]) == 1
    err = capsys.readouterr()
    failed = [line for line in err.err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "broken.png" in failed[0] and "cannot read" in failed[0]
    assert "restored 3 of 4" in err.out
    assert {p.name for p in out.iterdir()} == {"rgb.png", "gray.png", "deep.tif"}


def test_missing_input_is_an_error(tmp_path, capsys):
    assert main(["deblur", str(tmp_path / "nope.png"), "-o", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unknown_model_is_an_error(folder, tmp_path, capsys):
    assert main(["deblur", str(folder / "rgb.jpg"), "-o", str(tmp_path / "o"), "--model", "nope"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_models_lists_shipped_models(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "dci-unet-gray" in text and "dci-unet-color" in text
    lines = text.splitlines()
    assert len({line.index(" params") for line in lines}) == 1  # one column, however long the names
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"dci-unet-gray", "dci-unet-color"}


@pytest.mark.slow
def test_demo_writes_figures_and_prints_psnr(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--quality", "30"]) == 0
    text = capsys.readouterr().out
    assert text.count("PSNR") == 4 and "restored" in text
    assert {p.name for p in tmp_path.iterdir()} == {"astronaut_q30.png", "camera_q30.png"}
    assert main(["demo", "--out", str(tmp_path), "--quality", "30"]) == 2


def test_write_image_refuses_overwrite_and_bad_formats(tmp_path):
    path = tmp_path / "a.png"
    write_image(path, np.zeros((4, 4), np.uint8))
    with pytest.raises(FileExistsError):
        write_image(path, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="PNG holds uint8 or uint16"):
        write_image(tmp_path / "b.png", np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="can write .png or .tif"):
        write_image(tmp_path / "c.bmp", np.zeros((4, 4), np.uint8))
    write_image(tmp_path / "d.tif", np.full((3, 4, 4), 0.25, np.float32))
    assert read_image(tmp_path / "d.tif").dtype == np.float32


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "dci-cnn" in capsys.readouterr().out
