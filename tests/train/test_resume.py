"""A run killed with SIGKILL at any step and resumed ends bitwise equal to one never interrupted;
SIGINT/SIGTERM save and exit; a non-finite streak rolls back and halves the learning rate."""
import csv
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.training.schedule import lr_factor
from rnnlab.training.state import STATE_FILE, load_state
from tests.conftest import POEMS

TINY = ["--corpus", POEMS, "--embed-size", "8", "--hidden-size", "12", "--batch-size", "16", "--time-budget", "0",
        "--no-progress", "--eval-every", "4", "--checkpoint-every", "1"]
RUNS = {
    "cpu-fast (adaptive softmax, warm-up, cosine, subset validation), dropout": [
        "--dropout", "0.2", "--warmup", "4", "--valid-subset", "10", "--hidden-size", "32", "--max-steps", "18"],
    "cpu-fast in bf16": ["--precision", "bf16", "--warmup", "4", "--valid-subset", "10", "--max-steps", "18"],
    "cpu-fast with weight drop, input and embedding dropout, prosody inputs and loss": [
        "--dropouti", "0.2", "--dropoute", "0.1", "--wdrop", "0.3", "--prosody-inputs", "position", "tones", "rhyme",
        "--prosody-loss", "0.5", "--warmup", "4", "--valid-subset", "10", "--max-steps", "18"],
    "cpu-fast, long poems in windows, the state and the prosody counters carried": [
        "--train-seq-len", "200", "--train-window", "9", "--warmup", "4", "--valid-subset", "10", "--max-steps", "18"],
    "cpu-fast, poems packed back to back in windows": [
        "--train-seq-len", "200", "--train-window", "9", "--pack-poems", "--warmup", "4", "--valid-subset", "10",
        "--max-steps", "18"],
    "seed-large, length buckets": ["--preset", "seed-large", "--bucket", "--max-steps", "18"],
    "numpy engine, nesterov": ["--preset", "seed-large", "--engine", "numpy", "--optimizer", "nesterov", "--lr", "0.5", "--max-steps", "18"],
    "awd-lstm, nt-asgd": ["--preset", "awd-small", "--num-layers", "2", "--bptt", "10", "--epochs", "3",
                          "--eval-every", "5", "--patience", "50"],
}


def saved_step(run_dir):
    try:
        return load_state(run_dir)["progress"]["step"]
    except Exception:                       # not written yet
        return -1


def start_and_kill(argv, run_dir, at_step, sig=signal.SIGKILL):
    """Start `rnnlab train ARGV` in a subprocess; send `sig` once its saved state reaches `at_step`."""
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab.cli", "train", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while saved_step(run_dir) < at_step and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, err


def metrics(run_dir):
    return [{k: v for k, v in row.items() if k != "tokens_per_s"} for row in csv.DictReader(open(run_dir / "metrics.csv"))]


def same_files(a, b, names):
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


@pytest.mark.parametrize("name", list(RUNS))
def test_killed_twice_and_resumed_equals_uninterrupted(name, tmp_path, capsys):
    argv = TINY + RUNS[name]
    assert main(["train", *argv, "--out", str(tmp_path / "whole")]) == 0
    whole = tmp_path / "whole"
    total = load_state(whole)["progress"]["step"]
    rng = np.random.default_rng(abs(hash(name)) % 2 ** 32)
    first, second = sorted(rng.choice(np.arange(1, total - 2), 2, replace=False))
    cut = tmp_path / "cut"
    code, err = start_and_kill(argv + ["--out", str(cut)], cut, first)
    assert code == -signal.SIGKILL, err
    killed_at = [saved_step(cut)]
    code, err = start_and_kill(["--resume", str(cut), "--no-progress"], cut, second)
    assert code == -signal.SIGKILL, err
    killed_at.append(saved_step(cut))
    assert 0 <= killed_at[0] <= killed_at[1] < total, killed_at           # both kills fell inside the run
    assert main(["train", "--resume", str(cut), "--no-progress"]) == 0
    for folder in ("best", "last"):
        assert same_files(whole / folder, cut / folder, ["model.safetensors", "meta.json"]), (folder, killed_at)
    assert metrics(cut) == metrics(whole)                                 # no step missing, none twice
    capsys.readouterr()


def test_a_finished_run_is_not_resumed_and_flags_do_not_mix(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--max-steps", "2", "--out", str(run)]) == 0
    assert main(["train", "--resume", str(run)]) == 2
    assert "this run has finished (max steps reached)" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--lr", "0.1"]) == 2
    assert "drop --lr" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no such run directory" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_save_then_exit_with_a_resume_hint(sig, tmp_path, capsys):
    run = tmp_path / "run"
    argv = TINY + ["--max-steps", "60", "--checkpoint-every", "5", "--out", str(run)]
    code, err = start_and_kill(argv, run, 5, sig)
    assert code == 128 + sig, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"rnnlab train --resume {run}" in lines[0] and signal.Signals(sig).name in lines[0]
    step = saved_step(run)
    assert 5 <= step < 60
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert not rows or int(rows[-1]["step"]) <= step
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert saved_step(run) == 60 and "max steps reached after 60 steps" in capsys.readouterr().out


def test_an_interrupted_state_write_leaves_the_previous_one(tmp_path, monkeypatch, capsys):
    """A crash between writing the temporary file and renaming it: the old state still loads."""
    run = tmp_path / "run"
    assert main(["train", *TINY, "--max-steps", "2", "--checkpoint-every", "100", "--out", str(run)]) == 0
    before = (run / STATE_FILE).read_bytes()

    def crash(src, dst):
        raise OSError("power cut")
    monkeypatch.setattr(os, "replace", crash)
    from rnnlab.data.dataset import prepare
    from rnnlab.training.config import build_config
    from rnnlab.training.engines import make_engine
    from rnnlab.training.loop import start_model
    from rnnlab.training.state import Progress, save_state

    cfg = build_config(corpus=POEMS, embed_size=8, hidden_size=12, device="cpu")
    data = prepare(cfg.data)
    engine = make_engine(cfg, start_model(cfg, data), "cpu", data.vocab)
    with pytest.raises(OSError, match="power cut"):
        save_state(run, engine, Progress(step=99), [])
    assert (run / STATE_FILE).read_bytes() == before and load_state(run)["progress"]["step"] == 2
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")] == []


# cpu-fast packs each row's poems back to back: in rows of 32 the fixture is about 10 steps an epoch, and the state
# saved at each epoch's end would be the one rolled back to; in rows of 8 it is longer than the run
@pytest.mark.parametrize("preset, rows", [("seed-large", "32"), ("cpu-fast", "8")])
def test_non_finite_steps_are_skipped_then_rolled_back_with_half_the_learning_rate(preset, rows, tmp_path, monkeypatch,
                                                                                    capsys):
    """Steps 6-8 and 12-14 get a NaN gradient: each is skipped; with --max-bad-steps 3 each streak sends the
    run back to its last saved state (saves every 4 steps: step 4, then step 12) with the learning rate halved
    (a scheduled one: the schedule's rate times 1/2 per roll-back)."""
    import rnnlab.training.engines as engines

    poisoned, calls = {6, 7, 8, 12, 13, 14}, {"n": 0}
    original = engines.clip_gradients

    def poison(params, *args):
        calls["n"] += 1
        params = list(params)
        if calls["n"] in poisoned:
            params[0].grad[0] = float("nan")
        return original(params, *args)
    monkeypatch.setattr(engines, "clip_gradients", poison)
    run = tmp_path / "run"
    assert main(["train", *TINY, "--preset", preset, "--batch-size", rows, "--max-steps", "16", "--checkpoint-every", "4",
                 "--max-bad-steps", "3", "--optimizer", "sgd", "--lr", "0.4", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "6 steps with a non-finite loss or gradient were skipped" in out
    assert out.count("3 non-finite steps in a row: back to the last saved state") == 2
    state = load_state(run)
    assert state["progress"]["rollbacks"] == 2 and state["progress"]["nonfinite"] == 6
    assert state["progress"]["lr_scale"] == 0.25
    schedule = [1.0] * 16 if preset == "seed-large" else [lr_factor("cosine", s, 20, 16) for s in range(16)]
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.1 * schedule[15])
    rows = {int(r["step"]): r for r in csv.DictReader(open(run / "metrics.csv"))}
    assert [float(rows[s]["lr"]) for s in (4, 8, 12, 16)] == \
        pytest.approx([0.4 * schedule[3], 0.2 * schedule[7], 0.2 * schedule[11], 0.1 * schedule[15]])
    assert rows[8]["valid_ppl"] == rows[4]["valid_ppl"]          # step 8 evaluated step 4's weights, rolled back
    assert math.isfinite(float(rows[16]["valid_ppl"]))
