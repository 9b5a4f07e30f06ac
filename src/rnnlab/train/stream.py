"""Training on a token stream, AWD-LSTM style: columns of the stream, variable-length BPTT windows,
the hidden state carried across windows (detached), AR/TAR, gradient clipping, and each step's
learning rate scaled by window length / bptt and restored after the step. `skip` is the token whose
targets are left out of the loss (<bos>, see rnnlab.data.stream)."""
import math

import torch

from rnnlab.data.stream import batchify, bptt_windows
from rnnlab.nn.awd import detach_state
from rnnlab.nn.regularize import activation_regularization, temporal_activation_regularization
from rnnlab.numpy.lm import exp_or_inf


def stream_columns(split, batch_size, device="cpu"):
    """A Split's token stream as (batch_size, N) int64 columns."""
    return torch.from_numpy(batchify(split.tokens, batch_size)).long().to(device)


def train_step(model, optimizer, inputs, targets, state, skip, lr_scale=1.0, alpha=2.0, beta=1.0, clip=0.25):
    """One window: returns (summed cross entropy, target count, gradient norm before clipping, detached state).
    A window whose loss or gradient is not finite changes no weight."""
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * lr_scale
    dropped, state, raw = model.features(inputs, state)
    loss_sum, n = model.loss(dropped, targets, skip)
    total = loss_sum / max(n, 1) + activation_regularization(dropped, alpha) + temporal_activation_regularization(raw, beta)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip else math.inf).item()
    if math.isfinite(total.item()) and math.isfinite(norm):
        optimizer.step()
    for group, lr in zip(optimizer.param_groups, saved):
        group["lr"] = lr
    return loss_sum.item(), n, norm, detach_state(state)


@torch.no_grad()
def stream_perplexity(model, data, skip, bptt=70):
    """exp(mean cross entropy) over the whole stream (B, N), fixed windows, state carried over."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for start, seq_len, _ in bptt_windows(data.shape[1], bptt):
        h, state, _ = model.features(data[:, start:start + seq_len], state)
        loss, n = model.loss(h, data[:, start + 1:start + 1 + seq_len], skip)
        total, count = total + loss.item(), count + n
    model.train(was_training)
    return exp_or_inf(total / count) if count else float("nan")
