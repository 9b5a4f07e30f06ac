"""Sampling poems from a trained model, many at once: one forward step per character for the batch."""
import torch

from rnnlab.errors import RnnlabError


@torch.no_grad()
def generate(model, vocab, start="", num=1, temperature=0.8, top_k=None, max_len=64, seed=None):
    """Return `num` texts that begin with `start` and end at <eos> or after `max_len` characters.

    Each next character is drawn from softmax(logits / temperature), optionally from the `top_k`
    most likely only. Special tokens other than <eos> are never drawn.
    """
    if not temperature > 0:
        raise RnnlabError(f"temperature must be > 0 (got {temperature})")
    if num < 1:
        raise RnnlabError(f"num must be at least 1 (got {num})")
    if top_k is not None and top_k < 1:
        raise RnnlabError(f"top-k must be at least 1 (got {top_k})")
    unknown = sorted({ch for ch in start if ch not in vocab})
    if unknown:
        raise RnnlabError(f"start text has characters outside the model's vocabulary: {''.join(unknown)}")
    if len(start) >= max_len:
        raise RnnlabError(f"max-len ({max_len}) must exceed the length of the start text ({len(start)})")

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device)
    gen.manual_seed(seed if seed is not None else torch.seed())
    banned = torch.tensor([vocab.pad, vocab.unk, vocab.bos], device=device)

    prefix = torch.tensor([vocab.bos] + vocab.encode(start), device=device).repeat(num, 1)
    logits, state = model(prefix)
    logits = logits[:, -1]
    out = torch.empty(num, 0, dtype=torch.long, device=device)
    finished = torch.zeros(num, dtype=torch.bool, device=device)
    for _ in range(max_len - len(start)):
        logits = logits.float() / temperature
        logits[:, banned] = float("-inf")
        if top_k is not None and top_k < logits.shape[1]:
            kth = torch.topk(logits, top_k, dim=1).values[:, -1:]
            logits[logits < kth] = float("-inf")
        token = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=gen)
        token[finished] = vocab.eos
        out = torch.cat([out, token], dim=1)
        finished |= token[:, 0] == vocab.eos
        if finished.all():
            break
        logits, state = model(token, state)
        logits = logits[:, -1]
    model.train(was_training)
    return [start + vocab.decode(_until_eos(row, vocab.eos)) for row in out.tolist()]


def _until_eos(ids, eos):
    return ids[:ids.index(eos)] if eos in ids else ids
