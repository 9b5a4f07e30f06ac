"""Output layer speed: class-based softmax (exact log-likelihood of the targets) against the full
softmax, forward + backward, for a vocabulary of V characters (default: the whole Tang corpus,
no frequency cut), N positions, hidden size H; alternating in one process, median of the repeats.

    python benchmarks/class_softmax.py            # needs RNNLAB_DATA for the Tang counts
"""
import argparse
import statistics
import time
from collections import Counter

import torch
import torch.nn.functional as F

from rnnlab.data.dataset import DataConfig, prepare
from rnnlab.nn.class_softmax import ClassSoftmax, frequency_classes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="tang")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--positions", type=int, default=64 * 48)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    data = prepare(DataConfig(corpus=args.corpus, min_count=1))
    counts = Counter(data.train.tokens.tolist())
    V = len(data.vocab)
    token_counts = torch.tensor([counts.get(i, 0) for i in range(V)])
    n_classes = round(V ** 0.5)
    torch.manual_seed(0)
    layer = ClassSoftmax(args.hidden, frequency_classes(token_counts, n_classes))
    full = torch.nn.Linear(args.hidden, V)
    h = torch.randn(args.positions, args.hidden, requires_grad=True)
    # targets drawn with the corpus frequencies, as in training
    targets = torch.multinomial(token_counts.double(), args.positions, replacement=True)

    def run_full():
        F.cross_entropy(full(h), targets).backward()

    def run_class():
        (-layer.log_prob(h, targets).mean()).backward()

    runs = {"full softmax": run_full, "class softmax": run_class}
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"vocabulary {V} ({args.corpus}, no frequency cut), {n_classes} classes, hidden {args.hidden}, "
          f"{args.positions} positions, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for name, t in med.items():
        print(f"{name:>14}: {t * 1000:8.1f} ms per forward+backward")
    print(f"class / full time ratio: {med['class softmax'] / med['full softmax']:.2f}")


if __name__ == "__main__":
    main()
