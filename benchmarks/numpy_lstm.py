"""Forward+backward time of one LSTM layer: the numpy engine vs torch.nn.LSTM, float32, measured
alternately in one process after a warm-up; median of the repeats.

    python benchmarks/numpy_lstm.py            # batch 64, length 49, input 512, hidden 512
"""
import argparse
import statistics
import time

import numpy as np
import torch

from rnnlab.numpy.layers import LSTMLayer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=49)
    parser.add_argument("--input", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    B, T, I, H = args.batch, args.length, args.input, args.hidden

    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H, batch_first=True)
    ours = LSTMLayer(*(getattr(ref, f"{n}_l0").detach().numpy().copy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dout = rng.standard_normal((B, T, H)).astype(np.float32)
    zeros = np.zeros((B, H), dtype=np.float32)
    tx, tdout = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

    def run_numpy():
        ours.forward(x, zeros, zeros)
        ours.backward(dout, zeros, zeros)

    def run_torch():
        out, _ = ref(tx)
        out.backward(tdout)

    runs = {"numpy": run_numpy, "nn.LSTM": run_torch}
    for fn in runs.values():
        fn()
        fn()
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"LSTM forward+backward, float32, batch {B}, length {T}, input {I}, hidden {H}, "
          f"{torch.get_num_threads()} threads, numpy {np.__version__}, torch {torch.__version__}")
    for name, t in med.items():
        print(f"{name:>8}: {t * 1000:8.1f} ms  ({B * T / t:8.0f} tokens/s)")
    print(f"numpy / nn.LSTM time ratio: {med['numpy'] / med['nn.LSTM']:.2f}")


if __name__ == "__main__":
    main()
