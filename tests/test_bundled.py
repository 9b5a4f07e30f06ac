"""The model inside the package: poems with no corpus, no run and no network; checked before it is read;
in the wheel; listed by `rnnlab models`; a start for fine-tuning."""
import json
import os
import shutil
import socket
import subprocess
import sys
import zipfile

import pytest
import torch

import rnnlab
from rnnlab import bundled
from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.cli import main
from rnnlab.generate.forms import form_of
from tests.conftest import ENGLISH, POEMS, REPO


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, no data folder, no runs: a fresh install's view."""
    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path / "no-data"))
    monkeypatch.chdir(tmp_path)


def test_generate_without_a_checkpoint_uses_the_bundled_model(offline, capsys):
    assert main(["generate", "--form", "qijue", "--num", "3"]) == 0
    out, err = capsys.readouterr()
    poems = out.split()
    assert len(poems) == 3 and all(form_of(p) == "qijue" for p in poems)
    assert err.strip() == "rnnlab: no --checkpoint given: using the bundled model 'tang' (see `rnnlab models`)"
    assert main(["generate", "--checkpoint", "tang", "--start", "月", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("月")


def test_serve_without_a_checkpoint_serves_the_bundled_model(offline, monkeypatch):
    import uvicorn
    from fastapi.testclient import TestClient

    from rnnlab.web.app import serve

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app))
    serve(None)
    with TestClient(served["app"]) as client:
        assert "<html" in client.get("/").text.lower()
        assert [m["name"] for m in client.get("/api/models").json()] == ["tang"]
        poem = client.post("/api/generate", json={"form": "wujue", "num": 1}).json()["poems"][0]
        assert form_of(poem) == "wujue"


def test_load_without_a_path_is_the_bundled_model_in_float32(offline, capsys):
    poet = rnnlab.load()
    assert "bundled model 'tang'" in capsys.readouterr().err
    assert {p.dtype for p in poet.model.parameters()} == {torch.float32}
    assert poet.meta["card"]["valid_ppl"] > 0 and poet.path == bundled.MODELS / "tang"


def test_the_card_is_in_the_package_and_its_meta(offline):
    card = json.loads((bundled.MODELS / "tang" / "meta.json").read_text(encoding="utf-8"))["card"]
    text = (bundled.MODELS / "tang" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card["train_command"] in text and f"{card['valid_ppl']:.2f}" in text
    assert set(card["forms"]) == {"wujue", "qijue", "wulv", "qilv"}
    assert (bundled.MODELS / "tang" / "model.safetensors").stat().st_size <= 25 * 2 ** 20


@pytest.mark.parametrize("damage, match", [
    (lambda f: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]), "does not match its SHA-256 (changed or truncated;"),
    (lambda f: f.write_bytes(f.read_bytes()[:-1] + b"\x00"), "does not match its SHA-256 (changed or truncated;"),
    (lambda f: f.unlink(), "is missing ("),
])
def test_a_damaged_bundled_model_is_refused_in_one_line(offline, monkeypatch, tmp_path, capsys, damage, match):
    copy = tmp_path / "models"
    shutil.copytree(bundled.MODELS, copy)
    monkeypatch.setattr(bundled, "MODELS", copy)
    damage(copy / "tang" / "model.safetensors")
    assert main(["generate", "--num", "1"]) == 2
    note, error = capsys.readouterr().err.strip().splitlines()      # the default's note, then the error
    assert error.startswith(f"rnnlab: error: bundled model tang: model.safetensors {match}") and "reinstall" in error


def test_half_precision_weights_load_as_float32(tiny_run, tmp_path):
    ckpt = tiny_run.checkpoint
    save_checkpoint(tmp_path / "half", ckpt.model, ckpt.vocab, ckpt.data_config, {}, dtype=torch.float16)
    half = load_checkpoint(tmp_path / "half")
    for name, p in half.model.state_dict().items():
        saved = ckpt.model.state_dict()[name]
        if not saved.is_floating_point():                 # the prosody tables' ids stay integers
            assert torch.equal(p, saved)
            continue
        assert p.dtype == torch.float32
        assert torch.equal(p, saved.half().float())


def test_models_lists_the_bundled_model_and_the_runs(tiny_run, capsys):
    runs = tiny_run.run_dir.parent
    assert main(["models", "--runs", str(runs), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(m["name"], m["kind"]) for m in found] == [("tang", "bundled"), (tiny_run.run_dir.name, "run")]
    assert found[1]["valid_ppl"] == pytest.approx(tiny_run.best_ppl)
    assert main(["models", "--runs", str(runs)]) == 0
    shape = json.loads((bundled.MODELS / "tang" / "config.json").read_text(encoding="utf-8"))["model"]
    assert f"| tang | bundled | lstm {shape['num_layers']}x{shape['hidden_size']} |" in capsys.readouterr().out


def test_init_from_the_bundled_model(tmp_path, capsys):
    assert main(["train", "--init-from", "tang", "--corpus", ENGLISH, "--out", str(tmp_path / "en")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnlab: error: --init-from tang: ") and "not in its vocabulary of" in err
    assert not (tmp_path / "en").exists()
    assert main(["train", "--init-from", "tang", "--corpus", POEMS, "--max-steps", "2", "--eval-every", "1",
                 "--valid-subset", "8", "--batch-size", "4", "--out", str(tmp_path / "poems"), "--no-progress"]) == 0
    assert f"--init-from tang: its vocabulary of {len(rnnlab.load('tang').vocab)} kept" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "poems").model.config == rnnlab.load("tang").model.config


def test_the_wheel_holds_the_model_and_generates_outside_the_source_tree(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q",
                    "-w", str(tmp_path / "wheel")], check=True, capture_output=True)
    wheel = next((tmp_path / "wheel").glob("rnnlab-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "site")
    assert {"rnnlab/models/tang.sha256", "rnnlab/models/tang/model.safetensors",
            "rnnlab/models/tang/MODEL_CARD.md"} <= names
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "RNNLAB_DATA": str(tmp_path / "no-data")}
    run = subprocess.run([sys.executable, "-c", "import rnnlab, sys; from rnnlab.cli import main; "
                          "print(rnnlab.__file__); sys.exit(main(['generate', '--form', 'wujue']))"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    where, poem = run.stdout.split()
    assert run.returncode == 0 and where.startswith(str(tmp_path / "site")) and form_of(poem) == "wujue"
