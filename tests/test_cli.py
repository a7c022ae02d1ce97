"""The ``dci-cnn`` command line: deblur files and folders, models, demo; no file is ever lost."""

import errno
import io
import json
import os
import sys

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


def test_deblur_folder_keeps_bit_depth_and_mirrors_the_tree(folder, tmp_path, random_models):
    out = tmp_path / "out"
    assert main(["deblur", str(folder), "-o", str(out), "--quiet"]) == 0
    rgb, gray, deep = read_image(out / "rgb.png"), read_image(out / "sub" / "gray.png"), read_image(out / "deep.tif")
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
    for file in ("rgb.png", "sub/gray.png"):
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
    assert {str(p.relative_to(out)) for p in out.rglob("*.*")} == {"rgb.png", "sub/gray.png", "deep.tif"}


def test_missing_input_is_an_error(tmp_path, capsys):
    assert main(["deblur", str(tmp_path / "nope.png"), "-o", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unknown_model_is_one_error_before_any_work(folder, tmp_path, capsys):
    assert main(["deblur", str(folder), "-o", str(tmp_path / "o"), "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model 'nope'" in err and "FAILED" not in err
    assert not (tmp_path / "o").exists()


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


def _png(path, shape=(20, 24), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def test_one_name_in_two_subfolders_gives_two_outputs(tmp_path, capsys):
    _png(tmp_path / "in" / "day1" / "img.png", seed=1)
    _png(tmp_path / "in" / "day2" / "img.png", seed=2)
    out = tmp_path / "out"
    assert main(["deblur", str(tmp_path / "in"), "-o", str(out), "--quiet", "--overwrite"]) == 0
    assert "restored 2 of 2" in capsys.readouterr().out
    day1, day2 = read_image(out / "day1" / "img.png"), read_image(out / "day2" / "img.png")
    assert not np.array_equal(day1, day2)


@pytest.mark.parametrize("layout", [["x.jpg", "x.png"], ["a/img.png", "b/img.png"], ["Photo.png", "photo.png"],
                                    ["Day/img.png", "day/img.png"]])
def test_two_inputs_for_one_output_are_refused_before_any_work(tmp_path, capsys, layout):
    for i, name in enumerate(layout):
        _png(tmp_path / "in" / name, seed=i)  # a PNG called .jpg still reads
    if sum(f.is_file() for f in (tmp_path / "in").rglob("*")) < len(layout):
        pytest.skip("this file system folds case: it cannot hold both names")
    inputs = [str(tmp_path / "in")] if layout[0] != "a/img.png" else [str(tmp_path / "in" / "a"), str(tmp_path / "in" / "b")]
    out = tmp_path / "out"
    assert main(["deblur", *inputs, "-o", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "would both be written to" in err
    assert all(str(tmp_path / "in" / name) in err for name in layout)
    assert not out.exists()


def test_output_folder_inside_the_input_folder_is_not_read_as_input(folder, capsys):
    out = folder / "restored"
    assert main(["deblur", str(folder), "-o", str(out), "--quiet"]) == 0
    assert main(["deblur", str(folder), "-o", str(out), "--quiet", "--overwrite"]) == 0
    assert "restored 3 of 3" in capsys.readouterr().out.splitlines()[-1]
    assert not (out / "restored").exists()


def test_the_input_folder_itself_is_refused_as_output(folder, capsys):
    assert main(["deblur", str(folder), "-o", str(folder)]) == 2
    assert "is the input folder" in capsys.readouterr().err


def test_hidden_files_and_unfinished_outputs_are_not_inputs(folder, tmp_path, capsys):
    (folder / ".rgb.png.1a2b3c4d.partial.png").write_bytes(b"")  # what an interrupted run used to leave
    _png(folder / ".thumbnails" / "rgb.png")
    _png(folder / ".hidden.png")
    assert main(["deblur", str(folder), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert "restored 3 of 3" in capsys.readouterr().out


def test_skip_existing_finishes_a_batch_and_keeps_what_is_there(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["deblur", str(folder / "rgb.jpg"), "-o", str(out), "--quiet"]) == 0
    before = (out / "rgb.png").read_bytes()
    assert main(["deblur", str(folder), "-o", str(out), "--quiet"]) == 1  # without it the existing output is an error
    (out / "sub" / "gray.png").unlink()
    (out / "deep.tif").unlink()
    capsys.readouterr()
    assert main(["deblur", str(folder), "-o", str(out), "--quiet", "--skip-existing"]) == 0
    text = capsys.readouterr().out
    assert "restored 2 of 3 image(s)" in text and "1 skipped" in text
    assert (out / "rgb.png").read_bytes() == before
    assert read_image(out / "sub" / "gray.png").shape == (33, 21) and read_image(out / "deep.tif").dtype == np.uint16
    assert main(["deblur", str(folder), "-o", str(out), "--skip-existing"]) == 0
    assert "restored 0 of 3 image(s)" in capsys.readouterr().out
    assert main(["deblur", str(folder), "-o", str(out), "--skip-existing", "--overwrite"]) == 2


def test_ctrl_c_mid_batch_is_one_line_and_leaves_only_whole_outputs(folder, tmp_path, capsys, monkeypatch):
    from dci_cnn import _files

    replace, calls = _files.os.replace, []

    def interrupted_on_the_second_file(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(_files.os, "replace", interrupted_on_the_second_file)
    out = tmp_path / "out"
    assert main(["deblur", str(folder), "-o", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted by SIGINT" in err and "--skip-existing" in err
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["deep.tif"]  # sorted inputs: deep.tif went first
    monkeypatch.setattr(_files.os, "replace", replace)
    assert main(["deblur", str(folder), "-o", str(out), "--quiet", "--skip-existing"]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["deep.tif", "rgb.png", "sub/gray.png"]


def test_output_inside_an_existing_file_is_one_line(folder, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file")
    assert main(["deblur", str(folder), "-o", str(tmp_path / "notes.txt" / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt is a file, not a folder" in err


def test_output_under_an_unwritable_parent_is_one_line(folder, tmp_path, capsys, monkeypatch):
    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr("pathlib.Path.mkdir", denied)
    assert main(["deblur", str(folder), "-o", str(tmp_path / "locked" / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "permission denied; choose a place you may write to" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_output_under_a_read_only_folder_is_one_line(folder, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert main(["deblur", str(folder), "-o", str(locked / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{locked}: permission denied" in err


@pytest.mark.parametrize(("output", "message"), [("restored.jpg", "outputs are written as .png or .tif"),
                                                 ("restored.png", "names one file, but there are 3 input images")])
def test_an_output_file_name_is_never_made_a_folder(folder, tmp_path, capsys, output, message):
    assert main(["deblur", str(folder), "-o", str(tmp_path / output)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / output).exists()


@pytest.mark.parametrize(("option", "value", "message"), [("--channel-axis", "foo", "expected auto, none or an integer axis"),
                                                       ("--tile-size", "8", "expected a number of pixels (16 or more)")])
def test_option_values_are_checked_by_the_parser(folder, tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        main(["deblur", str(folder), "-o", str(tmp_path / "o"), option, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "invalid literal" not in err and "FAILED" not in err
    assert not (tmp_path / "o").exists()


def test_library_messages_are_shown_in_the_command_lines_spelling(tmp_path, capsys):
    from dci_cnn.cli import _cli_spelling

    assert _cli_spelling("a.png exists; pass overwrite=True to replace it") == "a.png exists; pass --overwrite to replace it"
    assert _cli_spelling("x exists; pass overwrite to replace it") == "x exists; pass --overwrite to replace it"
    assert _cli_spelling("channel_axis=None and tile_size must") == "--channel-axis none and --tile-size must"
    tifffile.imwrite(tmp_path / "signed.tif", np.full((16, 16), -5, np.int16))
    assert main(["deblur", str(tmp_path / "signed.tif"), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "--preserve-range" in err and "preserve_range" not in err


def test_failures_and_warnings_print_above_the_progress_bar(folder, tmp_path, capsys, monkeypatch):
    import warnings

    from dci_cnn import _restore_file

    restore = _restore_file.deblur

    def warns(image, **options):
        warnings.warn("channel_axis=None was probably meant", UserWarning, stacklevel=2)
        return restore(image, **options)

    monkeypatch.setattr(_restore_file, "deblur", warns)
    (folder / "broken.png").write_bytes(b"not a png")
    assert main(["deblur", str(folder), "-o", str(tmp_path / "out")]) == 1
    segments = [part.strip() for line in capsys.readouterr().err.split("\n") for part in line.split("\r")]
    assert any(s.startswith("FAILED ") and "broken.png" in s for s in segments)
    assert any(s == "warning: --channel-axis none was probably meant" for s in segments)
    assert not any(("FAILED" in s or "warning:" in s) and "%|" in s for s in segments)  # never on the bar's line


def test_a_pipe_closed_before_the_last_flush_exits_141(monkeypatch):
    class ClosedPipe(io.StringIO):
        def flush(self):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["models"]) == 141  # a listing shorter than the pipe's buffer fails only when flushed
