"""Faults with real processes: signals mid-batch, kill -9 in training, a full disk, a closed pipe.

Every output is whole or absent, nothing partial is left behind, and the run can be finished.
"""

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from dci_cnn import _restore_file
from dci_cnn._files import atomic_write
from dci_cnn.cli import main
from dci_cnn.imageio import read_image
from dci_cnn.train import main as train_main

SRC = str(Path(__file__).resolve().parents[1] / "src")

# The real command, with each rename into place slowed down and announced, so that a signal lands mid-batch
# while an output is being written. SIGINT gets Python's handler even where the test runner ignores it.
SLOW_WRITER = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
replace = os.replace
def announced(src, dst):
    print("writing", dst, flush=True)
    time.sleep(0.5)
    replace(src, dst)
os.replace = announced
from dci_cnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))


@pytest.fixture
def batch(tmp_path):
    """Six small RGB images, two of them in a subfolder."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    for i in range(6):
        path = folder / ("sub" if i >= 4 else "") / f"img{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)).save(path)
    return folder


def _files_below(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_batch_leaves_whole_outputs_and_a_rerun_finishes(batch, tmp_path, signum):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, "deblur", str(batch), "-o", str(out), "--model", "dci-paper",
                             "--quiet"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writes = 0
    while writes < 2:  # the first output is in place, the second is being written
        line = proc.stdout.readline()
        assert line, f"the batch ended before it could be interrupted: {proc.communicate()}"
        writes += line.startswith("writing")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    assert err.count("\n") == 1 and f"interrupted by {signal.Signals(signum).name}" in err and "Traceback" not in err
    written = _files_below(out)
    assert 1 <= len(written) < 6 and not any(Path(name).name.startswith(".") for name in written)  # no temporary left
    for name in written:
        assert read_image(out / name).shape == (24, 28, 3)  # whole
    assert main(["deblur", str(batch), "-o", str(out), "--model", "dci-paper", "--quiet", "--skip-existing"]) == 0
    assert _files_below(out) == [f"img{i}.png" for i in range(4)] + ["sub/img4.png", "sub/img5.png"]


def test_kill_9_in_training_then_resume_loses_at_most_one_checkpoint_interval(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(data.camera()[:96, :96]).save(photos / "camera.png")
    Image.fromarray(data.astronaut()[:96, :96]).save(photos / "astronaut.png")
    out = tmp_path / "run"
    tiny = ["--data", str(photos), "--out", str(out), "--arch", "dcicnn", "--arch-args", '{"width": 8, "residual": true}',
            "--patch-size", "16", "--batch-size", "2", "--val-every", "1", "--val-images", "1", "--val-fraction", "0.5",
            "--val-size", "32", "--checkpoint-every", "3", "--steps", "100000", "--threads", "1", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "dci_cnn.train", *tiny], env=_env(), stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "log.csv").exists() or len((out / "log.csv").read_text().splitlines()) < 9:
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    with open(out / "log.csv", newline="") as log:
        logged = [int(r["step"]) for r in csv.DictReader(log)]
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert saved >= 3 and 0 <= logged[-1] - saved <= 3
    assert train_main([*tiny, "--resume", "--stop-at", str(logged[-1] + 2)]) == 0
    with open(out / "log.csv", newline="") as log:
        assert [int(r["step"]) for r in csv.DictReader(log)] == list(range(1, logged[-1] + 3))  # no step twice, none lost


def test_a_full_disk_names_the_file_stops_the_batch_and_leaves_nothing_partial(batch, tmp_path, capsys, monkeypatch):
    def disk_full(path, write, **options):
        def half_written(tmp):
            Path(tmp).write_bytes(b"\x89PNG half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return atomic_write(path, half_written, **options)

    monkeypatch.setattr(_restore_file, "atomic_write", disk_full)
    out = tmp_path / "out"
    assert main(["deblur", str(batch), "-o", str(out), "--model", "dci-paper", "--quiet"]) == 1
    captured = capsys.readouterr()
    failed = [line for line in captured.err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and f"{out / 'img0.png'}: no space left on device; free some space" in failed[0]
    assert "stopping: the disk is full" in captured.err and "5 not attempted" in captured.out
    assert _files_below(out) == []


CHILD_ON_TMPFS = """
import json, os, subprocess, sys
mount, src, size = sys.argv[1:4]
if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mount]).returncode:
    sys.exit(77)
from dci_cnn.cli import main
from dci_cnn.imageio import read_image
status = main(["deblur", src, "-o", os.path.join(mount, "out"), "--model", "dci-paper", "--quiet"])
found = {}
for folder, _, names in os.walk(os.path.join(mount, "out")):
    for name in names:
        path = os.path.join(folder, name)
        try:
            found[os.path.relpath(path, mount)] = list(read_image(path).shape)
        except ValueError:
            found[os.path.relpath(path, mount)] = "unreadable"
print(json.dumps({"status": status, "found": found}))
"""


@pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("mount") is None, reason="needs unshare and mount")
def test_a_real_full_disk_on_a_tiny_tmpfs(batch, tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    big = np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)  # noise: ~27 kB as PNG
    Image.fromarray(big).save(batch / "img2.png")
    # A user and mount namespace of its own: root inside, the mount gone when the child ends, nothing outside touched.
    result = subprocess.run(["unshare", "-rm", sys.executable, "-c", CHILD_ON_TMPFS, str(mount), str(batch), "16k"],
                            check=False, env=_env(), capture_output=True, text=True, timeout=120)
    if result.returncode == 77 or "unshare" in result.stderr and "Operation not permitted" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["status"] == 1
    assert "no space left on device" in result.stderr and "stopping: the disk is full" in result.stderr
    assert "out/img2.png: no space left on device" in result.stderr
    assert report["found"] and all(shape == [24, 28, 3] for shape in report["found"].values())  # whole files only
    assert not any(Path(name).name.startswith(".") for name in report["found"])  # no temporary left


def test_models_json_into_a_closed_pipe_exits_141_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "dci_cnn.cli", "models", "--json"], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head` that has read all it wanted, before the command writes
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141 and err == b""
