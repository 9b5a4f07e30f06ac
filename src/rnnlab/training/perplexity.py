"""The one evaluation loop of the torch models: summed cross entropy and target count over a sequence
of (inputs, targets) windows, and perplexity = exp(sum / count) (000 §2.3).

Poems come as padded batches, independent of each other; the AWD-LSTM's stream comes as BPTT windows
with the recurrent state carried from one to the next. Both language models implement
summed_loss(inputs, targets, ignore_index, state) -> (loss sum, count, state), so the loop is the same.
Under torchrun each process takes every N-th padded batch and the sums are added up.
"""
import torch

from rnnlab.data.batches import eval_batches, padded_batch
from rnnlab.data.stream import bptt_windows, stream_columns
from rnnlab.maths import exp_or_inf
from rnnlab.training.distributed import Single


@torch.no_grad()
def summed_loss(model, windows, ignore_index, carry=False, dist=Single()):
    """(Σ cross entropy, number of targets that are not ignore_index) over `windows`, in eval mode."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for inputs, targets in windows:
        loss, n, state = model.summed_loss(inputs, targets, ignore_index, state if carry else None)
        total, count = total + loss.item(), count + n
    model.train(was_training)
    total, count = dist.all_sum([total, count])
    return total, int(count)


def perplexity(model, windows, ignore_index, carry=False, dist=Single()):
    total, count = summed_loss(model, windows, ignore_index, carry, dist)
    return exp_or_inf(total / count) if count else float("nan")


def poem_windows(split, pad, device, batch_size=256, dist=Single()):
    """A split's poems as padded (inputs, targets) batches in order of length (this process's share)."""
    for idx in eval_batches(split, batch_size)[dist.rank::dist.world]:
        yield tuple(torch.from_numpy(a).to(device) for a in padded_batch(split, idx, pad))


def stream_windows(columns, bptt):
    """Fixed BPTT windows over (B, N) stream columns, left to right."""
    for start, seq_len, _ in bptt_windows(columns.shape[1], bptt):
        yield columns[:, start:start + seq_len], columns[:, start + 1:start + 1 + seq_len]


def poem_perplexity(model, split, pad, dist=Single()):
    """Perplexity of a torch language model on a split of padded poems, padding excluded."""
    device = next(model.parameters()).device
    return perplexity(model, poem_windows(split, pad, device, dist=dist), pad, dist=dist)


def stream_perplexity(model, split, skip, bptt, columns=10):
    """Perplexity of an AWD-LSTM on a split's token stream, cut into `columns` columns and walked in fixed
    BPTT windows with the state carried over; targets equal to `skip` (<bos>) are left out."""
    device = next(model.parameters()).device
    return perplexity(model, stream_windows(torch.from_numpy(stream_columns(split, columns)).to(device), bptt), skip, carry=True)


