import json
import pickle
import shutil

import pytest
import torch

import rnnlab
from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.errors import RnnlabError


@pytest.fixture
def ckpt_dir(tiny_run, tmp_path):
    target = tmp_path / "ckpt"
    shutil.copytree(tiny_run.run_dir / "best", target)
    return target


def test_round_trip_gives_identical_logits(tiny_run, tmp_path):
    original = tiny_run.checkpoint
    save_checkpoint(tmp_path / "again", original.model, original.vocab, original.data_config, {"step": 1})
    again = load_checkpoint(tmp_path / "again")
    tokens = torch.randint(0, len(original.vocab), (3, 10))
    assert torch.equal(original.model(tokens)[0], again.model(tokens)[0])
    assert again.vocab.itos == original.vocab.itos and again.data_config == original.data_config


def test_a_checkpoint_loads_into_the_other_cell(ckpt_dir):
    native = load_checkpoint(ckpt_dir, cell="native", dtype=torch.float64)
    auto = load_checkpoint(ckpt_dir, cell="autograd", dtype=torch.float64)
    tokens = torch.randint(0, len(native.vocab), (2, 12))
    assert (native.model(tokens)[0] - auto.model(tokens)[0]).abs().max() <= 1e-10


def test_run_directory_means_its_best_checkpoint(tiny_run):
    assert rnnlab.load(tiny_run.run_dir).path == tiny_run.run_dir / "best"


@pytest.mark.parametrize("missing", ["model.safetensors", "config.json", "vocab.json", "meta.json"])
def test_incomplete_checkpoint(ckpt_dir, missing):
    (ckpt_dir / missing).unlink()
    with pytest.raises(RnnlabError, match=f"incomplete: missing {missing}"):
        load_checkpoint(ckpt_dir)


def test_vocabulary_from_another_model(ckpt_dir):
    vocab = json.loads((ckpt_dir / "vocab.json").read_text())
    vocab["itos"].append("新")
    (ckpt_dir / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(RnnlabError, match="another model"):
        load_checkpoint(ckpt_dir)


def test_truncated_weights(ckpt_dir):
    data = (ckpt_dir / "model.safetensors").read_bytes()
    (ckpt_dir / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(RnnlabError, match="model.safetensors: unreadable"):
        load_checkpoint(ckpt_dir)


def test_weights_that_do_not_match_the_config(ckpt_dir):
    config = json.loads((ckpt_dir / "config.json").read_text())
    config["model"]["hidden_size"] += 1
    (ckpt_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(RnnlabError, match="do not match config.json"):
        load_checkpoint(ckpt_dir)


class SideEffect:
    """Unpickling this creates a file: the proof that a loader ran the pickle's code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_pickle_is_refused_and_its_code_never_runs(ckpt_dir, tmp_path, writer):
    import torch

    marker = tmp_path / "unpickled"
    if writer == "pickle":
        (ckpt_dir / "model.safetensors").write_bytes(pickle.dumps(SideEffect(marker)))
    else:
        torch.save({"weights": SideEffect(marker)}, ckpt_dir / "model.safetensors")
    with pytest.raises(RnnlabError, match="a pickle .* never unpickles"):
        load_checkpoint(ckpt_dir)
    assert not marker.exists()


def test_tampered_weights_do_not_match_their_hash(ckpt_dir):
    data = bytearray((ckpt_dir / "model.safetensors").read_bytes())
    data[-3] ^= 0x40                                   # one bit of one weight
    (ckpt_dir / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(RnnlabError, match="does not match the SHA-256 in meta.json"):
        load_checkpoint(ckpt_dir)


def test_a_file_that_is_not_safetensors(ckpt_dir):
    (ckpt_dir / "model.safetensors").write_bytes(b"hello, I am not a tensor file")
    with pytest.raises(RnnlabError, match="not a safetensors file"):
        load_checkpoint(ckpt_dir)


def test_other_format_version(ckpt_dir):
    config = json.loads((ckpt_dir / "config.json").read_text())
    config["format_version"] = 99
    (ckpt_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(RnnlabError, match="format version 99"):
        load_checkpoint(ckpt_dir)


def test_novelty_and_unseen_compare_with_the_training_poems_as_the_model_read_them(tiny_run):
    """The default reads every poem whole (--train-seq-len); the lines past validation's --seq-len cut are
    lines it was trained on, which eval-gen's novelty and eval --unseen must count as seen."""
    from rnnlab.data.dataset import prepare
    from rnnlab.generate.evaluate import training_lines
    from rnnlab.generate.forms import split_lines

    ckpt = tiny_run.checkpoint

    def lines(split):
        return {text for i in range(len(split)) for text, _ in split_lines(ckpt.vocab.decode(split[i].tolist()))}

    as_read, cut = prepare(ckpt.data_config, vocab=ckpt.vocab).train, ckpt.data().train
    assert set(training_lines(ckpt)) == lines(as_read)
    assert lines(as_read) - lines(cut)                   # the fixture has poems longer than the cut


def test_python_api_generates(tiny_run):
    poems = rnnlab.load(tiny_run.run_dir).generate(start="月", num=2, temperature=0.8, max_len=12, seed=3)
    assert len(poems) == 2 and all(p.startswith("月") and len(p) <= 12 for p in poems)


def test_a_safetensors_file_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """The first byte of a safetensors file is the low byte of its header length: 0x80 happens (it did
    for a training state in CI), and must not be mistaken for pickle's protocol marker."""
    from safetensors.torch import save

    from rnnlab.checkpoint import refuse_pickle

    path = tmp_path / "x.safetensors"
    for pad in range(600):
        data = save({"w": torch.zeros(2)}, metadata={"pad": "x" * pad})
        if data[0] == 0x80:
            break
    assert data[0] == 0x80
    path.write_bytes(data)
    refuse_pickle(path)                                      # accepted
    path.write_bytes(b"\x80\x04" + data[2:40])               # a pickle-looking head without a safetensors header
    with pytest.raises(RnnlabError, match="a pickle"):
        refuse_pickle(path)
