"""Class-based softmax: a proper distribution, exact log-likelihood, gradients, sampling class then token."""
import torch

from rnnlab.nn.class_softmax import ClassSoftmax, frequency_classes


def layer(seed=0, V=23, H=5, C=4):
    torch.manual_seed(seed)
    counts = torch.randint(1, 100, (V,))
    return ClassSoftmax(H, frequency_classes(counts, C)).double(), counts


def test_frequency_binning_gives_frequent_tokens_small_classes():
    counts = torch.tensor([1000, 500, 300, 100, 50, 20, 10, 10, 5, 5])
    classes = frequency_classes(counts, 3)
    assert classes.tolist() == sorted(classes.tolist())          # sorted by frequency already: classes ascend
    assert classes[0] == 0 and classes[-1] == 2
    sizes = torch.bincount(classes)
    assert sizes[0] < sizes[-1]


def test_full_distribution_sums_to_one_and_matches_the_exact_log_likelihood():
    m, _ = layer()
    h = torch.randn(7, 5, dtype=torch.float64)
    full = m.full_log_prob(h)
    assert torch.allclose(full.exp().sum(-1), torch.ones(7, dtype=torch.float64), atol=1e-12)
    targets = torch.randint(0, 23, (7,))
    assert torch.allclose(m.log_prob(h, targets), full.gather(1, targets[:, None])[:, 0], atol=1e-12)


def test_log_likelihood_is_the_product_of_class_and_within_class_probabilities():
    m, _ = layer(1)
    h = torch.randn(3, 5, dtype=torch.float64)
    targets = torch.tensor([0, 10, 22])
    for i, w in enumerate(targets.tolist()):
        c = int(m.token_class[w])
        p_class = torch.softmax(m.class_head(h[i]), -1)[c]
        members = torch.nonzero(m.token_class == c)[:, 0]
        p_within = torch.softmax(m.token_head(h[i])[members], -1)[(members == w).nonzero()[0, 0]]
        assert torch.allclose(m.log_prob(h[i:i + 1], targets[i:i + 1])[0], (p_class * p_within).log(), atol=1e-12)


def test_gradients_pass_gradcheck():
    m, _ = layer(2, V=9, H=3, C=3)
    targets = torch.tensor([1, 4, 8, 4])
    h = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: m.log_prob(x, targets), (h,))


def test_sampling_follows_the_distribution():
    m, _ = layer(3, V=6, H=2, C=2)
    h = torch.randn(1, 2, dtype=torch.float64).expand(20000, 2)
    gen = torch.Generator().manual_seed(0)
    freq = torch.bincount(m.sample(h, gen), minlength=6).double() / 20000
    assert torch.allclose(freq, m.full_log_prob(h[:1]).exp()[0], atol=0.015)
