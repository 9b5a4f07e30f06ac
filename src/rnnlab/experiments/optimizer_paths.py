"""Optimizers racing on two 2-D test functions (004): a long curved valley (Rosenbrock) and a saddle.

Each optimizer of rnnlab.optim moves one point (x, y) from the same start for the same number of steps;
the plots draw the function's contours and one trajectory per optimizer."""
import csv
from pathlib import Path

import numpy as np
import torch
from matplotlib.animation import FuncAnimation, PillowWriter

from rnnlab import optim
from rnnlab.experiments.plots import plt


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def saddle(x, y):
    return x ** 2 - y ** 2


# label -> (rnnlab.optim class, its settings besides the learning rate)
OPTIMIZERS = {
    "SGD": ("SGD", {}),
    "momentum": ("SGD", dict(momentum=0.9)),
    "Nesterov": ("SGD", dict(momentum=0.9, nesterov=True)),
    "Adagrad": ("Adagrad", {}),
    "Adadelta": ("Adadelta", {}),
    "RMSprop": ("RMSprop", {}),
    "Adam": ("Adam", {}),
    "AdaMax": ("Adamax", {}),
    "Rprop": ("Rprop", {}),
    "AdaptiveGains": ("AdaptiveGains", dict(momentum=0.9)),
}
# name -> (function, start, minimum or None, plot window (x0, x1, y0, y1), steps, learning rate per optimizer)
PROBLEMS = {
    "rosenbrock": (rosenbrock, (-1.2, 1.0), (1.0, 1.0), (-2.0, 2.0, -1.0, 3.0), 1000,
                   dict(SGD=1e-3, momentum=2e-4, Nesterov=2e-4, Adagrad=0.5, Adadelta=1.0, RMSprop=1e-2, Adam=5e-2,
                        AdaMax=5e-2, Rprop=1e-2, AdaptiveGains=1e-4)),
    "saddle": (saddle, (-1.0, 1e-3), None, (-1.5, 1.5, -1.5, 1.5), 200,
               dict(SGD=1e-2, momentum=1e-2, Nesterov=1e-2, Adagrad=0.1, Adadelta=1.0, RMSprop=1e-2, Adam=1e-2,
                    AdaMax=1e-2, Rprop=1e-2, AdaptiveGains=1e-2)),
}


def trajectory(fn, start, steps, cls, kwargs, window):
    """Positions after each step (float64), stopping early if the point leaves the plot window by far."""
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = getattr(optim, cls)([point], **kwargs)
    path = [tuple(start)]
    x0, x1, y0, y1 = window
    for _ in range(steps):
        opt.zero_grad()
        fn(point[0], point[1]).backward()
        opt.step()
        x, y = point.tolist()
        path.append((x, y))
        if not (2 * x0 <= x <= 2 * x1 and 2 * y0 <= y <= 2 * y1):
            break
    return np.array(path)


def run(out, quick=False):
    """No randomness involved: every run is deterministic. `quick` takes 20 steps."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Optimizer paths on 2-D test functions", "",
             "| function | optimizer | settings | steps | final (x, y) | final f |", "|---|---|---|---:|---|---:|"]
    rows = []
    for name, (fn, start, minimum, window, steps, lrs) in PROBLEMS.items():
        steps = 20 if quick else steps
        runs = {label: (cls, dict(lr=lrs[label], **kw)) for label, (cls, kw) in OPTIMIZERS.items()}
        paths = {label: trajectory(fn, start, steps, cls, kw, window) for label, (cls, kw) in runs.items()}
        plot_paths(out / f"{name}.png", fn, start, minimum, window, paths,
                   f"{name}: {steps} steps from ({start[0]:g}, {start[1]:g})")
        for label, path in paths.items():
            cls, kw = runs[label]
            x, y = path[-1]
            settings = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in kw.items())
            lines.append(f"| {name} | {label} | {settings} | {len(path) - 1} | ({x:.3f}, {y:.3f}) | {fn(x, y):.3g} |")
            rows += [(name, label, i, f"{px:.6g}", f"{py:.6g}") for i, (px, py) in enumerate(path)]
    with open(out / "paths.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("function", "optimizer", "step", "x", "y"))
        writer.writerows(rows)
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot_paths(path, fn, start, minimum, window, paths, title, frames=60):
    """The PNG with every whole trajectory, and an animated GIF beside it where they grow step by step."""
    x0, x1, y0, y1 = window
    xs, ys = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    zs = fn(xs, ys)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    levels = np.logspace(np.log10(max(zs.min(), 1e-2)), np.log10(zs.max()), 25) if zs.min() > 0 else 25
    ax.contour(xs, ys, zs, levels=levels, cmap="viridis", alpha=0.5, linewidths=0.7)
    colors = plt.get_cmap("tab10")
    lines, heads = [], []
    for k, (label, p) in enumerate(paths.items()):
        lines.append(ax.plot(p[:, 0], p[:, 1], color=colors(k), lw=1.5, label=label)[0])
        heads.append(ax.plot(p[-1, 0], p[-1, 1], "o", color=colors(k), ms=4)[0])
    ax.plot(*start, "k^", ms=8, label="start")
    if minimum is not None:
        ax.plot(*minimum, "k*", ms=12, label="minimum")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), title=title, xlabel="x", ylabel="y")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)

    longest = max(len(p) for p in paths.values())
    ends = np.unique(np.linspace(1, longest, frames).astype(int))

    def draw(end):
        for line, head, p in zip(lines, heads, paths.values()):
            shown = p[:end]
            line.set_data(shown[:, 0], shown[:, 1])
            head.set_data(shown[-1:, 0], shown[-1:, 1])
        ax.set_title(f"{title} (step {min(end, longest) - 1})")
        return lines + heads
    FuncAnimation(fig, draw, frames=ends, blit=False).save(Path(path).with_suffix(".gif"), writer=PillowWriter(fps=12),
                                                          dpi=60)
    plt.close(fig)
