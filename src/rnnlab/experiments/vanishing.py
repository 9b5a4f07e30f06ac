"""Vanishing gradients (001_*.txt): how much the loss at the last step reaches back to step t, as the
norm of dL/dh_t for every t, for an untrained and a trained simple RNN and LSTM on the digit-sum task;
and, for the simple RNN, the eigenvalues of its recurrent matrix U, whose size bounds the per-step
factor dh_t/dh_{t-1} = diag(1 - h_t²) U^T."""
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.data.digits import generate
from rnnlab.experiments.plots import plt
from rnnlab.experiments.runner import RunConfig, train_classifier
from rnnlab.nn.classify import DigitSumClassifier

LENGTH = 20


def hidden_gradient_norms(model, digits, labels):
    """Mean over the batch of |dL/dh_t| for t = 1..T (L: mean cross entropy of the final prediction)."""
    x = model.embedding(digits)
    layer = model.forward_rnn
    lstm = getattr(layer, "lstm", None)
    x_proj = lstm.input_projection(x) if lstm is not None else layer.input_projection(x)
    h = x.new_zeros(x.shape[0], model.classifier.in_features)
    c = torch.zeros_like(h)
    states = []
    for t in range(x.shape[1]):
        h, c = lstm.step(x_proj[:, t], h, c) if lstm is not None else (layer.step(x_proj[:, t], h), c)
        h.retain_grad()                   # h_t feeds both h_{t+1} and (at the end) the loss: its .grad is the total
        states.append(h)
    F.cross_entropy(model.classifier(h), labels).backward()
    return [s.grad.norm(dim=1).mean().item() for s in states]


def run(out, quick=False, seed=0):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate(LENGTH, seed)
    test_x, test_y = (torch.from_numpy(a) for a in data["test"])
    epochs = 2 if quick else 100
    curves, eigenvalues, accuracy = {}, {}, {}
    for kind, name in (("rnn", "simple RNN"), ("lstm", "LSTM")):
        torch.manual_seed(seed)
        untrained = DigitSumClassifier(kind)
        trained = train_classifier(RunConfig(kind=kind, epochs=epochs, seed=seed), data)
        accuracy[f"{name}, trained"] = trained.test_accuracy
        for state, model in (("untrained", untrained), ("trained", trained.model)):
            curves[f"{name}, {state}"] = hidden_gradient_norms(model, test_x, test_y)
            if kind == "rnn":
                eigenvalues[state] = np.linalg.eigvals(model.forward_rnn.U.detach().numpy())

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    steps = list(range(1, LENGTH + 1))
    for label, norms in curves.items():
        ax1.plot(steps, norms, marker="o", markersize=3, label=label)
    ax1.set_yscale("log")
    ax1.set(title=f"|dL/dh_t| on the test set, L = {LENGTH}", xlabel="time step t", ylabel="mean gradient norm")
    ax1.grid(alpha=0.3)
    ax1.legend()
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    ax2.plot(circle.real, circle.imag, "k--", linewidth=0.8, label="|λ| = 1")
    for state, ev in eigenvalues.items():
        ax2.scatter(ev.real, ev.imag, s=14, label=f"{state}: spectral radius {np.abs(ev).max():.2f}")
    ax2.set(title="Eigenvalues of the simple RNN's U", xlabel="Re λ", ylabel="Im λ", aspect="equal")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    fig.tight_layout()
    fig.savefig(out / "vanishing.png", dpi=100)
    plt.close(fig)

    lines = ["# Vanishing gradients", "",
             f"Digit-sum task, L = {LENGTH}; trained models: Adam lr 1e-3, hidden 32, batch 8, {epochs} epochs, seed {seed}.",
             "|dL/dh_t| is the mean over the test set; the ratio first/last says how much of the end loss reaches step 1.", "",
             "| model | test accuracy | t=1 | t=10 | t=20 | t=1 / t=20 |", "|---|---:|---:|---:|---:|---:|"]
    for label, norms in curves.items():
        acc = f"{accuracy[label]:.3f}" if label in accuracy else "–"
        lines.append(f"| {label} | {acc} | {norms[0]:.3g} | {norms[9]:.3g} | {norms[-1]:.3g} | {norms[0] / norms[-1]:.3g} |")
    lines += ["", "Spectral radius of U (simple RNN): " +
              ", ".join(f"{state} {np.abs(ev).max():.3f}" for state, ev in eigenvalues.items())]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return curves
