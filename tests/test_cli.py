"""Every command through the CLI, and every bad input: one line on stderr, exit code 2, no traceback,
no run directory left behind."""
import json
import os
import subprocess
import sys

import pytest

from rnnlab.cli import main
from tests.conftest import POEMS

TINY = ["--embed-size", "8", "--hidden-size", "12", "--batch-size", "32", "--time-budget", "0", "--no-progress"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def fails(capsys, *argv, match):
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert match in err, err
    return err


@pytest.fixture
def files(tmp_path):
    (tmp_path / "bad.json").write_text('[{"paragraphs": ["a"]}', encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("床前明月光，疑是地上霜。\n\n举头望明月。".encode("gbk"))
    (tmp_path / "short.txt").write_text("月。\n\n花。\n", encoding="utf-8")
    (tmp_path / "empty_ckpt").mkdir()
    return tmp_path


def test_data_prepare_prints_the_counts(capsys):
    code, out, _ = run(capsys, "data", "prepare", "--corpus", POEMS, "--min-len", "30")
    assert code == 0
    for label in ("read", "dropped", "too_short", "kept", "characters", "vocabulary", "train/valid"):
        assert label in out


def test_train_then_eval_and_generate(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--corpus", POEMS, "--max-steps", "3", "--out", out_dir, *TINY)
    assert code == 0, err
    assert "best validation perplexity" in out and "月: 月" in out
    code, out, _ = run(capsys, "eval", "--checkpoint", out_dir, "--corpus", POEMS, "--split", "valid", "--json")
    report = json.loads(out)
    best = json.loads((out_dir / "best" / "meta.json").read_text())["valid_ppl"]
    assert code == 0 and abs(report["perplexity"] - best) < 1e-3 * best
    code, out, _ = run(capsys, "generate", "--checkpoint", out_dir, "--start", "春风", "--num", "2",
                       "--seed", "1", "--max-len", "10", "--json")
    poems = json.loads(out)["poems"]
    assert code == 0 and len(poems) == 2 and all(p.startswith("春风") and len(p) <= 10 for p in poems)
    code, again, _ = run(capsys, "generate", "--checkpoint", out_dir, "--start", "春风", "--num", "2",
                         "--seed", "1", "--max-len", "10", "--json")
    assert again == out


def test_missing_corpus_file(capsys, tmp_path):
    fails(capsys, "train", "--corpus", tmp_path / "nope.txt", "--out", tmp_path / "run", *TINY, match="no such file")
    assert not (tmp_path / "run").exists()


def test_malformed_json(capsys, files):
    fails(capsys, "data", "prepare", "--corpus", files / "bad.json", match="malformed JSON")


def test_non_utf8(capsys, files):
    fails(capsys, "data", "prepare", "--corpus", files / "gbk.txt", match="not UTF-8")


def test_empty_after_cleaning_leaves_no_run_directory(capsys, files):
    fails(capsys, "train", "--corpus", files / "short.txt", "--out", files / "run", *TINY, match="no sequences left")
    assert not (files / "run").exists()


def test_incomplete_init_checkpoint_leaves_no_run_directory(capsys, files):
    fails(capsys, "train", "--corpus", POEMS, "--init-from", files / "empty_ckpt", "--out", files / "run", *TINY,
          match="incomplete")
    assert not (files / "run").exists()


def test_existing_run_directory_or_file_is_not_overwritten(capsys, tiny_run):
    fails(capsys, "train", "--corpus", POEMS, "--out", tiny_run.run_dir, *TINY, match="already exists")
    fails(capsys, "train", "--corpus", POEMS, "--out", tiny_run.run_dir / "config.json", *TINY, match="already exists")


def test_start_outside_vocabulary(capsys, tiny_run):
    fails(capsys, "generate", "--checkpoint", tiny_run.run_dir, "--start", "龘", match="outside the model's vocabulary")


@pytest.mark.parametrize("t", ["0", "-0.5"])
def test_temperature_not_positive(capsys, tiny_run, t):
    fails(capsys, "generate", "--checkpoint", tiny_run.run_dir, "--temperature", t, match="temperature must be > 0")


def test_incomplete_checkpoint(capsys, files):
    fails(capsys, "generate", "--checkpoint", files / "empty_ckpt", match="incomplete: missing model.safetensors")
    fails(capsys, "eval", "--checkpoint", files / "nowhere", "--corpus", POEMS, match="no such checkpoint")


def test_checkpoint_from_another_vocabulary(capsys, tiny_run, tmp_path):
    import shutil
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_run.run_dir / "best", ckpt)
    (ckpt / "vocab.json").write_text(json.dumps({"itos": ["<pad>", "<unk>", "<bos>", "<eos>", "月"]}))
    fails(capsys, "eval", "--checkpoint", ckpt, "--corpus", POEMS, match="another model")


@pytest.mark.parametrize("argv, match", [
    (["train", "--batch-size", "0"], "must be a positive integer"),
    (["train", "--cell", "gru"], "invalid choice"),
    (["train", "--dropout", "1.5"], "must be in [0, 1)"),
    (["train", "--time-budget", "-1"], "must be >= 0"),
    (["inspect"], "--out"),
    (["data", "fetch", "songci"], "invalid choice"),
])
def test_bad_arguments_are_one_line(capsys, argv, match):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1 and match in err


def test_console_entry_point_prints_no_traceback(files):
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-m", "rnnlab", "data", "prepare", "--corpus", str(files / "bad.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("rnnlab: error:") and "Traceback" not in done.stderr


def test_gradcheck_command_reports_every_gradient_within_the_limit(capsys):
    code, out, _ = run(capsys, "gradcheck", "--json")
    report = json.loads(out)
    assert code == 0 and report["worst"] <= 1e-7
    names = {(r["component"], r["gradient"]) for r in report["rows"]}
    assert {("lstm", "weight_hh_l1"), ("lstm", "c0"), ("rnn", "U_l0"), ("language model", "embedding.weight")} <= names


def test_eval_gives_the_same_perplexity_in_both_engines(capsys, tiny_full_run):
    ppl = {}
    for engine in ("torch", "numpy"):
        code, out, _ = run(capsys, "eval", "--checkpoint", tiny_full_run.run_dir, "--corpus", POEMS, "--split", "valid",
                           "--engine", engine, "--float64", "--json")
        assert code == 0
        ppl[engine] = json.loads(out)["perplexity"]
    assert abs(ppl["numpy"] - ppl["torch"]) <= 1e-6 * ppl["torch"]


def test_eval_of_the_default_model_equals_a_direct_computation(capsys, tiny_run):
    """`rnnlab eval` of the default preset's checkpoint (adaptive softmax, form tokens) = exp of the summed
    -log p of every target over the characters and ends (the form token's cost counts, the token does not),
    each poem fed alone through forward(), which gives the full distribution."""
    import math

    import torch

    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.data.dataset import prepare

    code, out, _ = run(capsys, "eval", "--checkpoint", tiny_run.run_dir, "--corpus", POEMS, "--split", "valid",
                       "--float64", "--json")
    assert code == 0
    ckpt = load_checkpoint(tiny_run.run_dir, dtype=torch.float64)
    assert ckpt.model.config.softmax == "adaptive"
    valid = prepare(ckpt.data_config, vocab=ckpt.vocab).valid
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(len(valid)):
            seq = torch.as_tensor(valid[i], dtype=torch.long)
            logp, _ = ckpt.model.eval()(seq[None, :-1])
            total -= logp[0].gather(1, seq[1:, None]).sum().item()
            count += len(seq) - 2                              # less <bos> and the form token
    assert ckpt.vocab.form_ids
    assert json.loads(out)["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-10)


def test_eval_unseen_leaves_out_exactly_the_poems_that_share_a_line_with_the_training_split(capsys, tiny_run):
    """--unseen on the training corpus itself: the training split, and the validation poems that repeat a
    line of it (counted here on the text, <unk> written out, as the novelty measure cuts lines), are left out."""
    from rnnlab.data.dataset import prepare
    from rnnlab.generate.forms import split_lines

    ckpt = tiny_run.checkpoint
    data = prepare(ckpt.data_config, vocab=ckpt.vocab)

    def lines(seq):
        text = "".join(ckpt.vocab.itos[i] for i in seq.tolist() if i not in (ckpt.vocab.bos, ckpt.vocab.eos))
        return {line for line, _ in split_lines(text)}

    seen = set().union(*(lines(data.train[i]) for i in range(len(data.train))))
    sharing = sum(bool(lines(data.valid[i]) & seen) for i in range(len(data.valid)))
    code, out, _ = run(capsys, "eval", "--checkpoint", tiny_run.run_dir, "--corpus", POEMS, "--unseen", "--json")
    unseen = json.loads(out)
    assert code == 0 and 0 < sharing < len(data.valid)
    assert unseen["seen_in_training_left_out"] == len(data.train) + sharing
    assert unseen["sequences"] == len(data.valid) - sharing


def test_numpy_engine_lowers_perplexity_and_its_checkpoint_writes_poems(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--preset", "seed-large", "--engine", "numpy", "--corpus", POEMS, "--epochs", "3",
                         "--eval-every", "1000", "--lr", "0.01", "--out", out_dir, *TINY)
    assert code == 0, err
    ppls = [float(line.split("valid ppl")[1].split()[0]) for line in out.splitlines() if "valid ppl" in line]
    assert len(ppls) == 3 and ppls[-1] < ppls[0]
    code, out, _ = run(capsys, "generate", "--checkpoint", out_dir, "--start", "月", "--num", "2", "--seed", "1")
    assert code == 0 and all(line.startswith("月") for line in out.splitlines()) and len(out.splitlines()) == 2


@pytest.mark.parametrize("name", ["adam", "adamax", "sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adadelta",
                                  "asgd", "rprop", "adaptivegains", "ntasgd"])
def test_train_accepts_every_optimizer(capsys, tmp_path, name):
    code, out, err = run(capsys, "train", "--corpus", POEMS, "--optimizer", name, "--max-steps", "2",
                         "--out", tmp_path / "run", *TINY)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["optim"]["optimizer"] == name


def test_ours_and_torchs_adam_train_the_same_model(capsys, tmp_path):
    ppl = {}
    for impl in ("ours", "torch"):
        code, out, err = run(capsys, "train", "--corpus", POEMS, "--optim-impl", impl, "--max-steps", "4",
                             "--out", tmp_path / impl, *TINY)
        assert code == 0, err
        ppl[impl] = json.loads((tmp_path / impl / "best" / "meta.json").read_text())["valid_ppl"]
    assert ppl["ours"] == pytest.approx(ppl["torch"], rel=1e-6)


@pytest.mark.parametrize("argv, match", [
    (["--optimizer", "ntasgd", "--optim-impl", "torch"], "torch.optim has no ntasgd"),
    (["--preset", "seed-large", "--optimizer", "adaptivegains", "--engine", "numpy"], "the numpy engine has no adaptivegains"),
    (["--optimizer", "rprop", "--weight-decay", "0.1"], "rprop has no weight decay"),
])
def test_bad_optimizer_requests(capsys, tmp_path, argv, match):
    fails(capsys, "train", "--corpus", POEMS, *argv, "--out", tmp_path / "run", *TINY, match=match)
    assert not (tmp_path / "run").exists()


def test_manual_cell_trains_and_its_checkpoint_generates(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--corpus", POEMS, "--cell", "manual", "--max-steps", "2",
                         "--out", tmp_path / "run", *TINY)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["model"]["cell"] == "manual"
    code, out, err = run(capsys, "generate", "--checkpoint", tmp_path / "run", "--start", "月", "--num", "2", "--seed", "1")
    assert code == 0 and len(out.strip().splitlines()) == 2 and out.startswith("月"), (out, err)


def test_generate_forms_and_eval_gen(capsys, tiny_run):
    code, out, err = run(capsys, "generate", "--checkpoint", tiny_run.run_dir, "--form", "wujue", "--acrostic", "春月",
                         "--rhyme", "--tones", "soft", "--num", "3", "--seed", "2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["form"] == "wujue" and result["rhyme"] == "hard" and result["tones"] == "soft"
    assert len(result["poems"]) == 3 and all(p[0] == "春" and p[6] == "月" and len(p) == 24 for p in result["poems"])
    code, out, err = run(capsys, "eval-gen", "--checkpoint", tiny_run.run_dir, "--num", "20", "--form", "wujue",
                         "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["poems"] == 20 and metrics["form_valid"] == 1.0
    # 20 poems of 4 lines: the novel share counts whole lines; log p of a character is below 0 unless certain
    assert metrics["novel_lines"] * 80 == pytest.approx(round(metrics["novel_lines"] * 80)) and metrics["logprob_per_char"] < 0
    assert metrics["poets"] == {"rhyme": 0.9392, "tones": 0.6752}              # the poets' own 五绝 (poets.py)
    code, out, err = run(capsys, "eval-gen", "--checkpoint", tiny_run.run_dir, "--num", "5", "--strategy", "beam",
                         "--beam-size", "5")
    assert code == 0 and "| form valid |" in out and "| novel 4-grams |" in out and "poets" not in out   # free verse
    code, out, err = run(capsys, "eval-gen", "--checkpoint", tiny_run.run_dir, "--num", "5", "--form", "qijue")
    assert code == 0 and "(poets 97.8%) |" in out and "(poets 87.0%) |" in out


@pytest.mark.parametrize("argv, match", [
    (["--form", "wujue", "--acrostic", "春月春月春"], "longer than the 4 lines"),
    (["--top-p", "0"], "top-p must be in (0, 1]"),
    (["--top-k", "0"], "top-k must be at least 1"),
    (["--rhyme"], "need a regulated form"),
    (["--strategy", "beam", "--beam-size", "2", "--num", "3"], "beam size 2 < num 3"),
])
def test_bad_generation_requests(capsys, tiny_run, argv, match):
    fails(capsys, "generate", "--checkpoint", tiny_run.run_dir, *argv, match=match)


def test_a_closed_pipe_ends_quietly(tiny_run):
    """More output than a pipe holds, read by `head`, which leaves after one line."""
    cmd = (f"{sys.executable} -m rnnlab.cli generate --checkpoint {tiny_run.run_dir} --num 3000 --max-len 60 "
           f"--temperature 1.5 --seed 1 | head -n 1")
    result = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


AWD_TINY = ["--preset", "awd-small", "--corpus", POEMS, "--embed-size", "8", "--hidden-size", "12", "--num-layers", "2",
            "--batch-size", "8", "--bptt", "12", "--time-budget", "0", "--no-progress"]


def test_awd_preset_with_class_softmax_trains_reloads_and_writes_forms(capsys, tmp_path):
    import torch
    from safetensors.torch import load_file

    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.nn.awd import AWDLanguageModel

    code, out, err = run(capsys, "train", *AWD_TINY, "--softmax", "class", "--classes", "6", "--residual",
                         "--max-steps", "4", "--eval-every", "2", "--out", tmp_path / "run")
    assert code == 0, err
    assert "best validation perplexity" in out and out.strip().splitlines()[-1].startswith("月: 月")
    ckpt = load_checkpoint(tmp_path / "run")
    config = ckpt.model.config
    assert isinstance(ckpt.model, AWDLanguageModel) and config.softmax == "class" and config.n_classes == 6
    assert config.residual and config.tied and ckpt.model.decoder.token_head.weight is ckpt.model.embedding.weight
    saved = load_file(tmp_path / "run" / "best" / "model.safetensors")
    assert saved["decoder.token_class"].dtype == torch.int64
    assert all(torch.equal(v, saved[k]) for k, v in ckpt.model.state_dict().items())
    code, out, err = run(capsys, "eval", "--checkpoint", tmp_path / "run", "--corpus", POEMS, "--split", "valid", "--json")
    assert code == 0 and json.loads(out)["perplexity"] < config.vocab_size, err
    fails(capsys, "eval", "--checkpoint", tmp_path / "run", "--corpus", POEMS, "--engine", "numpy",
          match="the numpy engine evaluates the LSTM language model with a full softmax only")
    code, out, err = run(capsys, "generate", "--checkpoint", tmp_path / "run", "--form", "wujue", "--acrostic", "春山秋月",
                         "--num", "3", "--seed", "1")
    poems = out.split()
    assert code == 0 and len(poems) == 3 and all(p[0::6][:4] == "春山秋月" and len(p) == 24 for p in poems), (out, err)
    code, out, err = run(capsys, "generate", "--checkpoint", tmp_path / "run", "--form", "wulv", "--strategy", "beam")
    assert code == 0 and len(out.strip()) == 48, (out, err)


def test_awd_fine_tuning_continues_a_run_with_averaging_from_the_start(capsys, tmp_path):
    code, _, err = run(capsys, "train", *AWD_TINY, "--max-steps", "3", "--out", tmp_path / "run")
    assert code == 0, err
    code, out, err = run(capsys, "train", "--preset", "awd-small", "--corpus", POEMS, "--init-from", tmp_path / "run",
                         "--finetune", "--max-steps", "3", "--time-budget", "0", "--no-progress", "--out", tmp_path / "ft")
    assert code == 0, err
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["train"]["optim"]["finetune"] and config["train"]["model"]["hidden_size"] == 12 and config["train"]["model"]["num_layers"] == 2
    assert (tmp_path / "ft" / "vocab.json").read_text() == (tmp_path / "run" / "vocab.json").read_text()
    fails(capsys, "train", "--preset", "awd-small", "--corpus", POEMS, "--init-from", tmp_path / "run", "--finetune",
          "--optimizer", "adam", "--out", tmp_path / "ft2", match="it needs --optimizer ntasgd")
    assert not (tmp_path / "ft2").exists()


@pytest.mark.parametrize("argv, match", [
    (["--corpus", POEMS, "--dropouth", "0.2"], "--dropouth is an AWD-LSTM option"),
    (["--corpus", POEMS, "--softmax", "class"], "--softmax class is for AWD-LSTM"),
    (["--preset", "awd-small", "--corpus", POEMS, "--finetune"], "give it with --init-from"),
    (["--preset", "awd-small", "--corpus", POEMS, "--engine", "numpy"], "AWD-LSTM trains with the torch engine only"),
])
def test_bad_awd_requests(capsys, tmp_path, argv, match):
    fails(capsys, "train", *argv, "--out", tmp_path / "run", "--time-budget", "0", match=match)
    assert not (tmp_path / "run").exists()


def test_time_budget_zero_means_no_limit(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--corpus", POEMS, "--max-steps", "1", "--out", tmp_path / "run", *TINY)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["time_budget"] == 0


def test_adaptive_softmax_trains_evaluates_and_writes_every_form(capsys, tmp_path):
    """The plain LSTM with --softmax adaptive: exact perplexity from `eval`, every strategy and constraint."""
    import math

    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.data.dataset import prepare
    from rnnlab.training.perplexity import poem_perplexity

    code, out, err = run(capsys, "train", "--corpus", POEMS, "--softmax", "adaptive", "--embed-size", "16",
                         "--hidden-size", "32", "--max-steps", "4", "--eval-every", "2", "--time-budget", "0",
                         "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.model.config.softmax == "adaptive"
    valid = prepare(ckpt.data_config, vocab=ckpt.vocab).valid
    code, out, err = run(capsys, "eval", "--checkpoint", tmp_path / "run", "--corpus", POEMS, "--split", "valid", "--json")
    assert code == 0, err
    assert math.isclose(json.loads(out)["perplexity"], poem_perplexity(ckpt.model, valid, ckpt.vocab.pad), rel_tol=1e-6)
    assert math.isclose(json.loads(out)["perplexity"], ckpt.meta["valid_ppl"], rel_tol=1e-5)
    for argv in (["--form", "qijue", "--rhyme", "--tones", "--num", "3"], ["--form", "wulv", "--strategy", "beam"],
                 ["--form", "wujue", "--acrostic", "春月", "--tones", "soft", "--strategy", "greedy"],
                 ["--start", "月", "--top-k", "20", "--top-p", "0.9", "--num", "2"]):
        code, out, err = run(capsys, "generate", "--checkpoint", tmp_path / "run", *argv, "--json")
        assert code == 0, err
        assert json.loads(out)["poems"]
    code, out, err = run(capsys, "eval-gen", "--checkpoint", tmp_path / "run", "--form", "qilv", "--rhyme", "--tones",
                         "--num", "10", "--json")
    assert code == 0 and json.loads(out)["form_valid"] == 1.0 and json.loads(out)["rhyme"] == 1.0, err
    fails(capsys, "eval", "--checkpoint", tmp_path / "run", "--corpus", POEMS, "--engine", "numpy",
          match="with a full softmax only")
