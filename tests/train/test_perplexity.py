"""The one evaluation loop: perplexity of padded poems and of the AWD-LSTM's stream, and eval-gen's
log-probability per character, each against an explicit full softmax computed here in float64."""
import math

import pytest
import torch

from rnnlab.data.dataset import Split
from rnnlab.data.vocab import Vocab
from rnnlab.generate.evaluate import mean_logprob
from rnnlab.nn.awd import AWDLanguageModel
from rnnlab.nn.class_softmax import frequency_classes
from rnnlab.nn.configs import AWDConfig, ModelConfig
from rnnlab.nn.lm import LanguageModel
from rnnlab.training.perplexity import poem_perplexity, stream_perplexity

VOCAB = Vocab.build(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"], min_count=1)
POEMS = ["床前明月光，", "疑是地上霜。举头", "望明月", "低头思故乡。床前明月光，疑是"]


def encoded(texts):
    return [[VOCAB.bos] + VOCAB.encode(t) + [VOCAB.eos] for t in texts]


def explicit_logp(model, seq, state=None):
    """log p of each next token of one sequence, from an explicit softmax over the whole vocabulary."""
    logits, state = model(torch.tensor([seq[:-1]]), state)
    z = logits[0].double()
    logp = z - z.exp().sum(-1, keepdim=True).log()
    return logp[torch.arange(len(seq) - 1), torch.tensor(seq[1:])], state


def lstm(seed=0, softmax="full"):
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=len(VOCAB), embed_size=6, hidden_size=32, softmax=softmax)
    return LanguageModel(config).double().eval()


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_poem_perplexity_is_exp_of_the_mean_cross_entropy_with_padding_left_out(softmax):
    m = lstm(softmax=softmax)
    seqs = encoded(POEMS)
    picked = torch.cat([explicit_logp(m, s)[0] for s in seqs])
    assert len(picked) == sum(len(s) - 1 for s in seqs)
    assert poem_perplexity(m, Split.from_lists(seqs), VOCAB.pad) == pytest.approx(math.exp(-picked.mean().item()), rel=1e-12)


def test_mean_logprob_counts_the_characters_but_not_the_end():
    m = lstm(1)
    picked = torch.cat([explicit_logp(m, s)[0][:-1] for s in encoded(POEMS)])     # the last target is <eos>
    assert mean_logprob(m, VOCAB, POEMS) == pytest.approx(picked.mean().item(), rel=1e-12)


@pytest.mark.parametrize("softmax", ["full", "class"])
def test_stream_perplexity_carries_the_state_and_leaves_bos_targets_out(softmax):
    torch.manual_seed(2)
    V = len(VOCAB)
    config = AWDConfig(vocab_size=V, embed_size=6, hidden_size=8, num_layers=2, softmax=softmax,
                       n_classes=3 if softmax == "class" else 0)
    classes = frequency_classes(torch.arange(V) + 1, 3) if softmax == "class" else None
    m = AWDLanguageModel(config, classes).double().eval()
    split = Split.from_lists(encoded(POEMS))
    stream = split.tokens.tolist()
    # one column of the whole stream, read in one go; the state then carries across windows
    picked, _ = explicit_logp(m, stream)
    keep = torch.tensor(stream[1:]) != VOCAB.bos
    expected = math.exp(-picked[keep].mean().item())
    assert stream_perplexity(m, split, VOCAB.bos, bptt=5, columns=1) == pytest.approx(expected, rel=1e-10)
    assert stream_perplexity(m, split, VOCAB.bos, bptt=50, columns=1) == pytest.approx(expected, rel=1e-10)
