"""The plain LSTM's prosody inputs: the tables are the ruler's, the counters follow the lines, one call equals
one character at a time, and nothing of a character reaches the model before it has predicted it."""
import pytest
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.nn.configs import PROSODY_INPUTS, ModelConfig
from rnnlab.nn.lm import LanguageModel
from rnnlab.nn.prosody_inputs import (
    CHARACTER,
    EXPECTED,
    LINE,
    MARK,
    POSITION,
    START,
    TONE_CLASSES,
    ProsodyInputs,
    prosody_tables,
    summed_lookup,
)
from tests.conftest import POEMS
from tests.test_cli import TINY, run

POEM = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
REGULAR = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"           # follows a tone pattern to the end


@pytest.fixture(scope="module")
def vocab():
    return Vocab.build([POEM + "看风", REGULAR], min_count=1)


def model_of(vocab, inputs=PROSODY_INPUTS, seed=0, **options):
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=len(vocab), embed_size=6, hidden_size=5, prosody_inputs=inputs, **options)
    return LanguageModel(config, prosody_tables(vocab)).double().eval()


def test_the_tables_are_the_rulers_tones_groups_and_marks(vocab):
    from rnnlab.generate.prosody import system

    t = prosody_tables(vocab)
    tone = lambda ch: TONE_CLASSES[t["tone"][vocab.stoi[ch]]]  # noqa: E731
    assert (tone("风"), tone("月"), tone("看"), tone("，")) == ("平", "仄", "either", "unknown")
    groups = lambda ch: set(t["groups"][vocab.stoi[ch]].nonzero().flatten().tolist())  # noqa: E731
    assert groups("光") == set(system().groups("光")) and groups("光") & groups("霜") & groups("乡")
    assert t["kind"][vocab.stoi["。"]] == MARK and t["kind"][vocab.bos] == START
    assert t["kind"][vocab.stoi["床"]] == CHARACTER and not groups("。")


def test_the_counters_give_each_character_its_place_and_the_rhyme_so_far(vocab):
    model = model_of(vocab)
    tokens = torch.tensor([[vocab.bos] + vocab.encode(POEM)])
    seen = []
    counters = None
    for t in range(tokens.shape[1]):               # the counters after each character read
        _, counters = model.prosody(tokens[:, t:t + 1], counters)
        seen.append(counters[0, 0].tolist())
    position = [s[POSITION] for s in seen]
    line = [s[LINE] for s in seen]
    # after:           <bos> 床 前 明 月 光 ，  疑 是 地 上 霜 。
    assert position[:13] == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0]
    assert line[:13] == [0] * 6 + [1] * 6 + [2] and line[-1] == 4
    rhyme = [vocab.itos[s[3]] for s in seen]
    assert rhyme[11] == "<pad>" and rhyme[12] == "霜" and rhyme[-1] == "乡"     # set when an even line ends
    _, counters = model.prosody(torch.tensor([[vocab.eos, vocab.bos]]), counters)  # a poem read first (--prefix)
    assert counters[0, 0, :4].tolist() == [0, 0, vocab.bos, vocab.pad]        # is forgotten at the next <bos>


def test_one_call_equals_one_character_at_a_time(vocab):
    model = model_of(vocab)
    tokens = torch.tensor([[vocab.bos] + vocab.encode(POEM)] * 2)
    whole, _ = model(tokens)
    state, steps = None, []
    for t in range(tokens.shape[1]):
        logits, state = model(tokens[:, t:t + 1], state)
        steps.append(logits)
    assert torch.allclose(whole, torch.cat(steps, 1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("shape", [(40, 40), (2, 5)])      # more positions than the table of sums has rows, fewer
def test_one_lookup_in_the_combined_table_is_the_sum_of_the_lookups_and_so_are_the_gradients(shape):
    torch.manual_seed(0)
    tables = [torch.randn(n, 3, dtype=torch.float64, requires_grad=True) for n in (9, 17, 4, 2)]
    indices = [torch.randint(len(table), shape) for table in tables]
    weights = torch.randn(*shape, 3, dtype=torch.float64)
    combined = summed_lookup(list(zip(indices, tables)))
    combined_grads = torch.autograd.grad((combined * weights).sum(), tables)
    separate = sum(table[index] for index, table in zip(indices, tables))
    separate_grads = torch.autograd.grad((separate * weights).sum(), tables)
    assert torch.equal(combined, separate)                   # summed in the same order either way
    assert all(torch.allclose(a, b, atol=1e-12, rtol=0) for a, b in zip(combined_grads, separate_grads))
    reordered = summed_lookup(list(zip(indices, tables))[::-1])                   # the radix's order does not count
    assert torch.allclose(reordered, separate, atol=1e-12, rtol=0)


@pytest.mark.parametrize("inputs", [(name,) for name in PROSODY_INPUTS] + [PROSODY_INPUTS])
def test_nothing_of_a_character_reaches_the_model_before_it_predicts_it(vocab, inputs):
    """Change every table entry of the target character: the probabilities up to its own place are
    unchanged, and those after it change (so the test can fail)."""
    model = model_of(vocab, inputs)
    tokens = torch.tensor([[vocab.bos] + vocab.encode(REGULAR)])
    target = 11                                   # 流: the end of an even line (after <bos> and 11 more)
    ch = tokens[0, target]
    before = torch.log_softmax(model(tokens)[0], -1)
    prosody = model.prosody
    prosody.tone[ch] = (prosody.tone[ch] + 1) % len(TONE_CLASSES)
    prosody.groups[ch] = 1 - prosody.groups[ch]
    prosody.kind[ch] = MARK
    after = torch.log_softmax(model(tokens)[0], -1)
    assert torch.equal(before[0, :target], after[0, :target])     # up to p(流 | what precedes it)
    assert not torch.allclose(before[0, target:], after[0, target:])


def test_a_run_with_prosody_inputs_trains_saves_and_writes_rhymed_poems(capsys, tmp_path):
    from rnnlab.checkpoint import load_checkpoint

    code, out, err = run(capsys, "train", "--corpus", POEMS, *TINY, "--max-steps", "3", "--prosody-inputs",
                         *PROSODY_INPUTS, "--out", tmp_path / "run")
    assert code == 0, err
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.model.config.prosody_inputs == PROSODY_INPUTS
    poem = ckpt.generate(form="wujue", rhyme="hard", tones="hard", seed=0)[0]
    from rnnlab.generate.forms import follows_tones, form_of, rhymes
    assert rhymes(poem) and follows_tones(poem)
    code, out, err = run(capsys, "eval", "--checkpoint", tmp_path / "run", "--corpus", POEMS, "--engine", "numpy")
    assert code == 2 and "without prosody inputs" in err
    beams = ckpt.generate(form="qijue", strategy="beam", num=2, rhyme="hard", prefix="春风", seed=0)
    acrostic = ckpt.generate(acrostic="春花秋月", form="wujue", num=2, seed=0)
    assert len(beams) == 2 and all(p[0] == "春" and form_of(p) == "wujue" for p in acrostic)
    code, out, err = run(capsys, "train", "--corpus", POEMS, *TINY[4:], "--max-steps", "2", "--init-from", tmp_path / "run",
                         "--out", tmp_path / "tuned")                 # fine-tuning keeps the inputs and tables
    assert code == 0, err
    tuned = load_checkpoint(tmp_path / "tuned")
    assert tuned.model.config.prosody_inputs == PROSODY_INPUTS
    assert torch.equal(tuned.model.prosody.groups, ckpt.model.prosody.groups)


def test_the_prosody_loss_is_the_next_characters_tone_and_group_cross_entropy(vocab):
    torch.manual_seed(1)
    config = ModelConfig(vocab_size=len(vocab), embed_size=6, hidden_size=5, prosody_loss=0.5)
    model = LanguageModel(config, prosody_tables(vocab)).double().eval()
    tokens = torch.tensor([[vocab.bos] + vocab.encode(POEM + "看")])
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    objective, loss_sum, n, _ = model.objective(inputs, targets, vocab.pad)
    assert torch.equal(loss_sum, model.summed_loss(inputs, targets, vocab.pad)[0]) and n == targets.numel()
    scores = model.prosody_head(model.features(inputs)[0])[0]             # (T, 4 + G), written out by hand
    t = prosody_tables(vocab)
    expected = 0.0
    for score, target in zip(scores, targets[0]):
        expected -= torch.log_softmax(score[:4], -1)[t["tone"][target]]
        groups = t["groups"][target].nonzero().flatten()
        if len(groups):                                                    # 看 has two groups: half on each
            expected -= torch.log_softmax(score[4:], -1)[groups].mean()
    assert t["groups"][vocab.stoi["看"]].sum() >= 2
    assert torch.allclose(objective, loss_sum + 0.5 * expected, atol=1e-12, rtol=0)


def expected_by_walking_the_templates(poem, system):
    """The pattern input written out with forms.py's own pieces, one character at a time: the options
    (width, pattern, template) open for the current line, as the hard tone constraint tracks them."""
    from rnnlab.generate.forms import PUNCTUATION, fits, line_options

    def expect(opts, col):
        wants = {"end" if col >= w else t[col] for w, _, t in opts}
        if not opts:
            return "none"
        return {frozenset([0]): "平", frozenset([1]): "仄"}.get(frozenset(wants), "free")

    opts = {(w, k, t) for w in (5, 7) for k, t in line_options(w, 0)}
    line = col = 0
    out = [expect(opts, 0)]
    for ch in poem:
        if ch in PUNCTUATION:
            alive = {(w, k) for w, k, _ in opts if col == w}
            opts = {(w, k, t) for w in (5, 7) for k, t in (line_options(w, line + 1) if line + 1 < 8 else [])
                    if (w, k) in alive}
            line, col = line + 1, 0
        else:
            opts = {(w, k, t) for w, k, t in opts if col < w and fits(system.tones(ch), t[col])}
            col += 1
        out.append(expect(opts, col))
    return out[:-1]                                   # what was expected of each character of the poem


def pattern_inputs(poems):
    vocab = Vocab.build(poems, min_count=1)
    module = ProsodyInputs(("pattern",), 4, prosody_tables(vocab), vocab.pad)
    classes = []
    for poem in poems:
        expected = module.walk(torch.tensor([[vocab.bos] + vocab.encode(poem)]))[3]
        classes.append([EXPECTED[c] for c in expected[0, :-1].tolist()])
    return classes


def test_the_pattern_input_is_a_walk_through_the_rulers_templates():
    from rnnlab.generate.prosody import system
    from rnnlab.generate.ruler import read_poems

    poems = read_poems(POEMS)
    assert pattern_inputs(poems) == [expected_by_walking_the_templates(p, system()) for p in poems]


def test_the_poets_regulated_poems_keep_a_pattern_open_and_shuffled_lines_do_not():
    """Ground truth: the poems of 唐诗三百首 that the ruler finds following the tones keep some pattern open
    to the end (but the few a 拗救 rescues, which only the ruler accepts); the same poems with each line's
    characters shuffled lose them all."""
    import numpy as np

    from rnnlab.generate.forms import follows_tones
    from rnnlab.generate.ruler import read_poems, shuffle_lines

    regular = [p for p in read_poems(POEMS) if follows_tones(p)]
    rng = np.random.default_rng(0)
    shuffled = [shuffle_lines(p, rng) for p in regular]
    kept = [sum("none" not in c for c in pattern_inputs(poems)) / len(poems) for poems in (regular, shuffled)]
    assert len(regular) > 100 and kept[0] > 0.9 and kept[1] < 0.2, kept


TIED_PROSODY = {"softmax": "adaptive", "tied": True, "tied_prosody": True}


def test_tied_prosody_output_vectors_are_the_characters_whole_input_vectors(vocab):
    """--tied-prosody: a character's output vector is its embedding plus its tone's and its rhyme groups'
    vectors (the part of its input that does not depend on what precedes it); the rows stay distributions and
    the training loss their cross entropy; and the LSTM still sees nothing of a character before predicting it."""
    import torch.nn.functional as F

    model = model_of(vocab, **TIED_PROSODY)
    p = model.prosody
    for ch in "光霜看，":
        i = vocab.stoi[ch]
        expected = (model.embedding.weight[i] + p.tone_embedding.weight[p.tone[i]]
                    + p.group_embedding.weight @ p.groups[i])
        assert torch.allclose(model.output_vectors()[i], expected, atol=1e-12, rtol=0)
    tokens = torch.tensor([[vocab.bos] + vocab.encode(REGULAR)])
    logp, _ = model(tokens)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(tokens.shape, dtype=torch.float64), atol=1e-12, rtol=0)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    loss, n, _ = model.summed_loss(inputs, targets, vocab.pad)
    explicit = F.nll_loss(model(inputs)[0].reshape(-1, len(vocab)), targets.reshape(-1), reduction="sum")
    assert n == targets.numel() and loss.item() == pytest.approx(explicit.item(), rel=1e-12)
    target, ch = 11, tokens[0, 11]                # 流: its tone changed changes its output vector, and the
    before, vector = model.features(tokens)[0], model.output_vectors()[ch].clone()    # LSTM only after it
    p.tone[ch] = (p.tone[ch] + 1) % len(TONE_CLASSES)
    after = model.features(tokens)[0]
    assert torch.equal(before[0, :target], after[0, :target]) and not torch.allclose(before, after)
    assert not torch.allclose(model.output_vectors()[ch], vector)


def test_generation_computes_the_tied_output_vectors_once_and_writes_the_same_poems(vocab, monkeypatch):
    """generate() holds the tied output vectors fixed for its steps: the same poems as computing them at every
    step, one call of the prosody's character vectors instead of one a step, and none kept afterwards."""
    from contextlib import nullcontext

    from rnnlab.generate.sampling import generate

    model, calls = model_of(vocab, **TIED_PROSODY), []
    character_vectors = model.prosody.character_vectors
    monkeypatch.setattr(model.prosody, "character_vectors", lambda: calls.append(1) or character_vectors())
    options = {"num": 4, "max_len": 12, "seed": 3}
    fixed = generate(model, vocab, "明", **options)
    assert len(calls) == 1 and model.held_output_vectors is None
    monkeypatch.setattr(model, "output_vectors_fixed", nullcontext)      # every step computes them again
    assert generate(model, vocab, "明", **options) == fixed and len(calls) > 5


def test_tied_prosody_needs_tied_vectors_and_a_prosody_input(vocab):
    from rnnlab.errors import RnnlabError

    wrong = ((PROSODY_INPUTS, {"tied": False}), (("position",), {}), (PROSODY_INPUTS, {"softmax": "full"}))
    for inputs, options in wrong:
        with pytest.raises(RnnlabError, match="--tied-prosody needs --tied, --softmax adaptive"):
            model_of(vocab, inputs, **{**TIED_PROSODY, **options})
