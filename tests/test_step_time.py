"""benchmarks/step_time.py: its bf16-lstm case is what --precision bf16 computed before the softmax's products
moved to bf16 (the LSTM lowered, the softmax in float32), and a tiny run reports all three precisions."""
import json

import torch
from benchmarks.step_time import PRECISIONS, main, softmax_in_float32

from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel, full_precision
from tests.conftest import POEMS


def test_bf16_lstm_keeps_the_softmax_products_in_float32():
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=60, embed_size=32, hidden_size=32, softmax="adaptive", tied=True))
    h, targets = torch.randn(20, 32), torch.randint(1, 60, (20,))
    with full_precision(model):
        exact = model.adaptive_log_probs(h, targets)
    model.autocast_dtype = torch.bfloat16
    lowered = model.adaptive_log_probs(h, targets)
    softmax_in_float32(model)
    assert not torch.equal(lowered, exact)
    assert torch.equal(model.adaptive_log_probs(h, targets), exact)


def test_a_tiny_run_reports_every_precision(tmp_path, capsys):
    out = tmp_path / "step.json"
    main(["--corpus", POEMS, "--steps", "2", "--rounds", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    assert set(result["median_ms"]) == set(PRECISIONS) and all(v > 0 for v in result["median_ms"].values())
    assert "x fp32" in capsys.readouterr().out
