"""torchrun with 2 processes (gloo, CPU, loopback only) trains the same model as one process with the
same global batch, and only rank 0 writes the run directory."""
import csv
import subprocess
import sys

import torch
from safetensors.torch import load_file

from rnnlab.checkpoint import load_checkpoint
from rnnlab.cli import main
from rnnlab.nn.lm import LanguageModel
from rnnlab.train.state import load_state
from tests.conftest import needs_data

pytestmark = needs_data("tangshi.txt")
ARGS = ["--corpus", "tangshi", "--embed-size", "8", "--hidden-size", "12", "--batch-size", "16", "--max-steps", "6",
        "--eval-every", "3", "--checkpoint-every", "4", "--time-budget", "0", "--no-progress", "--device", "cpu"]


def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, capsys):
    assert main(["train", *ARGS, "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "rnnlab", "train", *ARGS, "--out", str(tmp_path / "two")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best validation perplexity") == 1                 # rank 0 alone reports
    one, two = (load_file(tmp_path / name / "last" / "model.safetensors") for name in ("one", "two"))
    torch.manual_seed(0)
    start = LanguageModel(load_checkpoint(tmp_path / "one").model.config).state_dict()
    assert all(not torch.equal(one[k], start[k]) for k in one)                   # it did train
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=0, atol=1e-6, msg=name)
    steps = [int(row["step"]) for row in csv.DictReader(open(tmp_path / "two" / "metrics.csv"))]
    assert steps == sorted(set(steps)) and steps[-1] == 6                         # written once per step, by one process
    state = load_state(tmp_path / "two")["progress"]
    assert state["step"] == 6 and state["stop"] == "max steps reached"
    ppl = {name: [r["valid_ppl"] for r in csv.DictReader(open(tmp_path / name / "metrics.csv"))] for name in ("one", "two")}
    assert [float(v) for v in ppl["two"] if v] == [float(v) for v in ppl["one"] if v]
