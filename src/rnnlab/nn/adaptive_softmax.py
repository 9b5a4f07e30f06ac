"""The adaptive softmax with its output vectors tied to the input embedding (plain LSTM, --tied).

Grave et al. 2017 split the frequency-sorted vocabulary at `cutoffs` into a head and clusters; the head
scores its characters and one entry per cluster, and a cluster's characters are scored only for the
targets that fall in it. Here every character's output vector is its own embedding row E_w (Press & Wolf
2017, Inan et al. 2017), so a character learns one vector from what precedes it and what follows it:

    head (w < c_1):            s_w = h . E_w + b_w,        and s_k = h . U_k + d_k for each cluster k
    cluster k (c_k <= w < c_k+1): s_w = (P_k h) . E_w + b_w
    log p(w | h) = log softmax(head)_w                               for a head character
                 = log softmax(head)_k + log softmax(cluster k)_w    for a character of cluster k

P_k (hidden x hidden, starting as the identity) lets a cluster read the state its own way. torch's
AdaptiveLogSoftmaxWithLoss gives its clusters smaller projections instead, and vectors of their own.
The embedding is not held here: the model passes it (`weight`) to every call, so it is stored once.
Under the model's bf16 autocast (--precision bf16) the products run in bf16 and each log-softmax in h's own
dtype, float32 in training. There the rows of each product are padded with zeros to a multiple of
`row_multiple`: on a CPU oneDNN compiles a kernel for each new shape of a bf16 product (and keeps it), and
the targets of a batch, and of each cluster, are a different number at every step.
"""
import torch
import torch.nn.functional as F
from torch import nn


def rows_rounded_up(x, multiple):
    """x (N, ...) with rows of zeros after it up to a multiple of `multiple` rows (x itself when N is one already:
    F.pad would copy it even with nothing to add, at every float32 step and validation)."""
    extra = -len(x) % multiple
    return F.pad(x, (0, 0) * (x.dim() - 1) + (0, extra)) if extra else x


class TiedAdaptiveSoftmax(nn.Module):
    def __init__(self, hidden_size, vocab_size, cutoffs):
        super().__init__()
        self.in_features = hidden_size
        self.bounds = [0, *cutoffs, vocab_size]             # cluster k holds the ids bounds[k] .. bounds[k + 1] - 1
        self.cluster_scores = nn.Linear(hidden_size, len(cutoffs))                  # U, d
        self.projections = nn.ModuleList(nn.Linear(hidden_size, hidden_size, bias=False) for _ in cutoffs)  # P_k
        self.bias = nn.Parameter(torch.zeros(vocab_size))                           # b

    def head(self, h, weight):
        """log softmax over the head's characters, then one entry per cluster: (N, c_1 + clusters)."""
        c1 = self.bounds[1]
        scores = torch.cat([F.linear(h, weight[:c1], self.bias[:c1]), self.cluster_scores(h)], -1)
        return torch.log_softmax(scores.to(h.dtype), -1)                # float32 even when the products were not

    def within(self, k, h, weight):
        """log softmax over cluster k's characters (k = 1, 2, ...): (N, its size)."""
        lo, hi = self.bounds[k], self.bounds[k + 1]
        return torch.log_softmax(F.linear(self.projections[k - 1](h), weight[lo:hi], self.bias[lo:hi]).to(h.dtype), -1)

    def log_prob(self, h, weight):
        """(N, H) -> (N, V): log p of every character (generation, the look-inside view)."""
        head, c1 = self.head(h, weight), self.bounds[1]
        clusters = [head[:, c1 + k - 1:c1 + k] + self.within(k, h, weight) for k in range(1, len(self.bounds) - 1)]
        return torch.cat([head[:, :c1], *clusters], -1)

    def target_log_prob(self, h, targets, weight, row_multiple=1):
        """(N, H), (N,) -> (N,): log p of each target; a cluster is computed only for the targets in it (its
        products on row_multiple-rounded rows; the rows added score target 0 and are left out)."""
        n = len(h)
        h, targets = rows_rounded_up(h, row_multiple), rows_rounded_up(targets, row_multiple)
        head, c1 = self.head(h, weight), self.bounds[1]
        cluster = torch.bucketize(targets, torch.tensor(self.bounds[1:-1], device=targets.device), right=True)
        picked = head.gather(1, torch.where(cluster == 0, targets, c1 + cluster - 1)[:, None]).squeeze(1)
        for k in range(1, len(self.bounds) - 1):
            rows = (cluster == k).nonzero().squeeze(1)
            if len(rows):
                scores = self.within(k, rows_rounded_up(h.index_select(0, rows), row_multiple), weight)[:len(rows)]
                picked = picked.index_add(0, rows, scores.gather(1, (targets[rows] - self.bounds[k])[:, None]).squeeze(1))
        return picked[:n]
