"""The plain LSTM's prosody inputs: the tables are the ruler's, the counters follow the lines, one call equals
one character at a time, and nothing of a character reaches the model before it has predicted it."""
import pytest
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.nn.configs import PROSODY_INPUTS, ModelConfig
from rnnlab.nn.lm import LanguageModel
from rnnlab.nn.prosody_inputs import CHARACTER, LINE, MARK, POSITION, START, TONE_CLASSES, prosody_tables
from tests.conftest import POEMS
from tests.test_cli import TINY, run

POEM = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


@pytest.fixture(scope="module")
def vocab():
    return Vocab.build([POEM + "看风"], min_count=1)


def model_of(vocab, inputs=PROSODY_INPUTS, seed=0):
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=len(vocab), embed_size=6, hidden_size=5, prosody_inputs=inputs)
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
    assert counters[0, 0].tolist() == [0, 0, vocab.bos, vocab.pad]            # is forgotten at the next <bos>


def test_one_call_equals_one_character_at_a_time(vocab):
    model = model_of(vocab)
    tokens = torch.tensor([[vocab.bos] + vocab.encode(POEM)] * 2)
    whole, _ = model(tokens)
    state, steps = None, []
    for t in range(tokens.shape[1]):
        logits, state = model(tokens[:, t:t + 1], state)
        steps.append(logits)
    assert torch.allclose(whole, torch.cat(steps, 1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("inputs", [(name,) for name in PROSODY_INPUTS] + [PROSODY_INPUTS])
def test_nothing_of_a_character_reaches_the_model_before_it_predicts_it(vocab, inputs):
    """Change every table entry of the target character: the probabilities up to its own place are
    unchanged, and those after it change (so the test can fail)."""
    model = model_of(vocab, inputs)
    tokens = torch.tensor([[vocab.bos] + vocab.encode(POEM)])
    target = 11                                   # 霜: the end of an even line (after <bos> and 11 more)
    ch = tokens[0, target]
    before = torch.log_softmax(model(tokens)[0], -1)
    prosody = model.prosody
    prosody.tone[ch] = (prosody.tone[ch] + 1) % len(TONE_CLASSES)
    prosody.groups[ch] = 1 - prosody.groups[ch]
    prosody.kind[ch] = MARK
    after = torch.log_softmax(model(tokens)[0], -1)
    assert torch.equal(before[0, :target], after[0, :target])     # up to p(霜 | what precedes it)
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
    objective, loss_sum, n = model.objective(inputs, targets, vocab.pad)
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
