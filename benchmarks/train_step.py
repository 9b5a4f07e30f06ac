"""Tokens/s of one language-model training step (forward, backward, Adam step) for each LSTM cell.

The cells are measured alternately in one process after a warm-up, and the median of the
repeats is reported, so the ratio between them is fair on a busy machine.

    python benchmarks/train_step.py --preset seed-large --vocab 5437
"""
import argparse
import statistics
import time

import torch

from rnnlab.nn.cells import CELLS
from rnnlab.nn.lm import LanguageModel, ModelConfig, sequence_loss
from rnnlab.train.config import PRESETS


def step_fn(cell, preset, vocab, seed=0):
    torch.manual_seed(seed)
    model = LanguageModel(ModelConfig(vocab, preset["embed_size"], preset["hidden_size"], cell=cell))
    optimizer = torch.optim.Adam(model.parameters(), 1e-3, betas=(0.5, 0.99))
    batch, length = preset["batch_size"], preset["seq_len"]
    inputs = torch.randint(4, vocab, (batch, length))
    targets = torch.randint(4, vocab, (batch, length))

    def step():
        loss, n = sequence_loss(model(inputs)[0], targets, pad=0)
        optimizer.zero_grad(set_to_none=True)
        (loss / n).backward()
        optimizer.step()
    return step, batch * length


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=list(PRESETS), default="seed-large")
    parser.add_argument("--vocab", type=int, default=5437, help="vocabulary size (tang: 5437)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    steps = {cell: step_fn(cell, preset, args.vocab) for cell in CELLS}
    for step, _ in steps.values():
        step()
        step()
    rates = {cell: [] for cell in CELLS}
    for _ in range(args.repeats):
        for cell, (step, tokens) in steps.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[cell].append(tokens * args.steps / (time.perf_counter() - t0))
    print(f"preset {args.preset} {preset}, vocabulary {args.vocab}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    base = statistics.median(rates["native"])
    for cell, r in rates.items():
        print(f"{cell:>9}: {statistics.median(r):8.0f} tokens/s  ({statistics.median(r) / base:.2f}x native)")


if __name__ == "__main__":
    main()
