"""The metrics.csv log of a run and its plot."""
import csv
import io
import math

from rnnlab.fileio import atomic_write_text

COLUMNS = ("step", "epoch", "train_loss", "valid_ppl", "lr", "grad_norm", "tokens_per_s")


class MetricsLog:
    """Appends one row per log interval or evaluation; blank cells where a value was not measured."""

    def __init__(self, path, extra_columns=(), rows=None):
        """`rows`: the rows so far (a resumed run's); the file is rewritten with exactly those.
        With `path` None the rows are only kept (torchrun's other processes)."""
        self.path = path
        self.columns = COLUMNS + tuple(extra_columns)
        self.rows = [] if rows is None else rows
        if path is None:
            return
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        writer.writerows(self.cells(row) for row in self.rows)
        atomic_write_text(path, out.getvalue())

    def cells(self, row):
        return [format_cell(row.get(c)) for c in self.columns]

    def write(self, **row):
        self.rows.append(row)
        if self.path is None:
            return
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow(self.cells(row))


def format_cell(value):
    """A CSV cell: blank for None, floats with 6 significant digits."""
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def plot(rows, path, title):
    """Train loss and validation perplexity against steps, in one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(r["step"], r["train_loss"]) for r in rows if r.get("train_loss") is not None]
    valid = [(r["step"], r["valid_ppl"]) for r in rows if r.get("valid_ppl") is not None and math.isfinite(r["valid_ppl"])]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if train:
        ax1.plot(*zip(*train), color="tab:blue")
    ax1.set(xlabel="step", ylabel="train loss (nats/char)", title="training loss")
    if valid:
        ax2.plot(*zip(*valid), marker="o", color="tab:orange")
    ax2.set(xlabel="step", ylabel="perplexity", title="validation perplexity")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
