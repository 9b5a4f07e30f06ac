"""How good are generated poems? Shape, rhyme and tones, diversity, novelty against the training
corpus, and how likely the model itself finds them.

    form valid     share of poems with exactly the requested regulated form (any regulated form for free)
    rhyme          share whose even lines end in one rhyme group;  tones: share following a tone pattern
                   (both by the chosen prosody: classical 平水韵 by default, or modern Mandarin)
    distinct-n     distinct character n-grams / all n-grams, over every line of every poem (Li et al. 2016)
    novel lines    share of generated lines that occur nowhere in the training split, verbatim
    novel 4-grams  share of generated character 4-grams never seen in the training split
    log p / char   mean log-probability per character under the model (temperature 1, unconstrained)
"""
import torch

from rnnlab.data.dataset import Split
from rnnlab.generate.forms import follows_tones, form_of, rhymes, split_lines
from rnnlab.training.perplexity import poem_windows, summed_loss


def ngrams(lines, n):
    return [line[i:i + n] for line in lines for i in range(len(line) - n + 1)]


def mean_logprob(model, vocab, texts):
    """Mean log p(character | earlier ones) over all characters of `texts` (the end token excluded, and a
    form token, --form-token: the characters given the poem's form)."""
    device = next(model.parameters()).device
    split = Split.from_lists([vocab.poem(t, form_of(t)) for t in texts])
    skipped = torch.tensor([vocab.eos, *vocab.form_ids.values()], device=device)
    windows = ((inputs, targets.masked_fill(torch.isin(targets, skipped), vocab.pad))
               for inputs, targets in poem_windows(split, vocab.pad, device))
    total, count = summed_loss(model, windows, vocab.pad)
    return -total / max(count, 1)


def training_lines(checkpoint):
    """Every line of every poem in the checkpoint's training split, as text."""
    train, vocab = checkpoint.training_split(), checkpoint.vocab
    return [text for i in range(len(train)) for text, _ in split_lines(vocab.decode(train[i].tolist()))]


def evaluate(checkpoint, poems, form="free", prosody="classical"):
    """The measures above for `poems` written by `checkpoint` with `form`, rhyme and tones judged by
    `prosody` (classical: 平水韵); a dict of floats."""
    lines = [text for poem in poems for text, _ in split_lines(poem)]
    seen_lines = training_lines(checkpoint)
    seen_4grams = set(ngrams(seen_lines, 4))
    seen_lines = set(seen_lines)
    grams4 = ngrams(lines, 4)
    n = max(len(poems), 1)
    return {
        "poems": len(poems),
        "form_valid": sum((form_of(p) == form) if form != "free" else form_of(p) is not None for p in poems) / n,
        "rhyme": sum(rhymes(p, prosody) for p in poems) / n,
        "tones": sum(follows_tones(p, prosody) for p in poems) / n,
        "distinct_1": len(set(ngrams(lines, 1))) / max(len(ngrams(lines, 1)), 1),
        "distinct_2": len(set(ngrams(lines, 2))) / max(len(ngrams(lines, 2)), 1),
        "novel_lines": sum(line not in seen_lines for line in lines) / max(len(lines), 1),
        "novel_4grams": sum(g not in seen_4grams for g in grams4) / max(len(grams4), 1),
        "logprob_per_char": mean_logprob(checkpoint.model, checkpoint.vocab, poems),
    }
