"""The bad-input table of docs/reliability.md, row by row: each input gives exit code 2, one line on
stderr that names the problem, no traceback, and leaves no run directory behind.

`python -m tests.test_bad_inputs` prints the table's rows from a real run of every case.
"""
import json
import pickle
import shutil
import sys
from pathlib import Path

import pytest

from rnnlab.cli import main
from tests.conftest import POEMS, REPO

TINY = ["--embed-size", "8", "--hidden-size", "12", "--max-steps", "2", "--time-budget", "0", "--no-progress"]


class Unpickled:
    """Unpickling this creates a file: proof that a loader ran the pickle's code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def make_inputs(d, checkpoint):
    """Write every bad file into folder `d`; `checkpoint` is a good checkpoint directory to spoil."""
    (d / "empty.txt").write_text("")
    (d / "binary.bin").write_bytes(bytes(range(256)) * 64)
    (d / "gbk.txt").write_bytes("床前明月光，疑是地上霜。\n\n举头望明月。".encode("gbk"))
    (d / "broken.json").write_text('[{"paragraphs": ["床前明月光"]}', encoding="utf-8")
    (d / "schema.json").write_text('{"verses": ["床前明月光，疑是地上霜。"]}', encoding="utf-8")
    (d / "one-line.txt").write_bytes(b"a" * 100_000_000)                            # 100 MB, one line
    (d / "no-json").mkdir()
    (d / "short.txt").write_text("月。\n\n花。\n", encoding="utf-8")
    for name in ("missing-meta", "wrong-shape", "other-vocab", "truncated", "tampered", "version", "pickled"):
        shutil.copytree(checkpoint, d / name)
    (d / "missing-meta" / "meta.json").unlink()
    edit_json(d / "wrong-shape" / "config.json", lambda c: c["model"].update(hidden_size=c["model"]["hidden_size"] + 1))
    edit_json(d / "other-vocab" / "vocab.json", lambda v: v["itos"].append("新"))
    weights = (d / "truncated" / "model.safetensors").read_bytes()
    (d / "truncated" / "model.safetensors").write_bytes(weights[:len(weights) // 2])
    tampered = bytearray(weights)
    tampered[-3] ^= 0x40
    (d / "tampered" / "model.safetensors").write_bytes(bytes(tampered))
    edit_json(d / "version" / "config.json", lambda c: c.update(format_version=99))
    (d / "pickled" / "model.safetensors").write_bytes(pickle.dumps(Unpickled(d / "UNPICKLED")))
    for name in ("state-truncated", "state-pickled"):
        shutil.copytree(checkpoint.parent, d / name)
    state = (d / "state-truncated" / "resume.safetensors").read_bytes()
    (d / "state-truncated" / "resume.safetensors").write_bytes(state[:len(state) // 3])
    (d / "state-pickled" / "resume.safetensors").write_bytes(pickle.dumps(Unpickled(d / "UNPICKLED")))


def edit_json(path, change):
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def train(corpus, *argv):
    return lambda d, ckpt: ["train", "--corpus", str(corpus(d)) if callable(corpus) else corpus, *TINY, *argv,
                            "--out", str(d / "RUN")]


def load(name):
    return lambda d, ckpt: ["generate", "--checkpoint", str(d / name)]


def gen(*argv):
    return lambda d, ckpt: ["generate", "--checkpoint", str(ckpt), *argv]


# (what, argv builder, words the one line on stderr must contain)
CASES = [
    ("data: missing file", train(lambda d: d / "nope.txt"), "no such file or corpus"),
    ("data: unknown corpus name", train("songci"), "no such file or corpus (named corpora"),
    ("data: empty file", train(lambda d: d / "empty.txt"), "no sequences left after cleaning"),
    ("data: binary file", train(lambda d: d / "binary.bin"), "not UTF-8 text"),
    ("data: non-UTF-8 (GBK) text", train(lambda d: d / "gbk.txt"), "not UTF-8 text (bad byte at offset 0)"),
    ("data: malformed JSON", train(lambda d: d / "broken.json"), "malformed JSON at line 1"),
    ("data: JSON of the wrong schema", train(lambda d: d / "schema.json"), "expected a JSON list of poems"),
    ("data: a 100-million-character single line", train(lambda d: d / "one-line.txt"), "line 1 has 100,000,000 characters"),
    ("data: a directory of 0 files", train(lambda d: d / "no-json"), "directory holds no .json files"),
    ("data: too few poems after cleaning", train(lambda d: d / "short.txt"), "no sequences left after cleaning"),
    ("argument: negative", train(POEMS, "--epochs", "-1"), "--epochs: must be a positive integer, got -1"),
    ("argument: zero", train(POEMS, "--batch-size", "0"), "--batch-size: must be a positive integer, got 0"),
    ("argument: out of range", train(POEMS, "--dropout", "1.5"), "--dropout: must be in [0, 1), got 1.5"),
    ("argument: not a number", train(POEMS, "--lr", "fast"), "--lr: invalid positive_float value: 'fast'"),
    ("argument: unknown choice", train(POEMS, "--optimizer", "adamw"), "--optimizer: invalid choice: 'adamw'"),
    ("argument: validation share of 1", train(POEMS, "--valid-fraction", "1"), "must be between 0 and 1, got 1"),
    ("conflict: --resume with settings", lambda d, ckpt: ["train", "--resume", str(ckpt.parent), "--lr", "0.1"],
     "--resume continues a run with its own settings: drop --lr"),
    ("conflict: AWD flag without an AWD preset", train(POEMS, "--dropouth", "0.3"), "--dropouth is an AWD-LSTM option"),
    ("conflict: --finetune without --init-from", train(POEMS, "--preset", "awd-small", "--finetune"),
     "--finetune continues a trained model"),
    ("conflict: numpy engine with an optimizer it lacks", train(POEMS, "--preset", "seed-large", "--engine", "numpy",
                                                                "--optimizer", "rprop"), "the numpy engine has no rprop"),
    ("conflict: numpy engine with the default preset", train(POEMS, "--engine", "numpy"),
     "--engine numpy: the cpu-fast preset's adaptive softmax and validation subset need the torch engine"),
    ("conflict: length buckets for AWD-LSTM", train(POEMS, "--preset", "awd-small", "--bucket"),
     "--bucket is not used by this run: it needs poems as batches"),
    ("conflict: plain-LSTM option with an AWD preset", train(POEMS, "--preset", "awd-small", "--activation", "relu"),
     "--activation is a plain-LSTM option, not used by AWD-LSTM"),
    ("conflict: numpy engine with a torch-engine option", train(POEMS, "--engine", "numpy", "--cell", "manual"),
     "--cell is not used by this run: it needs the torch engine"),
    ("conflict: --clip-per-tensor without --clip-norm", train(POEMS, "--clip-per-tensor"),
     "--clip-per-tensor is not used by this run: it needs --clip-norm"),
    ("conflict: --classes without --softmax class", train(POEMS, "--preset", "awd-small", "--classes", "10"),
     "--classes is not used by this run: it needs --softmax class"),
    ("conflict: --init-from with a model size", lambda d, ckpt: train(POEMS, "--init-from", str(ckpt))(d, ckpt),
     "--embed-size: the model comes from --init-from's checkpoint"),
    ("conflict: --init-from of an LSTM with an AWD preset",
     lambda d, ckpt: ["train", "--corpus", POEMS, "--preset", "awd-small", "--init-from", str(ckpt), "--out", str(d / "RUN")],
     "--init-from gives a plain LSTM: choose cpu-fast or a seed-* --preset"),
    ("conflict: torch.optim lacks the optimizer", train(POEMS, "--optimizer", "ntasgd", "--optim-impl", "torch"),
     "torch.optim has no ntasgd"),
    ("conflict: existing run directory", lambda d, ckpt: ["train", "--corpus", POEMS, *TINY, "--out", str(ckpt)],
     "already exists; choose another --out"),
    ("checkpoint: not there", load("nothing-here"), "no such checkpoint directory"),
    ("checkpoint: missing file", load("missing-meta"), "incomplete: missing meta.json"),
    ("checkpoint: wrong shapes", load("wrong-shape"), "weights do not match config.json"),
    ("checkpoint: vocabulary of another model", load("other-vocab"), "(a vocabulary from another model?)"),
    ("checkpoint: truncated safetensors", load("truncated"), "model.safetensors: unreadable"),
    ("checkpoint: tampered safetensors", load("tampered"), "does not match the SHA-256 in meta.json"),
    ("checkpoint: other format version", load("version"), "checkpoint format version 99, this rnnlab reads 1"),
    ("checkpoint: a pickle", load("pickled"), "a pickle (torch.save) file; rnnlab reads safetensors only"),
    ("checkpoint: truncated training state", lambda d, ckpt: ["train", "--resume", str(d / "state-truncated")],
     "resume.safetensors: unreadable"),
    ("checkpoint: a pickle as the training state", lambda d, ckpt: ["train", "--resume", str(d / "state-pickled")],
     "resume.safetensors: a pickle (torch.save) file"),
    ("checkpoint: --resume of a folder with no state", lambda d, ckpt: ["train", "--resume", str(d / "no-json")],
     "config.json: missing or malformed (not a run directory?)"),
    ("generation: start outside the vocabulary", gen("--start", "Q"), "characters outside the model's vocabulary: Q"),
    ("generation: temperature 0", gen("--temperature", "0"), "temperature must be > 0 (got 0.0)"),
    ("generation: top-p out of range", gen("--top-p", "1.5"), "top-p must be in (0, 1] (got 1.5)"),
    ("generation: acrostic longer than the form", gen("--form", "wujue", "--acrostic", "春花秋月夜"),
     "an acrostic of 5 characters is longer than the 4 lines of 五言绝句"),
    ("generation: rhyme without a regulated form", gen("--rhyme"), "rhyme and tone constraints need a regulated form"),
    ("generation: beam narrower than the poems asked for", gen("--strategy", "beam", "--beam-size", "2", "--num", "3"),
     "beam size 2 < num 3"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_run):
    d = tmp_path_factory.mktemp("bad")
    make_inputs(d, tiny_run.run_dir / "best")
    return d


def run_case(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:                                     # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    return code, err


@pytest.mark.parametrize("what, argv, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input(what, argv, words, inputs, tiny_run, capsys):
    code, err = run_case(argv(inputs, tiny_run.run_dir / "best"), capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert words in err, err
    assert not (inputs / "RUN").exists()                        # no partial run directory
    assert not (inputs / "UNPICKLED").exists()                  # and no pickle ran


def test_the_documented_table_lists_every_case():
    table = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert len(CASES) >= 25
    for what, _, words in CASES:
        assert f"| {what} |" in table and words.replace("|", "\\|") in table, what


if __name__ == "__main__":      # print the table rows from a real run of every case
    import contextlib
    import io
    import tempfile

    from rnnlab.data.dataset import prepare
    from rnnlab.training.config import build_config
    from rnnlab.training.loop import train as train_run

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = build_config(corpus=POEMS, embed_size=8, hidden_size=12, max_steps=2, time_budget=0, device="cpu")
        with contextlib.redirect_stdout(io.StringIO()):
            run = train_run(cfg, prepare(cfg.data), tmp / "good", progress=False)
        make_inputs(tmp, run.run_dir / "best")
        for what, argv, _ in CASES:
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                try:
                    code = main(argv(tmp, run.run_dir / "best"))
                except SystemExit as e:
                    code = e.code
            assert not (tmp / "RUN").exists() and not (tmp / "UNPICKLED").exists(), what
            line = err.getvalue().strip().replace(str(tmp), "…").replace("|", "\\|")
            sys.stdout.write(f"| {what} | {code} | `{line}` |\n")
