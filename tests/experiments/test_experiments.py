import csv

import pytest
import torch

from rnnlab.cli import main
from rnnlab.training.clipping import clip_gradients


def grads(seed=0):
    g = torch.Generator().manual_seed(seed)
    params = [torch.zeros(3, 4, dtype=torch.float64, requires_grad=True), torch.zeros(5, dtype=torch.float64, requires_grad=True)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64) * 10
    return params


@pytest.mark.parametrize("kwargs, reference", [
    ({"norm": 2.0}, lambda ps: torch.nn.utils.clip_grad_norm_(ps, 2.0)),
    ({"norm": 2.0, "per_tensor": True}, lambda ps: [torch.nn.utils.clip_grad_norm_([p], 2.0) for p in ps]),
    ({"value": 0.5}, lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5)),
])
def test_clipping_matches_torch_nn_utils(kwargs, reference):
    ours, theirs = grads(), grads()
    before = torch.sqrt(sum((p.grad ** 2).sum() for p in ours)).item()
    assert clip_gradients(ours, **kwargs) == pytest.approx(before, rel=1e-12)
    reference(theirs)
    for p, q in zip(ours, theirs):
        assert torch.equal(p.grad, q.grad)
    if kwargs.get("per_tensor"):
        assert all(p.grad.norm() <= 2.0 + 1e-9 for p in ours)


def test_explosion_quick_writes_its_files(tmp_path, capsys):
    assert main(["experiment", "explosion", "--out", str(tmp_path), "--quick"]) == 0
    assert {"grad_norms.csv", "explosion.png", "clipped.png", "summary.md"} <= {p.name for p in tmp_path.iterdir()}
    rows = list(csv.DictReader(open(tmp_path / "grad_norms.csv")))
    assert {r["run"] for r in rows} == {"no clipping", "clip norm 5.0 (per tensor)", "clip value 0.5"}
    assert len(rows) == 3 * 5 * 5                                              # 3 runs x 5 epochs x 5 batches
    # same start, same batch: the first step's gradients agree; clipping then changes where the runs go
    by_run = {name: [r for r in rows if r["run"] == name] for name in {r["run"] for r in rows}}
    first = {name: tuple(rs[0][p] for p in ("loss", "W", "U", "b")) for name, rs in by_run.items()}
    assert len(set(first.values())) == 1
    assert len({tuple(rs[-1][p] for p in ("W", "U", "b")) for rs in by_run.values()}) == 3
    assert "| no clipping |" in capsys.readouterr().out


def test_memory_quick_writes_its_files(tmp_path, capsys):
    assert main(["experiment", "memory", "--out", str(tmp_path), "--quick"]) == 0
    assert {"accuracy.csv", "accuracy.png", "summary.md"} <= {p.name for p in tmp_path.iterdir()}
    rows = list(csv.DictReader(open(tmp_path / "accuracy.csv")))
    assert [r["model"] for r in rows] == ["simple RNN", "LSTM", "bidirectional RNN", "bidirectional LSTM"]
    # accuracy on the 100 test sums: a whole number of them were right
    assert all(float(r["L=10"]) * 100 == pytest.approx(round(float(r["L=10"]) * 100)) for r in rows)


def test_vanishing_quick_writes_its_files(tmp_path, capsys):
    assert main(["experiment", "vanishing", "--out", str(tmp_path), "--quick"]) == 0
    assert {"vanishing.png", "summary.md"} <= {p.name for p in tmp_path.iterdir()}
    assert "| simple RNN, untrained |" in (tmp_path / "summary.md").read_text()


def test_hidden_gradients_are_the_total_derivative():
    """|dL/dh_t| from the probe equals the gradient obtained by perturbing h_t directly (finite differences)."""
    import torch.nn.functional as F

    from rnnlab.experiments.vanishing import hidden_gradient_norms
    from rnnlab.nn.classify import DigitSumClassifier

    torch.manual_seed(0)
    model = DigitSumClassifier("rnn", embed_size=4, hidden_size=5).double()
    digits, labels = torch.randint(0, 10, (1, 6)), torch.tensor([3])
    norms = hidden_gradient_norms(model, digits, labels)
    layer, x = model.forward_rnn, model.embedding(digits).detach()
    x_proj = layer.input_projection(x).detach()

    def loss_with(t, delta):
        h = torch.zeros(1, 5, dtype=torch.float64)
        for s in range(6):
            h = layer.step(x_proj[:, s], h) + (delta if s == t else 0)
        return F.cross_entropy(model.classifier(h), labels).item()
    eps = 1e-6
    for t in (0, 3, 5):
        grad = torch.tensor([(loss_with(t, eps * e) - loss_with(t, -eps * e)) / (2 * eps) for e in torch.eye(5, dtype=torch.float64)])
        assert abs(grad.norm().item() - norms[t]) <= 1e-6 * norms[t] + 1e-12
