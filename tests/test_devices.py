"""--device on every command that runs a model: auto picks what is here (CUDA, then MPS, then the CPU);
asking for a device that is absent, or for an unknown one, is one line and exit 2."""
import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.device import mps_available, pick_device
from tests.conftest import POEMS

HERE = "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
ABSENT = [d for d, here in (("cuda", torch.cuda.is_available()), ("mps", mps_available())) if not here]


def commands(run_dir, tmp_path):
    return {"train": ["train", "--corpus", POEMS, "--max-steps", "1", "--time-budget", "0", "--embed-size", "8",
                      "--hidden-size", "12", "--no-progress", "--out", str(tmp_path / "run")],
            "generate": ["generate", "--checkpoint", str(run_dir), "--num", "1", "--max-len", "8"],
            "eval": ["eval", "--checkpoint", str(run_dir), "--corpus", POEMS, "--json"],
            "eval-gen": ["eval-gen", "--checkpoint", str(run_dir), "--num", "2", "--max-len", "8", "--json"],
            "serve": ["serve", "--checkpoint", str(run_dir), "--port", "1"]}


def test_auto_picks_what_is_here():
    assert pick_device("auto") == HERE and pick_device("cpu") == "cpu"


@pytest.mark.parametrize("command", ["generate", "eval", "eval-gen"])
def test_cpu_and_auto_run(capsys, tiny_run, tmp_path, command):
    for device in ("cpu", "auto"):
        assert main(commands(tiny_run.run_dir, tmp_path)[command] + ["--device", device]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert out.strip()
        if command != "generate":
            json.loads(out)


@pytest.mark.skipif(not ABSENT, reason="every device is here")
@pytest.mark.parametrize("command", ["train", "generate", "eval", "eval-gen", "serve"])
def test_an_absent_device_is_one_line(capsys, tiny_run, tmp_path, command):
    for device in ABSENT:
        assert main(commands(tiny_run.run_dir, tmp_path)[command] + ["--device", device]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and f"--device {device}: no" in err, err
        assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["train", "generate", "eval", "eval-gen", "serve"])
def test_an_unknown_device_is_refused_by_the_parser(capsys, tiny_run, tmp_path, command):
    with pytest.raises(SystemExit) as stop:
        main(commands(tiny_run.run_dir, tmp_path)[command] + ["--device", "tpu"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and "invalid choice: 'tpu'" in err
