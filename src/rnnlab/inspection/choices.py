"""The model's own choice at each position of a poem, and where a constraint overruled it.

At each step, from one forward pass over the poem (the prefix first, as generation reads it):
    p, rank      the probability (temperature 1, no constraint) the model gave the character written,
                 and its rank among all characters
    top          the model's five most likely next characters, with their probabilities
    forced       start, acrostic or form where a rule allowed one character only (a mark, the end)
    overruled    the constraints that excluded (hard) or penalised (soft) the model's most likely
                 character: form (shape: characters only, the marks in place), tones, rhyme
    removed      the model's probability outside what the constraints allowed
The constraints are generate/constraints.py's own, walked along the poem once with every option, and
once with each of tones and rhyme alone, to tell which rule acted.
"""
from dataclasses import replace

import torch

from rnnlab.errors import RnnlabError
from rnnlab.generate.constraints import make_constraints
from rnnlab.generate.forms import form_of
from rnnlab.generate.options import GenerationOptions
from rnnlab.generate.sampling import opening_ids

TOP = 5


@torch.no_grad()
def choices(model, vocab, poem, **options):
    """[{char, p, rank, top, forced, overruled, removed}] for each character of `poem` and its end, the
    options being those the poem was written with (GenerationOptions' fields; `start` included)."""
    o = GenerationOptions(**options).check()
    if not poem:
        raise RnnlabError("the poem is empty")
    unknown = sorted({ch for ch in poem + o.prefix if ch not in vocab})
    if unknown:
        raise RnnlabError(f"characters outside the model's vocabulary: {''.join(unknown)}")
    if not poem.startswith(o.start):
        raise RnnlabError(f"the poem does not begin with its start text {o.start!r}")
    device = next(model.parameters()).device
    primer = opening_ids(vocab, o, (form_of(poem) or "free") if o.form == "free" else o.form)
    tokens = vocab.encode(poem) + [vocab.eos]
    was_training = model.training
    model.eval()
    try:
        logits, _ = model(torch.tensor([primer + tokens[:-1]], device=device))
    finally:
        model.train(was_training)
    logp = torch.log_softmax(logits[0, len(primer) - 1:].float(), dim=-1)
    walkers = {"all": make_constraints(vocab, 1, o, device),
               "form": make_constraints(vocab, 1, replace(o, rhyme=None, tones=None), device)}
    for rule in ("tones", "rhyme"):
        if getattr(o, rule):
            others = {"tones": None, "rhyme": None, rule: getattr(o, rule)}
            walkers[rule] = make_constraints(vocab, 1, replace(o, **others), device)
    out = []
    for step, token in enumerate(tokens):
        masks = {name: w.at(step) for name, w in walkers.items()}
        allowed, bonus = masks["all"]
        if not allowed[0, token]:
            raise RnnlabError(f"character {step + 1} ({vocab.itos[token]}) breaks the options' constraints")
        p = logp[step].exp()
        best = int(p.argmax())
        top = p.topk(TOP)
        out.append({
            "char": shown(vocab, token),
            "p": float(p[token]), "rank": int((p > p[token]).sum()) + 1,
            "top": [(shown(vocab, i), q) for q, i in zip(top.values.tolist(), top.indices.tolist())],
            "forced": forced_by(o, step, allowed[0], walkers["all"]),
            "overruled": [name for name, (mask, extra) in masks.items() if name != "all"
                          and (not mask[0, best] or (extra is not None and extra[0, best] < 0))],
            "removed": float(p[~allowed[0]].sum()),
        })
        if token != vocab.eos:
            for w in walkers.values():
                w.advance(torch.tensor([token], device=device))
    return out


def shown(vocab, token):
    return "<eos>" if token == vocab.eos else vocab.itos[token]


def forced_by(o, step, allowed, walker):
    """Why only one character was allowed here: the start text, the acrostic, or the form (a mark, the end)."""
    if int(allowed.sum()) != 1:
        return None
    if step < len(o.start):
        return "start"
    if o.acrostic and int(walker.col[0]) == 0:
        return "acrostic"
    return "form"
