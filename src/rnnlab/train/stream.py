"""Training on a token stream, AWD-LSTM style: columns of the stream, variable-length BPTT windows,
the hidden state carried across windows (detached), AR/TAR, gradient clipping, and each step's
learning rate scaled by window length / bptt and restored after the step."""
import math

import torch

from rnnlab.data.stream import bptt_windows
from rnnlab.nn.awd import detach_state, stream_loss
from rnnlab.nn.regularize import activation_regularization, temporal_activation_regularization


def train_step(model, optimizer, inputs, targets, state, lr_scale=1.0, alpha=2.0, beta=1.0, clip=0.25):
    """One window: returns (cross entropy, detached state)."""
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * lr_scale
    logits, state, (raw, dropped) = model(inputs, state)
    loss = stream_loss(logits, targets)
    total = loss + activation_regularization(dropped, alpha) + temporal_activation_regularization(raw, beta)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    for group, lr in zip(optimizer.param_groups, saved):
        group["lr"] = lr
    return loss.item(), detach_state(state)


def train_epoch(model, optimizer, data, bptt, rng, state=None, **step_options):
    """One pass over `data` (B, N) in variable-length windows; returns (mean cross entropy, state)."""
    model.train()
    total, count = 0.0, 0
    for start, seq_len, scale in bptt_windows(data.shape[1], bptt, rng):
        loss, state = train_step(model, optimizer, data[:, start:start + seq_len], data[:, start + 1:start + 1 + seq_len],
                                 state, scale, **step_options)
        total, count = total + loss * seq_len, count + seq_len
    return total / max(count, 1), state


@torch.no_grad()
def stream_perplexity(model, data, bptt=70):
    """exp(mean cross entropy) over the whole stream (B, N), fixed windows, state carried over."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for start, seq_len, _ in bptt_windows(data.shape[1], bptt):
        logits, state, _ = model(data[:, start:start + seq_len], state)
        total += stream_loss(logits, data[:, start + 1:start + 1 + seq_len]).item() * seq_len
        count += seq_len
    model.train(was_training)
    return math.exp(total / max(count, 1))
