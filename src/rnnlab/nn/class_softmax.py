"""Class-based softmax (Goodman 2001; Mikolov et al. 2011; reference 002 §2.2).

Characters are binned into classes by frequency, and
    p(w | h) = p(class(w) | h) · p(w | class(w), h)
so training touches the class softmax (C outputs) and one class's characters instead of all V.
Frequency binning: characters sorted by count, the k-th class holds the ones whose cumulative share
of all counts falls in [k/C, (k+1)/C), so frequent characters get small classes.
"""
import torch
import torch.nn.functional as F
from torch import nn


def frequency_classes(counts, n_classes):
    """counts (V,) -> class index of every token (V,), long; zero-count tokens go to the last class."""
    counts = torch.as_tensor(counts, dtype=torch.float64)
    order = torch.argsort(counts, descending=True, stable=True)
    share = counts[order].cumsum(0) / counts.sum()
    classes = torch.empty(len(counts), dtype=torch.long)
    classes[order] = ((share - counts[order] / counts.sum()) * n_classes).long().clamp(max=n_classes - 1)
    return classes


class ClassSoftmax(nn.Module):
    def __init__(self, hidden_size, token_class):
        super().__init__()
        self.register_buffer("token_class", torch.as_tensor(token_class, dtype=torch.long))
        n_classes = int(self.token_class.max()) + 1
        self.class_head = nn.Linear(hidden_size, n_classes)
        self.token_head = nn.Linear(hidden_size, len(self.token_class))
        # position of every token inside its class, and each class's members
        self.members = [torch.nonzero(self.token_class == c)[:, 0] for c in range(n_classes)]
        rank = torch.empty_like(self.token_class)
        for m in self.members:
            rank[m] = torch.arange(len(m))
        self.register_buffer("rank_in_class", rank)

    def log_prob(self, h, targets):
        """log p(targets | h) exactly, touching only the targets' classes. h (N, H), targets (N,) -> (N,)."""
        target_class = self.token_class[targets]
        out = F.log_softmax(self.class_head(h), dim=-1).gather(1, target_class[:, None])[:, 0]
        within = torch.zeros_like(out)
        for c in target_class.unique().tolist():
            rows = torch.nonzero(target_class == c)[:, 0]
            members = self.members[c].to(h.device)
            logits = F.linear(h[rows], self.token_head.weight[members], self.token_head.bias[members])
            within = within.index_put((rows,), F.log_softmax(logits, -1).gather(
                1, self.rank_in_class[targets[rows]][:, None])[:, 0])
        return out + within

    def full_log_prob(self, h):
        """log p(w | h) for every token w: (N, H) -> (N, V); sums to one over w (for evaluation, sampling)."""
        class_logp = F.log_softmax(self.class_head(h), dim=-1)
        logits = self.token_head(h)
        index = self.token_class.expand_as(logits)
        top = torch.full_like(class_logp, float("-inf")).scatter_reduce(1, index, logits.detach(), "amax")
        norm = torch.zeros_like(class_logp).scatter_add(1, index, (logits - top.gather(1, index)).exp()).log() + top
        return class_logp.gather(1, index) + logits - norm.gather(1, index)

    def sample(self, h, generator=None):
        """Draw a class from p(c | h), then a token from p(w | c, h): (N, H) -> (N,)."""
        cls = torch.multinomial(F.softmax(self.class_head(h), -1), 1, generator=generator)[:, 0]
        tokens = torch.empty_like(cls)
        for c in cls.unique().tolist():
            rows = torch.nonzero(cls == c)[:, 0]
            members = self.members[c].to(h.device)
            logits = F.linear(h[rows], self.token_head.weight[members], self.token_head.bias[members])
            tokens[rows] = members[torch.multinomial(F.softmax(logits, -1), 1, generator=generator)[:, 0]]
        return tokens
