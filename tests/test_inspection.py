"""`rnnlab inspect`: the gates and cells of both engines agree with each other and with the model's own
forward pass; the structure finder finds a planted cell and not noise; the choices are the model's own
probabilities; bad input is one line with nothing left behind."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnlab.checkpoint import build_model, load_checkpoint
from rnnlab.cli import main
from rnnlab.inspection.choices import choices
from rnnlab.inspection.report import read
from rnnlab.inspection.structure import (
    PROPERTIES,
    correlations,
    saturation,
    shuffle_within_lines,
    structural_cells,
    structure,
)
from rnnlab.inspection.trace import lstm_layers, trace_numpy, trace_torch
from rnnlab.nn.configs import CELLS
from tests.conftest import FIXTURES, POEMS

POEM = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


def tokens_of(ckpt, text):
    return [ckpt.vocab.bos] + ckpt.vocab.encode(text)


def model_output(model, tokens):
    """The last layer's output as the model computes it (before its output dropout, which eval skips)."""
    with torch.no_grad():
        out = model.features(torch.tensor([tokens]))
    return (out[2] if hasattr(model, "rnns") else out[0])[0].double().numpy()


@pytest.mark.parametrize("cell", CELLS)
def test_both_engines_trace_the_plain_lstm_as_it_computes(tiny_run, cell):
    ckpt = tiny_run.checkpoint
    model = build_model(replace(ckpt.model.config, cell=cell), ckpt.model.state_dict()).eval()
    tokens = tokens_of(ckpt, POEM)
    by_torch, by_numpy = trace_torch(model, tokens), trace_numpy(model, tokens)
    for layer_t, layer_n in zip(by_torch, by_numpy):
        for k in layer_t:
            np.testing.assert_allclose(layer_t[k], layer_n[k], rtol=0, atol=1e-5)
    np.testing.assert_allclose(by_torch[-1]["h"], model_output(model, tokens), rtol=0, atol=1e-5)


def test_both_engines_trace_a_two_layer_awd_lstm():
    ckpt = load_checkpoint(FIXTURES / "checkpoints" / "awd-0.1.0")
    text = "".join(ch for ch in POEM if ch in ckpt.vocab)
    tokens = tokens_of(ckpt, text)
    by_torch, by_numpy = trace_torch(ckpt.model, tokens), trace_numpy(ckpt.model, tokens)
    assert len(by_torch) == 2 and by_torch[1]["c"].shape == (len(tokens), 8)       # tied: the last layer has E units
    for layer_t, layer_n in zip(by_torch, by_numpy):
        for k in layer_t:
            np.testing.assert_allclose(layer_t[k], layer_n[k], rtol=0, atol=1e-5)
    np.testing.assert_allclose(by_torch[-1]["h"], model_output(ckpt.model, tokens), rtol=0, atol=1e-5)


def test_a_model_without_an_lstm_is_refused():
    with pytest.raises(Exception, match="no LSTM to inspect"):
        lstm_layers(torch.nn.Linear(2, 2))


def test_the_structure_of_a_wujue():
    s = structure(POEM)
    assert list(s["position in line"][:8]) == [0, 1, 2, 3, 4, 5, 0, 1]         # <bos> 床 前 明 月 光 ， 疑
    assert list(s["line index"][[0, 5, 6, 12, 13]]) == [0, 0, 1, 2, 2]
    assert [POEM[t] for t in np.flatnonzero(s["rhyme next"])] == ["霜", "乡"]      # step t predicts POEM[t]
    assert s["distance to end"][0] == len(POEM) and s["distance to end"][-1] == 0


def test_shuffling_keeps_each_line_its_characters_and_marks():
    shuffled = shuffle_within_lines(POEM, np.random.default_rng(0))
    assert shuffled != POEM and len(shuffled) == len(POEM)
    for a, b in zip(POEM.split("，"), shuffled.split("，")):
        assert sorted(a) == sorted(b)


def test_a_planted_counter_is_found_and_noise_is_not():
    """Unit 3 of layer 1's c counts the position in the line (plus noise); everything else is noise."""
    rng = np.random.default_rng(0)
    texts = [POEM, "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"] * 6
    shuffled = [shuffle_within_lines(t, rng) for t in texts]

    def fake_trace(text):
        c = rng.normal(size=(len(text) + 1, 8))
        c[:, 3] = structure(text)["position in line"] + 0.1 * rng.normal(size=len(text) + 1)
        return [{"c": c, "h": rng.normal(size=c.shape)}]

    cells = structural_cells([fake_trace(t) for t in texts], [fake_trace(t) for t in shuffled], texts, shuffled)
    found = cells["position in line"]
    assert (found["layer"], found["kind"], found["unit"]) == (0, "c", 3)
    assert found["r_held_out"] > 0.95 and found["r_shuffled"] > 0.95 and found["chance"] < 0.3
    assert abs(cells["rhyme next"]["r_held_out"]) < 0.3          # no unit was planted for it
    assert set(cells) == set(PROPERTIES)


def test_correlations_and_saturation_on_known_values():
    x = np.array([[1.0, 5.0, 2.0], [2.0, 5.0, 4.0], [3.0, 5.0, 1.0]])
    np.testing.assert_allclose(correlations(x, np.array([1.0, 2.0, 3.0])), [1.0, 0.0, np.corrcoef(x[:, 2], [1, 2, 3])[0, 1]])
    gate = np.array([[0.05, 0.5], [0.95, 0.5], [0.05, 0.99], [0.5, 0.5]])
    s = saturation([[{"i": gate, "f": gate, "o": gate}]])
    np.testing.assert_allclose(s[0]["f"]["left"], [0.5, 0.0])
    np.testing.assert_allclose(s[0]["f"]["right"], [0.25, 0.25])


def test_choices_are_the_models_own_probabilities(tiny_run):
    """The steps' log p and the form token's (the default has --form-token; its cost is in a perplexity,
    divided by the characters and the end) make the poem's perplexity; a greedy poem is the model's first
    choice wherever no rule acted."""
    ckpt = tiny_run.checkpoint
    poem = ckpt.generate(form="wujue", strategy="greedy")[0]
    steps = choices(ckpt.model, ckpt.vocab, poem, form="wujue")
    assert len(steps) == len(poem) + 1 and steps[-1]["char"] == "<eos>"
    with torch.no_grad():
        first, _ = ckpt.model.eval()(torch.tensor([[ckpt.vocab.bos]]))
    form_logp = torch.log_softmax(first[0, 0].double(), -1)[ckpt.vocab.form_ids["wujue"]].item()
    logp = sum(np.log(s["p"]) for s in steps) + form_logp
    assert np.exp(-logp / len(steps)) == pytest.approx(ckpt.perplexity([poem]), rel=1e-5)
    free = [s for s in steps if not s["forced"] and not s["overruled"]]
    assert free and all(s["rank"] == 1 and s["top"][0] == (s["char"], pytest.approx(s["p"])) for s in free)
    assert [s["forced"] for s in steps if s["char"] in "，。"] == ["form"] * 4


def test_choices_name_the_rule_that_overruled_the_model(tiny_run):
    ckpt = tiny_run.checkpoint
    poems = ckpt.generate(form="wujue", rhyme="hard", tones="hard", num=8, seed=0)
    acted = {rule for poem in poems for s in choices(ckpt.model, ckpt.vocab, poem, form="wujue", rhyme="hard",
                                                      tones="hard") for rule in s["overruled"]}
    assert {"tones", "rhyme"} <= acted


def test_a_model_with_form_tokens_is_read_as_it_was_trained_without_the_form_step(tiny_run):
    """The default has --form-token: the trace reads <bos>, the poem's form token, the characters, and keeps
    the steps of <bos> and the characters, each equal to the model's own output there."""
    ckpt = tiny_run.checkpoint
    assert ckpt.vocab.form_ids
    ids = ckpt.vocab.poem(POEM, "wujue")[:-1]
    assert ids[1] == ckpt.vocab.form_ids["wujue"]
    for engine in ("torch", "numpy"):
        trace = read(ckpt.model.eval(), ckpt.vocab, POEM, engine)
        assert trace[-1]["h"].shape[0] == len(POEM) + 1
        own = model_output(ckpt.model, ids)
        np.testing.assert_allclose(trace[-1]["h"], np.delete(own, 1, axis=0), rtol=0, atol=1e-5)


def test_inspect_writes_its_report_and_both_engines_agree(tiny_run, tmp_path, capsys):
    figures = {}
    for engine in ("torch", "numpy"):
        out = tmp_path / engine
        assert main(["inspect", "--checkpoint", str(tiny_run.run_dir), "--corpus", POEMS, "--num", "12",
                     "--engine", engine, "--out", str(out)]) == 0
        assert sorted(p.name for p in out.iterdir()) == ["heatmap.png", "inspect.json", "saturation.png", "summary.md"]
        figures[engine] = json.loads((out / "inspect.json").read_text(encoding="utf-8"))
    assert "position in line" in capsys.readouterr().out
    for name, cell in figures["torch"]["cells"].items():
        other = figures["numpy"]["cells"][name]
        assert {k: cell[k] for k in ("layer", "kind", "unit")} == {k: other[k] for k in ("layer", "kind", "unit")}
        assert cell["r_held_out"] == pytest.approx(other["r_held_out"], abs=1e-6)
    summary = (tmp_path / "torch" / "summary.md").read_text(encoding="utf-8")
    assert "| position in line | layer 1" in summary and "| 1 | f |" in summary


@pytest.mark.parametrize("argv, match", [
    (["--text", "床前明月光，疑是地上霜。Hello"], "characters outside the model's vocabulary: "),
    (["--text", "   "], "no poem to inspect (the text is empty)"),
])
def test_bad_input_is_one_line_and_leaves_nothing(tiny_run, tmp_path, capsys, argv, match):
    out = tmp_path / "report"
    assert main(["inspect", "--checkpoint", str(tiny_run.run_dir), *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"rnnlab: error: {match}" or (err.startswith("rnnlab: error: ") and match in err)
    assert len(err.splitlines()) == 1 and not out.exists() and list(tmp_path.iterdir()) == []


def test_too_many_poems_and_a_checkpoint_of_no_known_model_are_refused(tiny_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["inspect", "--checkpoint", str(tiny_run.run_dir), "--num", "5000", "--out", str(tmp_path / "r")])
    assert exit_.value.code == 2 and "must be between 1 and 1000" in capsys.readouterr().err
    odd = tmp_path / "odd"
    odd.mkdir()
    for f in ("model.safetensors", "vocab.json", "meta.json"):
        (odd / f).write_bytes((tiny_run.run_dir / "best" / f).read_bytes())
    config = json.loads((tiny_run.run_dir / "best" / "config.json").read_text())
    (odd / "config.json").write_text(json.dumps({**config, "architecture": "transformer"}))
    assert main(["inspect", "--checkpoint", str(odd), "--text", POEM, "--out", str(tmp_path / "r")]) == 2
    assert "unknown architecture 'transformer'" in capsys.readouterr().err and not (tmp_path / "r").exists()
