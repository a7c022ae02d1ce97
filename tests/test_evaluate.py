"""Evaluation tables: paper-style rows, sizes, a custom restorer in the same table, the CLI."""

import json

import numpy as np
import pytest
from PIL import Image
from skimage import data

from dci_cnn.evaluate import degrade_for_eval, evaluate, format_table, main, summarize


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    Image.fromarray(data.astronaut()[:64, :96]).save(folder / "a.png")
    Image.fromarray(data.coffee()[:80, :64]).save(folder / "b.png")
    return sorted(folder.iterdir())


def test_identity_restorer_gains_nothing(images):
    rows = evaluate(images, channels=3, qualities=(10, 40), restore=lambda x: x)
    assert len(rows) == 4
    for r in rows:
        assert r["output"]["psnr"] == pytest.approx(r["input"]["psnr"], abs=0.05)
    means = summarize(rows)
    assert [m["quality"] for m in means] == [10, 40] and means[0]["psnr_in"] < means[1]["psnr_in"]


def test_sizes_rerun_the_input_size_experiment(images, random_models):
    rows = evaluate(images, model=random_models["unet1"], channels=1, qualities=(20,), sizes=(32, 64))
    assert sorted({r["size"] for r in rows}) == [32, 64]
    table = format_table(rows, per_image=True)
    assert table.count("\n") == 1 + 4 + 2 and "mean of 2" in table


def test_compound_degradation_is_fixed_and_worse_than_jpeg():
    clean = data.camera()[:64, :64] / 255.0
    a = degrade_for_eval(clean, "compound", 40, seed=1)
    assert np.array_equal(a, degrade_for_eval(clean, "compound", 40, seed=1))
    assert np.abs(a - clean).mean() > np.abs(degrade_for_eval(clean, "jpeg", 40) - clean).mean()
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade_for_eval(clean, "gamma", 40)


def test_cli_prints_table_and_writes_json(images, tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert main(["--data", str(images[0].parent), "--channels", "1", "--quality", "30", "--json", str(out)]) == 0
    assert "| size | QF |" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == 2 and saved["summary"][0]["quality"] == 30


def test_record_writes_means_into_the_card(images, tmp_path, random_models):
    import shutil

    from dci_cnn import load_model, model_card

    model = tmp_path / "m.safetensors"
    shutil.copy(random_models["unet1"], model)
    shutil.copy(random_models["unet1"].replace(".safetensors", ".json"), model.with_suffix(".json"))
    assert main(["--data", str(images[0].parent), "--model", str(model), "--quality", "10", "--sizes", "32", "--record"]) == 0
    card = model_card(model)
    entry = card["metrics"][images[0].parent.name]["jpeg"]
    assert entry["QF10@32"]["images"] == 2 and entry["command"].startswith("dci-cnn evaluate --data")
    assert str(tmp_path) not in entry["command"] and f"--data {images[0].parent.name}" in entry["command"]
    assert load_model(model).card["sha256"] == card["sha256"]


def test_record_into_a_missing_card_raises_weights_error(images, tmp_path, random_models):
    import shutil

    from dci_cnn.weights import WeightsError

    model = tmp_path / "m.safetensors"
    shutil.copy(random_models["unet1"], model)
    with pytest.raises(WeightsError, match="card.*missing"):
        main(["--data", str(images[0].parent), "--model", str(model), "--quality", "10", "--sizes", "32", "--record"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--quality", "0"], "--quality takes JPEG qualities from 1 to 100, got 0"),
        (["--sizes", "4"], "--sizes must be at least 8 pixels"),
        (["--noise", "-1"], "--blur and --noise must be 0 or more"),
        (["--device", "tpu"], "device 'tpu' is not available"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--json", "{file}/rows.json"], "is a file, not a folder"),
    ],
)
def test_arguments_are_checked_before_any_image_is_scored(images, tmp_path, capsys, monkeypatch, extra, message):
    from dci_cnn import cli

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr("dci_cnn.evaluate.evaluate", lambda *a, **k: pytest.fail("scored before the arguments were checked"))
    extra = [e.format(file=tmp_path / "file") for e in extra]
    assert cli.main(["evaluate", "--data", str(images[0].parent), "--channels", "1", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
