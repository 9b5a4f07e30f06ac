"""--form-token: each poem begins [<bos>, <form>, ...], the form judged on the whole poem; its cost is in the
loss and the perplexity stays per character; generate --form feeds the token, free mode lets the model
choose it, and no form token is ever written as text."""
import math

import numpy as np
import pytest
import torch

from rnnlab.data.dataset import DataConfig, prepare
from rnnlab.data.vocab import Vocab
from rnnlab.generate.forms import FORM_NAMES, form_of
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel
from rnnlab.training.perplexity import poem_perplexity
from tests.conftest import ENGLISH, POEMS
from tests.test_cli import TINY, run

QILV = "昔人已乘黄鹤去，此地空余黄鹤楼。黄鹤一去不复返，白云千载空悠悠。晴川历历汉阳树，芳草萋萋鹦鹉洲。" \
       "日暮乡关何处是，烟波江上使人愁。"


def test_the_vocabulary_appends_a_token_per_form_that_is_never_text():
    vocab = Vocab.build(["床前明月光"], min_count=1, forms=tuple(FORM_NAMES))
    assert set(vocab.form_ids) == set(FORM_NAMES)
    assert sorted(vocab.form_ids.values()) == list(range(len(vocab) - len(FORM_NAMES), len(vocab)))
    assert "<wujue>" not in vocab and "床" in vocab
    ids = vocab.poem("床前", "wujue")
    assert ids[:2] == [vocab.bos, vocab.form_ids["wujue"]] and ids[-1] == vocab.eos
    assert vocab.poem("床前", None)[1] == vocab.form_ids["free"]        # any poem not of a regulated form
    assert vocab.decode(ids) == "床前"
    plain = Vocab.build(["床前"], min_count=1)
    assert plain.poem("床前", "wujue") == [plain.bos, *plain.encode("床前"), plain.eos]   # without form tokens


def test_each_poem_carries_the_form_of_the_whole_poem_even_when_cut():
    plain = prepare(DataConfig(corpus=POEMS))
    tagged = prepare(DataConfig(corpus=POEMS, form_token=True))
    vocab = tagged.vocab
    assert vocab.itos[:len(plain.vocab)] == plain.vocab.itos                   # character ids unchanged
    forms = {i: f for f, i in vocab.form_ids.items()}
    kept = DataConfig().seq_len - 1                                             # characters a poem is cut to
    cut_qilv = 0
    for i in range(len(tagged.train)):
        seq, old = tagged.train[i].tolist(), plain.train[i].tolist()
        assert seq[0] == vocab.bos and seq[2:] == old[1:]                     # one token more, the same characters
        text = "".join("□" if t == vocab.unk else vocab.itos[t] for t in seq[2:-1])       # <unk> kept in place
        if len(text) < kept:                                                    # whole: its own form
            assert forms[seq[1]] == (form_of(text) or "free")
        cut_qilv += forms[seq[1]] == "qilv"                                     # 64 characters: always cut
        assert forms[seq[1]] != "qilv" or (len(text) == kept and form_of(text) is None)
    assert cut_qilv > 0
    assert tagged.train.n_targets == plain.train.n_targets + len(plain.train)


def test_the_form_tokens_cost_counts_and_the_perplexity_stays_per_character():
    data = prepare(DataConfig(corpus=POEMS, form_token=True))
    vocab = data.vocab
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), embed_size=8, hidden_size=6,
                                      form_tokens=len(vocab.form_ids))).double().eval()
    total, characters = 0.0, 0
    with torch.no_grad():
        for i in range(len(data.valid)):                                       # an explicit full softmax, poem by poem
            seq = torch.as_tensor(data.valid[i], dtype=torch.long)
            logits, _ = model(seq[None, :-1])
            logp = torch.log_softmax(logits, dim=-1)
            total -= logp[0].gather(1, seq[1:, None]).sum().item()              # every target, the form's too
            characters += len(seq) - 2                                          # every target but the form's
    assert poem_perplexity(model, data.valid, vocab.pad) == pytest.approx(math.exp(total / characters), rel=1e-10)


class Recorder(torch.nn.Module):
    """A language model's wrapper that keeps every input it is given."""

    def __init__(self, model):
        super().__init__()
        self.model, self.inputs = model, []

    def forward(self, tokens, state=None):
        self.inputs.append(tokens.clone())
        return self.model(tokens, state)


@pytest.fixture(scope="module")
def tagged_run(tmp_path_factory):
    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.cli import main

    out = tmp_path_factory.mktemp("form-token") / "run"
    assert main([str(a) for a in ["train", "--corpus", POEMS, *TINY, "--max-steps", "4", "--form-token",
                                  "--prosody-inputs", "position", "tones", "rhyme", "pattern", "--out", out]]) == 0
    return load_checkpoint(out)


def test_generate_feeds_the_asked_form_and_in_free_mode_the_model_chooses_one(tagged_run):
    from rnnlab.generate.sampling import generate

    vocab = tagged_run.vocab
    assert tagged_run.model.config.form_tokens == len(FORM_NAMES)
    recorder = Recorder(tagged_run.model)
    poems = generate(recorder, vocab, form="qilv", num=3, seed=0)
    assert recorder.inputs[0][0].tolist() == [vocab.bos, vocab.form_ids["qilv"]]
    assert all(form_of(p) == "qilv" for p in poems)
    recorder.inputs.clear()
    free = generate(recorder, vocab, num=20, seed=0, max_len=12)
    chosen = recorder.inputs[1][:, 0].tolist()                                  # the second call reads the choice
    assert set(chosen) <= set(vocab.form_ids.values()) and len(set(chosen)) > 1
    later = torch.cat([t.flatten() for t in recorder.inputs[2:]])
    assert not torch.isin(later, torch.tensor(list(vocab.form_ids.values()))).any()   # never written after
    assert all("<" not in p for p in free)


def test_every_downstream_command_takes_a_model_with_form_tokens(tagged_run, capsys, tmp_path):
    run_dir = tagged_run.path
    code, out, err = run(capsys, "generate", "--checkpoint", run_dir, "--form", "wujue", "--acrostic", "春花秋月",
                         "--rhyme", "hard", "--tones", "hard", "--prefix", "床前明月光", "--num", "2", "--seed", "0")
    assert code == 0, err
    assert all(form_of(p) == "wujue" and p[0] == "春" for p in out.split())
    code, out, err = run(capsys, "generate", "--checkpoint", run_dir, "--form", "wulv", "--strategy", "beam", "--num", "2")
    assert code == 0 and len(out.split()) == 2, err
    code, out, err = run(capsys, "eval", "--checkpoint", run_dir, "--corpus", POEMS, "--split", "valid", "--json")
    assert code == 0, err
    import json
    data = tagged_run.data()
    assert json.loads(out)["tokens"] == data.valid.n_targets - len(data.valid)    # characters and ends only
    code, out, err = run(capsys, "eval-gen", "--checkpoint", run_dir, "--form", "qijue", "--num", "4", "--json")
    assert code == 0, err
    assert math.isfinite(json.loads(out)["logprob_per_char"])
    poem = tagged_run.generate(form="wujue", rhyme="hard", tones="hard", seed=0)[0]
    from rnnlab.inspection.choices import choices
    assert len(choices(tagged_run.model, tagged_run.vocab, poem, form="wujue", rhyme="hard", tones="hard")) == len(poem) + 1
    code, out, err = run(capsys, "eval", "--checkpoint", run_dir, "--corpus", POEMS, "--engine", "numpy")
    assert code == 2 and "form tokens" in err


def test_it_is_refused_in_one_line_where_it_cannot_be_read(capsys, tmp_path):
    for argv, why in ((["--preset", "awd-small"], "plain LSTM"), (["--engine", "numpy", "--preset", "seed-small"], "plain LSTM")):
        code, out, err = run(capsys, "train", "--corpus", POEMS, *TINY, "--max-steps", "1", "--form-token", *argv,
                             "--out", tmp_path / "x")
        assert code == 2 and why in err and len(err.strip().splitlines()) == 1, err


def test_running_text_has_no_poems_and_so_no_form_tokens_and_init_from_follows_its_checkpoint(capsys, tmp_path):
    """The default has --form-token: on running text it trains without (config.json says so); --init-from keeps
    the checkpoint's vocabulary, with or without form tokens, unless --form-token asks otherwise."""
    import json
    code, out, err = run(capsys, "train", "--corpus", ENGLISH, *TINY, "--max-steps", "1", "--out", tmp_path / "en")
    assert code == 0, err
    assert json.loads((tmp_path / "en" / "config.json").read_text())["train"]["data"]["form_token"] is False
    plain = tmp_path / "plain"
    code, out, err = run(capsys, "train", "--corpus", POEMS, *TINY, "--max-steps", "1", "--no-form-token", "--out", plain)
    assert code == 0, err
    code, out, err = run(capsys, "train", "--corpus", POEMS, "--init-from", plain, "--max-steps", "1", "--time-budget", "0",
                         "--no-progress", "--out", tmp_path / "again")
    assert code == 0, err
    assert json.loads((tmp_path / "again" / "config.json").read_text())["train"]["data"]["form_token"] is False
    code, out, err = run(capsys, "train", "--corpus", POEMS, "--init-from", plain, "--form-token", "--max-steps", "1",
                         "--out", tmp_path / "third")
    assert code == 2 and "the vocabulary has no form tokens" in err and not (tmp_path / "third").exists(), err


def test_with_no_cut_end_a_cut_poem_has_no_end_mark_and_a_whole_one_keeps_it():
    """The default cut at 48 characters ends a 七律 after line 6 with <eos>, and a model learns to stop
    there; --no-cut-end leaves that <eos> out, and only there (which poems were cut: the same data uncut)."""
    marked = prepare(DataConfig(corpus=POEMS, form_token=True))
    unmarked = prepare(DataConfig(corpus=POEMS, form_token=True, cut_end=False))
    uncut = prepare(DataConfig(corpus=POEMS, form_token=True, seq_len=10**6), vocab=marked.vocab)
    assert marked.vocab.itos == unmarked.vocab.itos
    was_cut = 0
    for i in range(len(marked.train)):
        a, b, whole = marked.train[i].tolist(), unmarked.train[i].tolist(), uncut.train[i].tolist()
        assert a[-1] == marked.vocab.eos and a[:-1] == whole[:len(a) - 1]
        if len(whole) > len(a):
            was_cut += 1
            assert b == a[:-1]
        else:
            assert b == a
    assert was_cut > 0 and unmarked.train.n_targets == marked.train.n_targets - was_cut


def test_train_seq_len_cuts_only_the_training_poems_longer():
    """--train-seq-len gives training more of each long poem; the validation split and the vocabulary stay
    those of --seq-len, so a perplexity is taken on the same poems with the same characters."""
    short = prepare(DataConfig(corpus=POEMS, form_token=True, cut_end=False, seq_len=20))
    longer = prepare(DataConfig(corpus=POEMS, form_token=True, cut_end=False, seq_len=20, train_seq_len=40))
    whole = prepare(DataConfig(corpus=POEMS, form_token=True, cut_end=False, seq_len=10**6), vocab=short.vocab)
    assert longer.vocab.itos == short.vocab.itos
    assert np.array_equal(longer.valid.tokens, short.valid.tokens)
    assert np.array_equal(longer.valid.offsets, short.valid.offsets)
    grew = 0
    for i in range(len(short.train)):
        full = whole.train[i].tolist()
        cut = len(full) - 3 > 39                                  # <bos>, the form, the characters, <eos>
        expected = full[:41] if cut else full                     # 39 characters, and no <eos> after a cut
        assert longer.train[i].tolist() == expected
        grew += len(expected) > len(short.train[i])
    assert grew > 0


def test_running_text_keeps_its_windows_of_seq_len_whatever_train_seq_len_says():
    # the default trains poems whole (--train-seq-len 10000); running text has no poems to cut longer
    plain, longer = (prepare(DataConfig(corpus=ENGLISH, train_seq_len=n)) for n in (None, 100))
    assert np.array_equal(longer.train.tokens, plain.train.tokens)
    assert np.array_equal(longer.train.offsets, plain.train.offsets)
