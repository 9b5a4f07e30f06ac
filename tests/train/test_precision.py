"""--precision: bf16 autocast for the plain LSTM's training steps (and, with tied output vectors, the adaptive
softmax's matrix products). Weights, optimizer state, checkpoints, the log-softmax, the loss and every validation
figure stay float32; auto takes bf16 only where the machine computes it natively."""
import json
import math

import pytest
import torch

from rnnlab import device as devices
from rnnlab.checkpoint import load_checkpoint
from rnnlab.cli import main
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel, full_precision
from tests.conftest import POEMS

TINY = ["--corpus", POEMS, "--embed-size", "16", "--hidden-size", "24", "--batch-size", "16", "--time-budget", "0",
        "--max-steps", "6", "--eval-every", "3", "--no-progress"]


@pytest.mark.parametrize("flags, device, expected", [
    (set(), "cpu", "fp32"), ({"avx2"}, "cpu", "fp32"), ({"avx512_bf16"}, "cpu", "bf16"), ({"amx_bf16"}, "cpu", "bf16"),
])
def test_auto_takes_bf16_only_where_it_is_native(monkeypatch, flags, device, expected):
    monkeypatch.setattr("rnnlab.machine.cpu_flags", lambda: flags)
    assert devices.pick_precision("auto", device) == expected
    assert devices.pick_precision("fp32", device) == "fp32" and devices.pick_precision("bf16", device) == "bf16"


@pytest.mark.parametrize("tied", [False, True])
def test_bf16_log_probabilities_and_loss_are_float32_and_close_to_fp32(tied):
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=50, embed_size=16, hidden_size=32, softmax="adaptive", tied=tied))
    tokens = torch.randint(4, 50, (3, 9))
    exact, _ = model(tokens)
    model.autocast_dtype = torch.bfloat16
    low, state = model(tokens)
    assert low.dtype == torch.float32 and state[0].dtype == torch.float32
    assert torch.allclose(low.exp().sum(-1), torch.ones(3, 9), atol=1e-5)        # still a distribution
    assert (low - exact).abs().max() < 0.05                                          # bf16 keeps ~3 digits
    loss, n, _ = model.summed_loss(tokens[:, :-1], tokens[:, 1:], 0)
    assert loss.dtype == torch.float32 and n == 24
    with full_precision(model):
        again, _ = model(tokens)
    assert torch.equal(again, exact) and model.autocast_dtype is torch.bfloat16


def test_a_bf16_run_trains_says_so_and_its_figures_are_float32(capsys, tmp_path):
    assert main(["train", *TINY, "--precision", "bf16", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "precision bf16" in out.splitlines()[0]
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert cfg["precision"] == "bf16"
    ckpt = load_checkpoint(tmp_path / "run")
    assert all(v.dtype == torch.float32 for v in ckpt.model.state_dict().values() if v.is_floating_point())
    best = ckpt.meta["valid_ppl"]
    assert math.isfinite(best) and ckpt.perplexity(POEMS, split="valid") == pytest.approx(best, rel=1e-6)


def test_auto_is_recorded_resolved(capsys, tmp_path):
    assert main(["train", *TINY, "--precision", "auto", "--out", str(tmp_path / "run")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    resolved = devices.pick_precision("auto", "cpu")
    assert f"precision {resolved} (auto: this machine" in first
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["precision"] == resolved


def test_precision_is_refused_where_it_does_nothing(capsys, tmp_path):
    assert main(["train", *TINY, "--preset", "seed-large", "--engine", "numpy", "--precision", "bf16",
                 "--out", str(tmp_path / "run")]) == 2
    assert "--precision is not used by this run: it needs the torch engine's plain LSTM" in capsys.readouterr().err


def test_eval_and_generate_take_precision_too(tiny_run, capsys):
    run = str(tiny_run.run_dir)
    figures = {}
    for precision in ("fp32", "bf16"):
        assert main(["eval", "--checkpoint", run, "--corpus", POEMS, "--split", "valid", "--precision", precision,
                     "--json"]) == 0
        figures[precision] = json.loads(capsys.readouterr().out)
    assert figures["bf16"]["precision"] == "bf16" and figures["fp32"]["precision"] == "fp32"
    assert figures["fp32"]["perplexity"] == pytest.approx(tiny_run.checkpoint.meta["valid_ppl"], rel=1e-6)
    assert figures["bf16"]["perplexity"] != figures["fp32"]["perplexity"]              # bf16 did compute
    assert figures["bf16"]["perplexity"] == pytest.approx(figures["fp32"]["perplexity"], rel=2e-2)
    assert main(["generate", "--checkpoint", run, "--start", "月", "--num", "2", "--precision", "bf16"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize("extra, message", [
    (["--engine", "numpy"], "--precision bf16 needs the torch engine's plain LSTM"),
    (["--float64"], "--float64 and --precision bf16 contradict each other"),
])
def test_eval_refuses_bf16_where_it_cannot_compute_it(tiny_full_run, capsys, extra, message):
    assert main(["eval", "--checkpoint", str(tiny_full_run.run_dir), "--corpus", POEMS, "--precision", "bf16",
                 *extra]) == 2
    assert message in capsys.readouterr().err
