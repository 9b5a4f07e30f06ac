"""torchrun with 2 processes (gloo, CPU, loopback only) trains the same model as one process with the
same global batch, and only rank 0 writes the run directory."""
import csv
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from rnnlab.checkpoint import load_checkpoint
from rnnlab.cli import main
from rnnlab.nn.lm import LanguageModel
from rnnlab.nn.prosody_inputs import prosody_tables
from rnnlab.training.state import load_state
from tests.conftest import POEMS

ARGS = ["--corpus", POEMS, "--embed-size", "8", "--hidden-size", "12", "--batch-size", "16", "--max-steps", "6",
        "--eval-every", "3", "--checkpoint-every", "4", "--time-budget", "0", "--no-progress", "--device", "cpu"]


@pytest.mark.parametrize("preset", [
    # the default: adaptive softmax, cosine, subset validation, prosody inputs and loss, form token; without its
    # dropout, whose masks each process draws for its own rows, and in float32 (in bf16 the two differ by up to
    # 2e-3 after these 6 steps, against 1e-7: the halves of a batch round differently)
    ["--preset", "cpu-fast", "--warmup", "2", "--valid-subset", "5", "--dropout", "0", "--precision", "fp32"],
    ["--preset", "seed-large", "--bucket"],                               # full softmax, length buckets
    ["--preset", "cpu-fast", "--warmup", "2", "--valid-subset", "5", "--dropout", "0", "--precision", "fp32",
     "--train-seq-len", "200", "--train-window", "9"],                  # long poems in windows, each row's state carried
])
def test_two_processes_equal_one_with_the_same_global_batch(preset, tmp_path, capsys):
    args = ARGS + preset
    assert main(["train", *args, "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "rnnlab", "train", *args, "--out", str(tmp_path / "two")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best validation perplexity") == 1                 # rank 0 alone reports
    one, two = (load_file(tmp_path / name / "last" / "model.safetensors") for name in ("one", "two"))
    torch.manual_seed(0)
    ckpt = load_checkpoint(tmp_path / "one")
    start = dict(LanguageModel(ckpt.model.config, prosody_tables(ckpt.vocab)).named_parameters())
    assert all(not torch.equal(one[k], start[k]) for k in start)                 # it did train (the tables are fixed)
    # Adam's first step is lr * g / (|g| + 1e-8): for a gradient near its eps it magnifies the rounding of the
    # sum over processes (the default's prosody_head.weight[5, 0] has g = 3.30e-9 in one process, 3.28e-9
    # summed over two, and moves 3.1e-6 apart in that first step), hence atol 1e-5 on the weights; Adam does
    # not see a gradient's scale, so the loss and the gradient's norm are compared step by step too
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=0, atol=1e-5, msg=name)
    steps = [int(row["step"]) for row in csv.DictReader(open(tmp_path / "two" / "metrics.csv"))]
    assert steps == sorted(set(steps)) and steps[-1] == 6                         # written once per step, by one process
    state = load_state(tmp_path / "two")["progress"]
    assert state["step"] == 6 and state["stop"] == "max steps reached"
    for column in ("train_loss", "grad_norm", "valid_ppl"):
        one_two = [[float(r[column]) for r in csv.DictReader(open(tmp_path / name / "metrics.csv")) if r[column]]
                   for name in ("one", "two")]
        assert one_two[1] == pytest.approx(one_two[0], rel=1e-5) and one_two[0], column


def test_sigterm_to_torchrun_then_resume_equals_an_uninterrupted_two_process_run(tmp_path):
    """torchrun forwards SIGTERM to its workers; they agree to stop, rank 0 saves, and a resumed run under
    torchrun ends bitwise equal to one never interrupted: the default, dropout included, in bf16."""
    import signal
    import time

    argv = ARGS + ["--epochs", "100", "--max-steps", "120", "--eval-every", "10", "--checkpoint-every", "1",
                   "--precision", "bf16"]
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "rnnlab", "train"]
    cut = tmp_path / "cut"
    proc = subprocess.Popen(launch + argv + ["--out", str(cut)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if load_state(cut)["progress"]["step"] >= 20:
                break
        except Exception:                       # not written yet
            pass
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    stopped_at = load_state(cut)["progress"]["step"]
    assert 20 <= stopped_at < 120 and "training state saved; continue with" in err
    resumed = subprocess.run(launch + ["--resume", str(cut), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole = subprocess.run(launch + argv + ["--out", str(tmp_path / "whole")], capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr[-3000:]
    for folder in ("best", "last"):
        assert (cut / folder / "model.safetensors").read_bytes() == \
            (tmp_path / "whole" / folder / "model.safetensors").read_bytes(), (folder, stopped_at)
