"""Writing poems with a trained model: many at once, one forward step per character for the batch.

At each step the model's logits go through, in order: the repetition penalty (characters already in
the poem), the temperature, the constraints (only allowed tokens stay; soft ones are reweighted; the
distribution is renormalised over what is allowed), top-k and top-p filtering; then the next token
is the most likely one (greedy) or drawn from what is left (sample). Beam search keeps the
`beam_size` best partial poems by log-probability, compared by mean log-probability per token.
"""
from contextlib import nullcontext

import torch

from rnnlab.errors import RnnlabError
from rnnlab.generate.constraints import make_constraints
from rnnlab.generate.options import GenerationOptions


@torch.no_grad()
def generate(model, vocab, start="", **options):
    """Return `num` poems; the options are the fields of GenerationOptions (options.py), e.g. form, acrostic,
    strategy, temperature, top_k, rhyme, tones, seed. `start` opens every poem; `prefix` is read first to
    set the mood, not printed."""
    o = GenerationOptions(start=start, **options).check()
    unknown = sorted({ch for ch in o.prefix if ch not in vocab})
    if unknown:
        raise RnnlabError(f"prefix has characters outside the model's vocabulary: {''.join(unknown)}", "prefix")
    device = next(model.parameters()).device
    rows = o.beam_size if o.strategy == "beam" else o.num
    constraints = make_constraints(vocab, rows, o, device)
    was_training = model.training
    model.eval()
    try:
        with getattr(model, "output_vectors_fixed", nullcontext)():      # tied output vectors: once, not per step
            gen = torch.Generator(device=device)
            gen.manual_seed(o.seed if o.seed is not None else torch.seed())
            logits, state = model(torch.tensor([opening_ids(vocab, o, None if o.form == "free" else o.form)],
                                               device=device).repeat(rows, 1))
            logits = logits[:, -1]
            if vocab.form_ids and o.form == "free":
                logits, state = model(choose_form(vocab, logits, o, gen)[:, None], state)
                logits = logits[:, -1]
            if o.strategy == "beam":
                return _beam_search(model, vocab, constraints, logits, state, o.num, o.length_penalty)
            return _decode(model, vocab, constraints, logits, state, o.strategy, o.temperature, o.top_k, o.top_p,
                           o.repetition_penalty, gen)
    finally:
        model.train(was_training)


def opening_ids(vocab, o, form):
    """The ids read before a poem's first character: the prefix's poem, if any, and <bos>; with form tokens
    (--form-token), then the token of `form` (None: the model chooses it, choose_form)."""
    from rnnlab.generate.forms import form_of

    ids = (vocab.poem(o.prefix, form_of(o.prefix)) if o.prefix else []) + [vocab.bos]
    return ids + ([vocab.form_ids[form]] if vocab.form_ids and form is not None else [])


def choose_form(vocab, logits, o, gen):
    """A form token for each row in free mode: drawn from the model's own distribution over the form tokens
    (at the temperature) when sampling, its most likely one for greedy and beam search (whose rows must
    start alike)."""
    ids = torch.tensor(list(vocab.form_ids.values()), device=logits.device)
    scores = logits.float()[:, ids]
    if o.strategy != "sample":
        return ids[scores.argmax(-1)]
    return ids[sample_categorical(torch.softmax(scores / o.temperature, dim=-1), gen)]


def constrained_scores(logits, allowed, bonus):
    """Log-probabilities renormalised over the allowed tokens, with the soft constraints' bonus."""
    z = logits.float().masked_fill(~allowed, float("-inf"))
    if bonus is not None:
        z = z + bonus
    return torch.log_softmax(z, dim=-1)


def penalize_repeats(logits, counts, penalty):
    """CTRL's repetition penalty (Keskar et al. 2019): a seen token's logit is divided by the penalty
    if positive, multiplied if negative."""
    if penalty == 1:
        return logits
    seen = counts > 0
    return torch.where(seen & (logits > 0), logits / penalty, torch.where(seen, logits * penalty, logits))


def filter_top_k_top_p(scores, top_k, top_p):
    """Keep the top_k highest scores and the smallest set whose probability reaches top_p."""
    if top_k is not None and top_k < scores.shape[-1]:
        kth = torch.topk(scores, top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        probs, order = torch.softmax(scores, dim=-1).sort(dim=-1, descending=True)
        drop_sorted = probs.cumsum(dim=-1) - probs >= top_p          # the mass before it already reaches top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, float("-inf"))
    return scores


def sample_categorical(probs, gen):
    """One draw per row by inverting the cumulative distribution with a single uniform number
    (much cheaper than torch.multinomial on a large vocabulary)."""
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(probs.shape[0], 1, generator=gen, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True)[:, 0].clamp(max=probs.shape[1] - 1)


def _decode(model, vocab, constraints, logits, state, strategy, temperature, top_k, top_p, penalty, gen):
    rows = constraints.rows
    alive = torch.arange(rows, device=logits.device)        # which poems the batch rows are; finished ones leave
    counts = torch.zeros(rows, len(vocab), device=logits.device)
    out = [[] for _ in range(rows)]
    for step in range(constraints.length + 1):
        allowed, bonus = constraints.at(step)
        scores = constrained_scores(penalize_repeats(logits.float(), counts, penalty) / temperature, allowed, bonus)
        if not torch.isfinite(scores).any(dim=-1).all():
            raise RnnlabError(f"no character satisfies the constraints at position {step + 1}")
        if strategy == "greedy":
            token = scores.argmax(dim=-1)
        else:
            token = sample_categorical(torch.softmax(filter_top_k_top_p(scores, top_k, top_p), dim=-1), gen)
        for row, t in zip(alive.tolist(), token.tolist()):
            out[row].append(t)
        going = token != vocab.eos
        if not going.any():
            break
        constraints.advance(token)
        counts[torch.arange(len(token)), token] += 1
        if not going.all():
            keep = going.nonzero()[:, 0]
            alive, token, counts = alive[keep], token[keep], counts[keep]
            state = select_rows(state, keep)
            constraints.reorder(keep)
        logits, state = model(token[:, None], state)
        logits = logits[:, -1]
    return [vocab.decode(constraints.finish(_until_eos(row, vocab.eos))) for row in out]


def _beam_search(model, vocab, constraints, logits, state, num, length_penalty):
    """Breadth-first over the constrained tree; a finished poem's score is sum log p / (tokens)^length_penalty."""
    device, beam_size = logits.device, constraints.rows
    scores = torch.full((beam_size,), float("-inf"), device=device)
    scores[0] = 0.0                                    # all rows start identical: expand one
    seqs = [[] for _ in range(constraints.rows)]
    done = []
    for step in range(constraints.length + 1):
        allowed, bonus = constraints.at(step)
        total = scores[:, None] + constrained_scores(logits, allowed, bonus)
        best, index = total.view(-1).topk(min(2 * beam_size, total.numel()))
        keep_rows, keep_tokens, keep_scores = [], [], []
        for score, idx in zip(best.tolist(), index.tolist()):
            if score == float("-inf") or len(keep_rows) == beam_size:
                break
            row, token = divmod(idx, total.shape[1])
            if token == vocab.eos:
                done.append((score / (len(seqs[row]) + 1) ** length_penalty, seqs[row]))
            else:
                keep_rows.append(row)
                keep_tokens.append(token)
                keep_scores.append(score)
        if not keep_rows:
            if not done:
                raise RnnlabError(f"no character satisfies the constraints at position {step + 1}")
            break
        index = torch.tensor(keep_rows, device=device)
        tokens = torch.tensor(keep_tokens, device=device)
        seqs = [seqs[r] + [t] for r, t in zip(keep_rows, keep_tokens)]
        scores = torch.tensor(keep_scores, device=device)
        constraints.reorder(index)
        constraints.advance(tokens)
        logits, state = model(tokens[:, None], select_rows(state, index))
        logits = logits[:, -1]
    done.sort(key=lambda item: -item[0])
    return [vocab.decode(constraints.finish(seq)) for _, seq in done[:num]]


def select_rows(state, index):
    """The batch rows `index` of a recurrent state: (h, c) of (layers, B, H) tensors, or a list of
    such pairs (one per AWD-LSTM layer)."""
    if isinstance(state, torch.Tensor):
        return state[:, index]
    return type(state)(select_rows(s, index) for s in state)


def _until_eos(ids, eos):
    return ids[:ids.index(eos)] if eos in ids else ids
