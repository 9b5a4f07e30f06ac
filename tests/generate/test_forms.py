"""Constrained generation: regulated forms, acrostics, rhyme and tones, strategies, beam search.
A fixed random model writes the poems, so every guarantee must come from the decoding itself."""
import itertools
import math
import re

import pytest
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.generate import prosody
from rnnlab.generate.evaluate import ngrams
from rnnlab.generate.forms import FORMS, LINE_END, follows_tones, form_of, rhymes, split_lines
from rnnlab.generate.prosody import PING, ZE
from rnnlab.generate.sampling import filter_top_k_top_p, generate
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel

TEXT = ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。床前明月光，疑是地上霜。举头望明月，低头思故乡。"
        "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，"
        "轻舟已过万重山。红豆生南国，春来发几枝？愿君多采撷，此物最相思！秋冬夏")
VOCAB = Vocab.build([TEXT], min_count=1)


def model(seed=0, eos_bias=0.0):
    torch.manual_seed(seed)
    m = LanguageModel(ModelConfig(vocab_size=len(VOCAB), embed_size=8, hidden_size=16))
    with torch.no_grad():
        m.decoder.weight.mul_(8)                 # a peaky random distribution: constraints must do the work
        m.decoder.bias[VOCAB.eos] += eos_bias
    return m


def shape_ok(poem, form):
    n, width = FORMS[form]
    lines = split_lines(poem)
    return len(lines) == n and all(len(t) == width and m == LINE_END[i % 2] for i, (t, m) in enumerate(lines))


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("strategy", ["sample", "greedy"])
def test_regulated_forms_always_have_their_shape(form, strategy):
    for seed in range(3):
        poems = generate(model(seed, eos_bias=20), VOCAB, num=20, form=form, strategy=strategy, temperature=1.5,
                         seed=seed)
        assert all(shape_ok(p, form) and form_of(p) == form for p in poems), poems


@pytest.mark.parametrize("form", list(FORMS))
def test_acrostic_starts_every_line_in_every_form(form):
    acrostic = "春秋夏冬"[:FORMS[form][0]] if "冬" in VOCAB else "春秋夏白"
    poems = generate(model(1), VOCAB, num=10, form=form, acrostic=acrostic, seed=3)
    for poem in poems:
        assert shape_ok(poem, form)
        assert [t[0] for t, _ in split_lines(poem)][:len(acrostic)] == list(acrostic)


def test_free_acrostic_survives_any_punctuation_and_ends_after_its_lines():
    poems = generate(model(2, eos_bias=-5), VOCAB, num=30, acrostic="春秋夏", max_len=200, temperature=2.0, seed=4)
    for poem in poems:
        lines = split_lines(poem)
        assert len(poem) < 200 and [t[0] for t, _ in lines] == list("春秋夏")  # all three lines, then the end
        assert lines[-1][1] != ""
    assert any(m in "？！；：、" for p in poems for _, m in split_lines(p))


def test_eos_and_the_cap_always_stop_free_generation():
    never_ends = generate(model(eos_bias=-50), VOCAB, start="床前", num=6, max_len=17, seed=1)
    assert all(len(p) <= 17 and p.startswith("床前") for p in never_ends)
    ends_at_once = generate(model(eos_bias=50), VOCAB, start="明月", num=3, seed=1)
    assert ends_at_once == ["明月"] * 3


@pytest.mark.parametrize("system", prosody.SYSTEMS)
@pytest.mark.parametrize("form", list(FORMS))
def test_hard_rhyme_and_tones_always_hold(form, system):
    poems = generate(model(3), VOCAB, num=20, form=form, rhyme="hard", tones="hard", temperature=1.5, seed=5,
                     prosody=system)
    for poem in poems:
        assert shape_ok(poem, form) and rhymes(poem, system) and follows_tones(poem, system), poem


def test_hard_rhyme_does_not_repeat_a_line_end_while_another_rhyme_is_left():
    """A model that wants 山 at every line's end: unconstrained it ends all four lines with 山; with the hard
    rhyme no even line repeats an earlier line's last character (重韵). A 七律 needs more rhymes than the tiny
    vocabulary has in some groups, so there a repeat is allowed again and the poem still rhymes."""
    m = model(3)
    with torch.no_grad():
        m.decoder.bias[VOCAB.stoi["山"]] += 30
    ends = lambda poem: [text[-1] for text, _ in split_lines(poem)]  # noqa: E731
    assert all(ends(p) == ["山"] * 4 for p in generate(m, VOCAB, num=5, form="wujue", seed=5))
    groups = prosody.system("classical").groups

    def fresh_left(used, rhyme):
        return any(groups(ch) & groups(rhyme) for ch in VOCAB.itos if ch not in used)

    repeats = 0
    for poem in generate(m, VOCAB, num=20, form="wujue", rhyme="hard", temperature=1.5, seed=5):
        last = ends(poem)
        assert rhymes(poem) and last[1] != last[0], poem
        assert last[3] not in last[:3] or not fresh_left(last[:3], last[1]), poem
        repeats += last[3] in last[:3]
    assert repeats < 20
    for poem in generate(m, VOCAB, num=20, form="qilv", rhyme="hard", tones="hard", temperature=1.5, seed=5):
        assert shape_ok(poem, "qilv") and rhymes(poem) and follows_tones(poem), poem


@pytest.mark.parametrize("system", prosody.SYSTEMS)
def test_soft_constraints_raise_the_rates_without_guaranteeing_them(system):
    def rates(**kw):
        poems = generate(model(4), VOCAB, num=200, form="wujue", temperature=1.0, seed=6, prosody=system, **kw)
        return sum(rhymes(p, system) for p in poems) / 200, sum(follows_tones(p, system) for p in poems) / 200
    plain, soft = rates(), rates(rhyme="soft", tones="soft")
    assert soft[0] > plain[0] and soft[1] > plain[1]
    assert soft[1] < 1


def test_classical_prosody_of_known_characters():
    c = prosody.system("classical")
    assert (c.tones("山"), c.tones("海"), c.tones("月"), c.tones("，")) == ({PING}, {ZE}, {ZE}, set())
    assert c.tones("白") == c.tones("国") == {ZE}                # 入声: 仄, though Mandarin reads them 平
    assert c.tones("看") == {PING, ZE}                          # a polyphone counts as either
    name = lambda ch: {c.group_names[g] for g in c.groups(ch)}  # noqa: E731
    assert "十五删" in name("山") & name("间") and name("天") == {"一先"}   # 山 and 天 do not rhyme in 平水韵
    assert name("东") == name("红") == {"一东"} and name("冬") == {"二冬"}
    poem = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
    assert form_of(poem) == "wujue" and rhymes(poem) and follows_tones(poem)
    assert not follows_tones("床前明月光，疑是地上霜。举头望明月，低头思故乡。")     # 古绝: no tone rules


def test_modern_prosody_of_known_characters():
    m = prosody.system("modern")
    assert (m.tones("山"), m.tones("海"), m.tones("白"), m.tones("，")) == ({PING}, {ZE}, {PING}, set())
    assert m.groups("山") == m.groups("间") == m.groups("天") != m.groups("光")
    assert m.groups("知") != m.groups("衣")                    # zhi (支) is not yi (齐)


@pytest.mark.parametrize("poem, ok", [
    ("红豆生南国，春来发几枝。愿君多采撷，此物最相思。", True),                    # 王维, 平起 首句不入韵
    ("两个黄鹂鸣翠柳，一行白鹭上青天。窗含西岭千秋雪，门泊东吴万里船。", True),      # 杜甫, 仄起 首句不入韵
    ("朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。", True),      # 李白, 首句入韵
    ("仄仄平平仄，平平仄仄平。平平平仄仄，仄仄仄平平。".replace("仄", "月").replace("平", "山"), True),
    ("月月山山月，月山月月山。山山山月月，月月月山山。", False),                    # line 2: 孤平
    ("月月山山月，山山月月山。山山山月月，月月山山山。", False),                    # line 4: 三平尾
    ("月月山山月，山山月月山。月月山山月，山山月月山。", False),                    # lines 2 and 3 do not stick (失粘)
    ("月月山月月，山山山月山。山山山月月，月月月山山。", True),                      # 拗 line 1 rescued in line 2
    ("月月山月月，山山月月山。山山山月月，月月月山山。", False),                     # ... and not rescued
])
def test_tone_rules(poem, ok):
    assert follows_tones(poem) == ok


@pytest.mark.parametrize("kwargs, match", [
    (dict(form="wujue", acrostic="春秋夏冬白"), "longer than the 4 lines"),
    (dict(form="wujue", acrostic="春龙"), "outside the model's vocabulary: 龙"),
    (dict(form="wujue", start="白日依山尽。"), "needs ， after line 1"),
    (dict(form="wujue", start="白日，"), "needs a Chinese character at position 3"),
    (dict(form="wujue", start="白", acrostic="黄"), "begins with 白, the acrostic with 黄"),
    (dict(form="free", rhyme="hard"), "need a regulated form"),
    (dict(form="wujue", tones="hard", start="白日依山尽，黄河入海月"), "breaks every tone pattern"),
    (dict(form="wujue", rhyme="hard", start="白日依山尽，黄河入海流。欲穷千里目，更上一层光"), "do not rhyme"),
    (dict(form="wujue", rhyme="hard", start="白日依山尽，黄河入海流。欲穷千里目，更上一层流"), "repeats the rhyme character 流"),
    (dict(top_p=0.0), "top-p must be in (0, 1]"),
    (dict(top_p=1.5), "top-p must be in (0, 1]"),
    (dict(top_k=0), "top-k must be at least 1"),
    (dict(strategy="beam", beam_size=2, num=3), "beam size 2 < num 3"),
    (dict(repetition_penalty=0.5), "repetition penalty must be >= 1"),
    (dict(prefix="龙"), "prefix has characters outside"),
])
def test_bad_requests_get_one_clear_error(kwargs, match):
    with pytest.raises(RnnlabError, match=re.escape(match)):
        generate(model(), VOCAB, seed=1, **kwargs)


def test_unsatisfiable_hard_tones_are_refused():
    level_only = Vocab.build(["山天前年边花光，。"], min_count=1)        # every character is 平 (in both systems)
    torch.manual_seed(0)
    m = LanguageModel(ModelConfig(vocab_size=len(level_only), embed_size=4, hidden_size=4))
    with pytest.raises(RnnlabError, match="both tones"):
        generate(m, level_only, form="wujue", tones="hard", seed=1)


@pytest.mark.parametrize("kwargs", [dict(), dict(form="wulv", rhyme="hard", tones="hard"),
                                    dict(form="qijue", acrostic="月秋", repetition_penalty=1.5)])
def test_batch_equals_one_at_a_time_under_greedy(kwargs):
    m = model(5, eos_bias=-2)
    batch = generate(m, VOCAB, start="月", num=5, strategy="greedy", seed=1, **kwargs)
    single = [generate(m, VOCAB, start="月", num=1, strategy="greedy", seed=s, **kwargs)[0] for s in range(5)]
    assert batch == single


def test_same_seed_same_poems_with_every_option():
    kw = dict(num=6, form="qilv", acrostic="春秋", rhyme="soft", tones="hard", top_k=20, top_p=0.9,
              repetition_penalty=1.2, prefix="明月", temperature=1.3)
    assert generate(model(6), VOCAB, seed=11, **kw) == generate(model(6), VOCAB, seed=11, **kw)


def test_top_p_keeps_the_smallest_set_reaching_p():
    logp = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_top_k_top_p(logp, None, 0.8))
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(filter_top_k_top_p(logp, None, 0.81))
    assert kept.tolist() == [[True, True, True, False]]
    assert torch.isfinite(filter_top_k_top_p(logp, 2, None)).sum() == 2


def test_repetition_penalty_reduces_repeats():
    def repeats(penalty):
        poems = generate(model(7, eos_bias=-50), VOCAB, num=50, max_len=30, repetition_penalty=penalty, seed=2)
        return sum(len(p) - len(set(p)) for p in poems)
    assert repeats(3.0) < repeats(1.0)


def test_prefix_changes_the_poem_but_is_not_printed():
    m = model(8, eos_bias=-50)
    plain = generate(m, VOCAB, start="月", num=4, max_len=20, seed=3)
    primed = generate(m, VOCAB, start="月", num=4, max_len=20, seed=3, prefix="春眠不觉晓")
    assert all(p.startswith("月") and len(p) <= 20 for p in primed) and primed != plain


def test_beam_search_finds_the_best_sequence_by_brute_force():
    vocab = Vocab.build(["山水月"], min_count=1)                   # three characters, no punctuation
    torch.manual_seed(9)
    m = LanguageModel(ModelConfig(vocab_size=len(vocab), embed_size=4, hidden_size=6)).eval()
    cap, chars = 3, [vocab.stoi[c] for c in "山水月"]

    def logp(prefix, options):
        with torch.no_grad():
            logits = m(torch.tensor([[vocab.bos] + prefix]))[0][0, -1]
        return torch.log_softmax(logits[options], 0)

    best = (-math.inf, None)
    for n in range(cap + 1):
        for seq in itertools.product(chars, repeat=n):
            seq = list(seq)
            total = sum(logp(seq[:i], chars + [vocab.eos])[chars.index(t)].item() for i, t in enumerate(seq))
            if n < cap:
                total += logp(seq, chars + [vocab.eos])[-1].item()  # the end token; at the cap it is forced
            best = max(best, (total / (n + 1), vocab.decode(seq)))
    found = generate(m, vocab, strategy="beam", beam_size=len(chars) ** cap, num=1, max_len=cap)
    assert found == [best[1]]


def test_beam_search_keeps_the_form():
    poems = generate(model(10), VOCAB, strategy="beam", beam_size=4, num=3, form="wujue", rhyme="hard", acrostic="春秋")
    assert len(poems) == 3 and all(shape_ok(p, "wujue") and rhymes(p) for p in poems)


def test_distinct_ngrams():
    assert ngrams(["春风", "风"], 2) == ["春风"] and ngrams(["春风"], 1) == ["春", "风"]
