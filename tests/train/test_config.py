"""The training config: options routed to the model's own config, the optimizer's, the stream's or the
loop's; an option the run would not use refused in one line before anything is written; help texts
that show the defaults which apply; the options AWD-LSTM used to ignore now applied."""
import csv
import json
import math

import pytest
from safetensors.torch import load_file

from rnnlab.cli import main
from rnnlab.nn.configs import AWDConfig, ModelConfig
from rnnlab.training.config import TrainConfig, build_config, lookup
from tests.conftest import POEMS
from tests.test_cli import TINY, fails

AWD_TINY = ["--preset", "awd-small", "--corpus", POEMS, "--embed-size", "8", "--hidden-size", "12", "--num-layers",
            "2", "--batch-size", "8", "--bptt", "12", "--time-budget", "0", "--no-progress"]


def test_options_land_in_their_sections_and_the_config_round_trips():
    cfg = build_config("awd-small", dropout=0.2, wdrop=0.1, bptt=20, lr=5.0, batch_size=4, seq_len=100)
    assert isinstance(cfg.model, AWDConfig) and (cfg.model.dropout, cfg.model.wdrop) == (0.2, 0.1)
    assert cfg.stream.bptt == 20 and cfg.optim.lr == 5.0 and cfg.batch_size == 4 and cfg.data.seq_len == 100
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    lstm = build_config("seed-small", dropout=0.3)
    assert isinstance(lstm.model, ModelConfig) and lstm.model.dropout == 0.3 and lstm.stream is None
    assert lookup(lstm, "bptt") is None and lookup(lstm, "embed_size") == 256
    assert TrainConfig.from_dict(json.loads(json.dumps(lstm.to_dict()))) == lstm


@pytest.mark.parametrize("argv, match", [
    (["--preset", "awd-small", "--activation", "relu"], "--activation is a plain-LSTM option, not used by AWD-LSTM"),
    (["--preset", "awd-small", "--init", "orthogonal"], "--init is a plain-LSTM option"),
    (["--dropouth", "0.2"], "--dropouth is an AWD-LSTM option: add --preset awd or awd-small"),
    (["--engine", "numpy", "--wdrop", "0.2"], "--wdrop is not used by this run: it needs the torch engine"),
    (["--cell", "manual", "--precision", "bf16"], "--precision bf16 needs the torch engine's plain LSTM with the "
                                                  "native or autograd cell"),
    (["--engine", "numpy", "--softmax", "full"], "--engine numpy: the cpu-fast preset's --dropout, --prosody-inputs, "
                                                 "--prosody-loss, --tied, --tied-prosody need the torch engine"),
    (["--engine", "numpy", "--cell", "manual"], "--cell is not used by this run: it needs the torch engine"),
    (["--engine", "numpy", "--optim-impl", "torch"], "--optim-impl is not used by this run: it needs the torch engine"),
    (["--engine", "numpy", "--dropout", "0.1"], "--dropout is not used by this run"),
    (["--clip-per-tensor"], "--clip-per-tensor is not used by this run: it needs --clip-norm"),
    (["--preset", "seed-small", "--pack-poems"], "--pack-poems is not used by this run: it needs --train-window"),
    (["--preset", "awd-small", "--classes", "10"], "--classes is not used by this run: it needs --softmax class"),
    (["--preset", "awd-small", "--optim-impl", "torch"], "torch.optim has no ntasgd"),
])
def test_an_option_the_run_would_not_use_is_refused(capsys, tmp_path, argv, match):
    fails(capsys, "train", "--corpus", POEMS, *TINY, *argv, "--out", tmp_path / "run", match=match)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, match", [
    (["--embed-size", "64"], "--embed-size: the model comes from --init-from's checkpoint; drop it"),
    (["--dropout", "0.2"], "--dropout: the model comes from --init-from's checkpoint"),
    (["--preset", "awd-small"], "--init-from gives a plain LSTM: choose cpu-fast or a seed-* --preset"),
])
def test_init_from_takes_the_model_from_the_checkpoint(capsys, tmp_path, tiny_run, argv, match):
    fails(capsys, "train", "--corpus", POEMS, "--init-from", tiny_run.run_dir, "--time-budget", "0", *argv,
          "--out", tmp_path / "run", match=match)
    assert not (tmp_path / "run").exists()


def test_help_shows_the_defaults_that_apply(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")                  # no line breaks inside "seed-large"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ("learning rate (default: 0.007; seed-small 0.001, seed-large 0.001, cpu-fast-v1 0.005, cpu-fast-v2 0.005, "
            "cpu-fast-v3 0.005, cpu-fast-v4 0.005, cpu-fast-v5 0.005, cpu-fast-v6 0.005, cpu-2h-v4 0.005") in text
    assert "mean window length (default: awd 70, awd-small 35)" in text
    assert "(default: 49; seed-small 25, awd 400, awd-small 400)" in text
    assert "(default: position tones rhyme pattern; seed-small none, seed-large none, cpu-fast-v1 none" in text


def test_awd_applies_l1_value_clipping_and_gradient_norm_logging(capsys, tmp_path):
    """These options were accepted and ignored by the AWD engine; now they change the run."""
    common = [*AWD_TINY, "--optimizer", "sgd", "--lr", "1", "--max-steps", "3", "--eval-every", "3"]
    runs = {"plain": [], "l1": ["--l1", "0.01"], "clip": ["--clip-value", "1e-6", "--log-grad-norms"]}
    weights = {}
    for name, extra in runs.items():
        assert main(["train", *common, *extra, "--out", str(tmp_path / name)]) == 0, capsys.readouterr().err
        weights[name] = load_file(tmp_path / name / "best" / "model.safetensors")
    moved = {name: max((w[k] - weights["plain"][k]).abs().max().item() for k in w) for name, w in weights.items()}
    assert moved["l1"] > 1e-4 and moved["clip"] > 1e-4
    row = list(csv.DictReader(open(tmp_path / "clip" / "metrics.csv")))[-1]
    norms = {k: float(v) for k, v in row.items() if k.startswith("grad_norm:")}
    assert "grad_norm:rnns.0.module.weight_ih_l0" in norms and all(math.isfinite(n) and n > 0 for n in norms.values())
