"""Training: a tiny run learns, exports a loadable model with its card, resumes the same schedule, stops cleanly."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from dci_cnn import deblur, load_model
from dci_cnn.cli import main as cli_main
from dci_cnn.imageio import find_images
from dci_cnn.train import _split, main, validation_set

TINY = ["--arch", "dcicnn", "--arch-args", '{"width": 8, "residual": true}', "--patch-size", "32", "--batch-size", "4",
        "--val-every", "2", "--val-images", "1", "--val-fraction", "0.25", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of training images made from scikit-image samples (gray, colour, 16-bit, nested)."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "nested").mkdir()
    Image.fromarray(data.astronaut()[:160, :160]).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()[:160, :200]).save(folder / "nested" / "coffee.jpg", quality=95)
    Image.fromarray(data.camera()[:150, :150]).save(folder / "camera.png")
    Image.fromarray(data.moon()[:150, :150].astype(np.uint16) * 257).save(folder / "moon16.png")
    return folder


def _run(photos, out, *extra):
    return main(["--data", str(photos), "--out", str(out), *TINY, *extra])


def test_tiny_run_exports_a_model_with_its_card(photos, tmp_path):
    export = tmp_path / "mine.safetensors"
    final = _run(photos, tmp_path / "run", "--steps", "4", "--channels", "3", "--export", str(export),
                 "--description", "test model")
    assert final == 0
    card = json.loads(export.with_suffix(".json").read_text())
    assert card["description"] == "test model" and card["architecture"] == "dcicnn"
    assert card["training"]["step"] == 4 and card["training"]["files"] == 3 and card["training"]["validation_files"] == 1
    assert card["training"]["command"].startswith("dci-cnn train --data") and card["training"]["validation_crop"] == 192
    assert str(tmp_path) not in json.dumps(card) and card["training"]["data"] == f"{photos.name}, 4 images"
    with open(tmp_path / "run" / "log.csv", newline="") as log:
        rows = list(csv.DictReader(log))
    assert [r["step"] for r in rows] == ["2", "4"] and float(rows[-1]["val_psnr_in"]) > 0
    restored = deblur(data.astronaut()[:40, :40], model=export, channel_axis=-1)
    assert restored.shape == (40, 40, 3)
    assert load_model(export).card["training"]["degradation"] == "mixed"


def test_time_limit_stops_validates_and_exports_the_step_it_reached(photos, tmp_path):
    export = tmp_path / "mine.safetensors"
    _run(photos, tmp_path / "run", "--steps", "50", "--val-every", "40", "--time-limit", "1e-9", "--export", str(export))
    training = json.loads(export.with_suffix(".json").read_text())["training"]
    with open(tmp_path / "run" / "log.csv", newline="") as log:
        rows = list(csv.DictReader(log))
    assert training["step"] == 1 and [r["step"] for r in rows] == ["1"]
    assert training["val_psnr_out"] == float(rows[0]["val_psnr_out"]) > 0


def test_validation_crops_have_the_asked_size_cut_to_the_image_and_to_jpeg_blocks(photos):
    files = find_images(photos)
    assert {p[0].shape for p in validation_set(files, 1, size=100)} == {(96, 96)}
    assert {p[1].shape[:2] for p in validation_set(files, 3, size=1000)} == {(160, 160), (144, 144)}
    with pytest.raises(ValueError, match="at least 8"):
        validation_set(files, 1, size=4)


def test_export_never_overwrites_and_is_checked_before_the_first_step(photos, tmp_path):
    export = tmp_path / "mine.safetensors"
    export.write_bytes(b"older model")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        _run(photos, tmp_path / "run", "--steps", "1", "--export", str(export))
    assert export.read_bytes() == b"older model"
    assert not (tmp_path / "run" / "log.csv").exists()  # refused before training, not after it


def test_resume_continues_the_same_schedule(photos, tmp_path):
    _run(photos, tmp_path / "straight", "--steps", "4", "--degradation", "paper", "--loss", "mse")
    _run(photos, tmp_path / "split", "--steps", "4", "--stop-at", "2", "--degradation", "paper", "--loss", "mse")
    assert torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)["step"] == 2
    _run(photos, tmp_path / "split", "--steps", "4", "--degradation", "paper", "--loss", "mse", "--resume")
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=1e-5, atol=1e-6)
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]


def test_init_from_weights_of_another_architecture_is_refused(photos, tmp_path, random_models):
    with pytest.raises(ValueError, match="is a dciunet model, not dcicnn"):
        _run(photos, tmp_path / "run", "--steps", "1", "--init", random_models["unet1"])


def test_init_grows_a_deeper_model_from_trained_weights(photos, tmp_path):
    small = tmp_path / "small.safetensors"
    unet = ["--arch", "dciunet", "--arch-args", '{"widths": [4, 8, 8]}', "--patch-size", "32", "--batch-size", "2",
            "--val-images", "1", "--val-fraction", "0.25", "--threads", "1", "--quiet"]
    main(["--data", str(photos), "--out", str(tmp_path / "a"), *unet, "--steps", "2", "--export", str(small)])
    deeper = unet[:2] + ["--arch-args", '{"widths": [4, 8, 8], "blocks": [1, 2, 3]}'] + unet[4:]
    grown = tmp_path / "grown.safetensors"
    main(["--data", str(photos), "--out", str(tmp_path / "b"), *deeper, "--steps", "1", "--lr", "0",
          "--export", str(grown), "--init", str(small)])
    card = load_model(grown).card
    assert card["arguments"]["blocks"] == [1, 2, 3] and card["training"]["init"] == str(small)
    small_card = load_model(small).card
    assert card["training"]["init_sha256"] == small_card["sha256"]
    assert card["training"]["previous_stages"] == [small_card["training"]]  # its lineage: the stage that made it
    total = small_card["training"]["wall_time_s"] + card["training"]["wall_time_s"]
    assert card["training"]["total_wall_time_s"] == pytest.approx(total, abs=0.11)
    image = data.camera()[:64, :64]
    np.testing.assert_allclose(deblur(image, model=grown), deblur(image, model=small), atol=2e-3)


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(src), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_exits(photos, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "dci_cnn.train", "--data", str(photos), "--out", str(out), *TINY,
                             "--steps", "100000", "--checkpoint-every", "100000"], env=_env())
    deadline = time.time() + 120
    while not (out / "log.csv").exists() or len((out / "log.csv").read_text().splitlines()) < 2:
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert 2 <= ckpt["step"] < 100000


@pytest.mark.slow
def test_torchrun_data_parallel_on_two_cpu_processes(photos, tmp_path):
    export = tmp_path / "ddp.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "dci_cnn.train", "--data", str(photos), "--out", str(tmp_path / "run"), *TINY, "--steps", "3",
           "--time-limit", "60",  # checked on every rank each step, by an all-reduce
           "--export", str(export)]
    result = subprocess.run(cmd, check=False, env=_env(), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"torchrun failed:\n{result.stdout}\n{result.stderr}"
    card = json.loads(export.with_suffix(".json").read_text())
    assert card["training"]["step"] == 3
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 3


def test_split_seed_fixes_the_validation_files_across_seeds(photos, tmp_path):
    def val_psnr_in(name, *seeds):
        _run(photos, tmp_path / name, "--steps", "2", *seeds)
        return [float(r["val_psnr_in"]) for r in csv.DictReader(open(tmp_path / name / "log.csv"))]

    # 4 photos, one validated: the input PSNR of the validation crops identifies the file
    by_split = {split: val_psnr_in(f"split{split}", "--seed", "1", "--split-seed", str(split)) for split in range(4)}
    assert len({tuple(v) for v in by_split.values()}) > 1
    assert val_psnr_in("other-seed", "--seed", "2", "--split-seed", "3") == by_split[3]


def test_stages_of_chains_a_cards_lineage_oldest_first():
    from dci_cnn.train import stages_of

    first = {"command": "dci-cnn train a", "step": 10}
    second = {"command": "dci-cnn train b", "step": 20, "previous_stages": [first]}
    assert stages_of({"sha256": "x", "training": second}) == [first, {"command": "dci-cnn train b", "step": 20}]
    assert second["previous_stages"] == [first]  # the card itself is left as it was
    assert stages_of({"sha256": "x"}) == []  # a card without a training record has no known stages


def test_ema_is_validated_exported_checkpointed_and_resumed(photos, tmp_path):
    from safetensors.torch import load_file

    ema = ["--degradation", "paper", "--loss", "mse", "--ema", "0.5", "--lr", "1e-2"]
    export = tmp_path / "ema.safetensors"
    _run(photos, tmp_path / "straight", "--steps", "4", *ema, "--export", str(export))
    _run(photos, tmp_path / "split", "--steps", "4", "--stop-at", "2", *ema)
    _run(photos, tmp_path / "split", "--steps", "4", "--resume", *ema)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    exported = load_file(export)
    for key, value in exported.items():
        torch.testing.assert_close(value, a["ema"][f"module.{key}"].to(value.dtype))  # the average ships (float16 on disk)
        torch.testing.assert_close(a["ema"][f"module.{key}"], b["ema"][f"module.{key}"], rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(v, a["model"][k].to(v.dtype)) for k, v in exported.items())  # and not the last weights
    assert int(a["ema"]["n_averaged"]) == 4
    assert json.loads(export.with_suffix(".json").read_text())["training"]["optimizer"].endswith("EMA 0.5")


def test_ema_decay_outside_0_1_and_resume_without_average_are_refused(photos, tmp_path):
    with pytest.raises(ValueError, match="--ema must be a decay in"):
        _run(photos, tmp_path / "run", "--steps", "1", "--ema", "1")
    _run(photos, tmp_path / "plain", "--steps", "2", "--stop-at", "1")
    with pytest.raises(ValueError, match="without --ema"):
        _run(photos, tmp_path / "plain", "--steps", "2", "--resume", "--ema", "0.9")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--patch-size", "0"], "--patch-size must be at least 8"),
        (["--arch", "dciunet", "--arch-args", "{}", "--patch-size", "30"], "a multiple of 8 for dciunet, got 30"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--val-fraction", "1"], "--val-fraction must be in [0, 1)"),
        (["--ema", "1"], "--ema must be a decay in [0, 1)"),
        (["--arch-args", "[8]"], "--arch-args must be a JSON object"),
        (["--arch-args", "{width: 8}"], "--arch-args is not valid JSON"),
        (["--arch-args", '{"wdth": 8}'], "do not fit dcicnn"),
        (["--device", "tpu"], "device 'tpu' is not available"),
        (["--init", "nope"], "unknown model 'nope'"),
        (["--export", "model.pt"], "--export must end in .safetensors"),
        (["--data", "/nonexistent/photos"], "--data /nonexistent/photos is not a folder"),
    ],
)
def test_every_argument_is_checked_before_the_first_step(photos, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert cli_main(["train", "--data", str(photos), "--out", str(out), *TINY, "--steps", "2", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dci-cnn train: error: ") and message in err, err
    assert not (out / "log.csv").exists() and not (out / "checkpoint.pt").exists()


def test_export_and_out_inside_a_file_are_refused_before_the_first_step(photos, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    for extra in (["--export", str(tmp_path / "file" / "m.safetensors")], ["--out", str(tmp_path / "file" / "run")]):
        assert cli_main(["train", "--data", str(photos), "--out", str(tmp_path / "run"), *TINY, *extra]) == 2
        assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "run" / "log.csv").exists()


def test_a_validation_image_smaller_than_a_jpeg_block_is_named(tmp_path, capsys):
    Image.fromarray(data.camera()[:64, :64]).save(tmp_path / "big.png")
    Image.fromarray(data.camera()[:6, :6]).save(tmp_path / "tiny.png")
    files = find_images(tmp_path)
    with pytest.raises(ValueError, match=r"tiny.png is 6x6 pixels, smaller than a JPEG block"):
        validation_set(files, 1)
    seed = next(s for s in range(20) if _split(files, 0.5, s)[1][0].name == "tiny.png")
    args = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), *TINY, "--steps", "1",
            "--val-fraction", "0.5", "--split-seed", str(seed)]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tiny.png is 6x6 pixels" in err


@pytest.mark.parametrize("damage", ["truncated", "pickled", "empty", "other model"])
def test_resume_from_a_damaged_checkpoint_is_one_line_naming_it(photos, tmp_path, capsys, damage):
    import argparse

    out = tmp_path / "run"
    _run(photos, out, "--steps", "2", "--stop-at", "1")
    ckpt = out / "checkpoint.pt"
    if damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    elif damage == "pickled":
        torch.save({"model": argparse.Namespace(evil=True)}, ckpt)
    elif damage == "empty":
        ckpt.write_bytes(b"")
    capsys.readouterr()
    width = "16" if damage == "other model" else "8"
    assert cli_main(["train", "--data", str(photos), "--out", str(out), *TINY, "--steps", "2", "--resume",
                     "--arch-args", f'{{"width": {width}, "residual": true}}']) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(ckpt) in err and "choose another --out" in err and "Traceback" not in err


def test_a_run_folder_is_only_continued_with_resume_or_restarted_with_overwrite(photos, tmp_path, capsys):
    out = tmp_path / "run"
    _run(photos, out, "--steps", "2")
    assert cli_main(["train", "--data", str(photos), "--out", str(out), *TINY, "--steps", "2"]) == 2
    assert "holds a run; pass --resume to continue it, --overwrite to start it over" in capsys.readouterr().err
    _run(photos, out, "--steps", "2", "--overwrite")
    with open(out / "log.csv", newline="") as log:
        assert [r["step"] for r in csv.DictReader(log)] == ["2"]  # TINY validates every 2 steps: one row, not two


def test_train_help_gives_the_meaning_and_default_of_every_option(capsys):
    from dci_cnn.cli import build_parser

    train_parser = build_parser()._subparsers._group_actions[0].choices["train"]
    options = [a for a in train_parser._actions if a.dest != "help"]
    assert all(a.help for a in options)
    formatter = train_parser.formatter_class(prog="dci-cnn train")
    for action in options:  # switches (store_true) are off unless given; required options have no default
        if not (action.required or action.default is False):
            assert "default" in formatter._get_help_string(action), action.dest
    with pytest.raises(SystemExit):
        cli_main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "patches per step (default: 16)" in text and "(default: 0.001)" in text and "(default: None)" not in text
