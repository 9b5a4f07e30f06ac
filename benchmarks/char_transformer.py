"""The peer a user would try instead of an LSTM in 2026: a small causal character transformer, nanoGPT's
recipe at poem size, written here to be compared with rnnlab's models (issue 23). Not a product feature.

    token + learned position embeddings -> n pre-norm blocks (LayerNorm, causal self-attention through
    F.scaled_dot_product_attention, residual; LayerNorm, GELU MLP 4x, residual) -> LayerNorm -> logits
    with the token embedding's weights (tied, Press & Wolf 2017)

It has rnnlab's language-model interface, model(tokens, state) -> (logits, state) and summed_loss(...), with
the tokens read so far as the state, so rnnlab's own generation (forms, constraints), perplexity and
eval-gen measures score it exactly as they score an LSTM. It trains on the same poems, split and batches,
with AdamW, a linear warm-up and a cosine fitted to the time budget after 20 steps (as `rnnlab train`).

    python benchmarks/char_transformer.py --minutes 15 --out benchmarks/results/cpu-2core/transformer
    python benchmarks/char_transformer.py --sweep --minutes 5 --out benchmarks/results/cpu-2core/transformer

The first trains PEER, the settings the sweep (the second: every SWEEP setting, ranked) found best.
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.data.batches import padded_batch, shuffled_batches
from rnnlab.machine import describe
from rnnlab.training.perplexity import poem_perplexity
from rnnlab.training.schedule import fit_horizon, lr_factor


class Block(nn.Module):
    def __init__(self, d_model, n_heads, dropout):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv, self.proj = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        x = x + F.dropout(self.proj(attended.transpose(1, 2).reshape(B, T, D)), self.dropout, self.training)
        return x + F.dropout(self.mlp(self.norm2(x)), self.dropout, self.training)


class CharTransformer(nn.Module):
    def __init__(self, vocab_size, d_model=256, n_layers=4, n_heads=4, max_len=64, dropout=0.1, autocast_dtype=None):
        super().__init__()
        self.max_len, self.autocast_dtype = max_len, autocast_dtype
        self.tokens, self.positions = nn.Embedding(vocab_size, d_model), nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.dropout = dropout
        for name, p in self.named_parameters():          # GPT-2's initialisation, residual projections scaled
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02 / (math.sqrt(2 * n_layers) if name.endswith("proj.weight") else 1.0))
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def logits(self, tokens):
        T = tokens.shape[1]
        if T > self.max_len:
            raise ValueError(f"{T} tokens: this model reads at most {self.max_len}")
        # bf16 as the LSTM takes it (--precision): the products in bf16, the weights and the logits float32
        with torch.autocast(tokens.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                            enabled=self.autocast_dtype is not None):
            x = self.tokens(tokens) + self.positions(torch.arange(T, device=tokens.device))
            x = F.dropout(x, self.dropout, self.training)
            for block in self.blocks:
                x = block(x)
            logits = self.norm(x) @ self.tokens.weight.T
        return logits.float()

    def forward(self, tokens, state=None):
        """tokens (B, T) -> logits (B, T, V) of the next token, state: every token read, (1, B, T') (the
        batch on dimension 1, where rnnlab's generation selects rows of a recurrent state)."""
        history = tokens if state is None else torch.cat([state[0], tokens], dim=1)
        return self.logits(history)[:, -tokens.shape[1]:], history[None]

    def summed_loss(self, inputs, targets, ignore_index, state=None):
        logits, state = self(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index,
                               reduction="sum")
        return loss, int((targets != ignore_index).sum()), state


def train_peer(data, minutes, d_model, n_layers, n_heads, dropout, lr, batch_size, warmup=100, weight_decay=0.1, seed=0,
               on_step=None, max_steps=None, precision="fp32"):
    """Train on data.train for `minutes` of wall time (or max_steps steps, with the cosine ending there);
    returns (model, {steps, tokens, seconds, horizon})."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    # positions for the longest regulated poem (<bos>, its form token where the data has them, 七律's 64
    # characters) even where training poems are cut shorter (the default --seq-len 49): the LSTM, which has no
    # positions, writes them all the same
    max_len = max(int(np.diff(data.train.offsets).max()), 1 + bool(data.vocab.form_ids) + 64)
    model = CharTransformer(len(data.vocab), d_model, n_layers, n_heads, max_len, dropout,
                            torch.bfloat16 if precision == "bf16" else None)
    decay = [p for p in model.parameters() if p.dim() == 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0}],
                                  lr=lr, betas=(0.9, 0.99))
    pad, step, tokens, horizon = data.vocab.pad, 0, 0, max_steps
    start = time.perf_counter()
    deadline = start + minutes * 60
    model.train()
    while time.perf_counter() < deadline and step != max_steps:
        for idx in shuffled_batches(len(data.train), batch_size, rng):
            now = time.perf_counter()
            if now >= deadline or step == max_steps:
                break
            if step == max(warmup, 20) and horizon is None:
                horizon = fit_horizon(step, deadline - now, (now - start) / step)
            for group in optimizer.param_groups:
                group["lr"] = lr * lr_factor("cosine", step, warmup, horizon)
            inputs, targets = (torch.from_numpy(a) for a in padded_batch(data.train, idx, pad))
            loss, count, _ = model.summed_loss(inputs, targets, pad)
            optimizer.zero_grad(set_to_none=True)
            (loss / count).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step, tokens = step + 1, tokens + count
            if on_step:
                on_step(model, step, tokens, time.perf_counter() - start)
    model.eval()
    return model, {"steps": step, "tokens": tokens, "seconds": time.perf_counter() - start, "horizon": horizon}


class PeerCheckpoint:
    """What rnnlab's measures of generated poems (generate/evaluate.py) read from a checkpoint."""

    def __init__(self, model, data):
        self.model, self.vocab, self.train = model, data.vocab, data.train

    def training_split(self):
        return self.train


def unconstrained_rates(model, data, num=300, seed=0):
    """{form: {rhyme, tones}} of `num` poems of each regulated form sampled at temperature 0.8 with no rhyme
    or tone option, judged by the ruler of `rnnlab eval-gen` (classical 平水韵)."""
    from rnnlab.generate.evaluate import evaluate
    from rnnlab.generate.forms import FORMS
    from rnnlab.generate.sampling import generate

    rates = {}
    for form in FORMS:
        poems = generate(model, data.vocab, form=form, num=num, temperature=0.8, seed=seed)
        figures = evaluate(PeerCheckpoint(model, data), poems, form)
        rates[form] = {"rhyme": figures["rhyme"], "tones": figures["tones"], "example": poems[0]}
    return rates


# the peer's settings (train_peer's keywords); the sweep below changes one or two of them at a time
FIRST = {"d_model": 256, "n_layers": 4, "n_heads": 4, "dropout": 0.1, "lr": 3e-3, "batch_size": 64}
SWEEP = {
    "first": {},
    "lr-1e-3": {"lr": 1e-3},
    "dropout-0": {"dropout": 0.0},
    "narrow-192x3": {"d_model": 192, "n_layers": 3},
    "wide-384x4": {"d_model": 384, "n_heads": 6, "lr": 1.5e-3},
    "batch-32": {"batch_size": 32, "lr": 2e-3},
    # added once narrow-192x3 led at the grid's edge: narrower still, and narrow with a larger step
    "narrower-128x2": {"d_model": 128, "n_layers": 2},
    "narrow-192x3-lr-6e-3": {"d_model": 192, "n_layers": 3, "lr": 6e-3},
}
SWEEP_POEMS = 2000          # the sweep ranks its settings on this many validation poems (seeded sample)
# the settings time_to_quality.py trains: the sweep's best at 5 minutes on the 2-core AMD EPYC
# (benchmarks/results/cpu-2core/transformer/sweep.json; docs/time-to-quality.md#the-transformer-peer)
PEER = {**FIRST, **SWEEP["narrower-128x2"]}


def sweep(data, names, minutes, precision, seed, out):
    """The SWEEP settings `names` each trained for `minutes`, ranked by perplexity on a sample of the
    validation split with the rows OUT/sweep.json already holds; writes it and returns its rows, best first."""
    sample = data.valid.sample(SWEEP_POEMS, seed=0)
    path = out / "sweep.json"
    rows = [r for r in json.loads(path.read_text())["rows"] if r["name"] not in names] if path.exists() else []
    for name in names:
        change = SWEEP[name]
        settings = {**FIRST, **change}
        model, stats = train_peer(data, minutes, **settings, seed=seed, precision=precision)
        rows.append({"name": name, **settings, **stats, "valid_sample_ppl": poem_perplexity(model, sample, data.vocab.pad)})
        print(f"{name}: {rows[-1]['valid_sample_ppl']:.2f} after {stats['steps']} steps", flush=True)
    rows.sort(key=lambda r: r["valid_sample_ppl"])
    path.write_text(json.dumps({"minutes": minutes, "precision": precision, "seed": seed, "valid_poems": SWEEP_POEMS,
                                "machine": describe(), "rows": rows}, indent=1))
    return rows


def main():
    from rnnlab.data.dataset import prepare
    from rnnlab.device import pick_precision
    from rnnlab.training.config import DEFAULT_PRESET, build_config

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    for key, value in PEER.items():                                 # the swept settings unless told otherwise
        p.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)
    p.add_argument("--precision", default="auto", help="auto, fp32 or bf16, as `rnnlab train --precision`")
    p.add_argument("--sweep", nargs="*", metavar="NAME", choices=list(SWEEP),
                   help=f"train these SWEEP settings (none named: all of {', '.join(SWEEP)}) for --minutes each and "
                        "rank them with those OUT/sweep.json holds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--corpus", default="tang")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    cfg = build_config(DEFAULT_PRESET, corpus=a.corpus)             # the default run's data settings and split
    data = prepare(cfg.data, fetch_missing=a.corpus == "tang")
    precision = pick_precision(a.precision, "cpu")
    a.out.mkdir(parents=True, exist_ok=True)
    if a.sweep is not None:
        for r in sweep(data, a.sweep or list(SWEEP), a.minutes, precision, a.seed, a.out):
            print(f"{r['name']:>14} {r['valid_sample_ppl']:8.2f} {r['steps']:6d} steps {r['tokens'] / r['seconds']:6.0f} tokens/s")
        return
    settings = {key: getattr(a, key) for key in PEER}
    model, stats = train_peer(data, a.minutes, **settings, seed=a.seed, precision=precision)
    stats["valid_ppl"] = poem_perplexity(model, data.valid, data.vocab.pad)
    stats["parameters"] = sum(p.numel() for p in model.parameters())
    stats["unconstrained"] = unconstrained_rates(model, data)
    stats["machine"] = describe()
    (a.out / "transformer.json").write_text(json.dumps({**vars(a), "out": str(a.out), "precision": precision, **stats},
                                                       indent=1, ensure_ascii=False))
    print(json.dumps(stats, ensure_ascii=False))


if __name__ == "__main__":
    main()
