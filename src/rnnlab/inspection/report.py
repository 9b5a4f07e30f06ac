"""`rnnlab inspect`: the pictures, figures and summary of what a trained LSTM does while it reads poems.

    OUT/heatmap.png      the structural cells' c over the characters of one poem (one row per cell)
    OUT/saturation.png   per layer and gate, each unit's share of steps below 0.1 against above 0.9,
                         the trained model beside an untrained one of the same shape
    OUT/inspect.json     every figure below
    OUT/summary.md       the structural cells with their controls, the gates' saturation, and the
                         model's choices at each position of a poem it writes with rules
Everything is written into a temporary folder first and moved into place at the end.
"""
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from rnnlab.errors import RnnlabError
from rnnlab.fileio import UMASK, atomic_write_text
from rnnlab.generate.forms import form_of
from rnnlab.inspection.choices import choices
from rnnlab.inspection.structure import saturation, shuffle_within_lines, structural_cells
from rnnlab.inspection.trace import ENGINES
from rnnlab.nn.registry import architecture_of

CLEAR = 0.5               # |r| on held-out poems from which a cell counts as tracking a property
CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei",
             "PingFang SC", "Microsoft YaHei", "Source Han Sans SC", "AR PL UMing CN", "Droid Sans Fallback")


def untrained_like(model, vocab, seed):
    """A model of the same shape freshly initialised from `seed`: the baseline for the gates."""
    torch.manual_seed(seed)
    return architecture_of(model.config).new_model(model.config, vocab, np.arange(len(vocab))).eval()


def inspect(ckpt, texts, out, engine="torch", seed=0, form="wujue"):
    """Write the report for the poems `texts` into the folder `out` (absent or empty); returns the figures."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RnnlabError(f"{out}: already exists; choose another --out")
    texts = [t for t in texts if t]
    if not texts:
        raise RnnlabError("no poem to inspect (the text is empty)")
    unknown = sorted({ch for t in texts for ch in t if ch not in ckpt.vocab})
    if unknown:
        raise RnnlabError(f"characters outside the model's vocabulary: {''.join(unknown[:20])}")
    model = ckpt.model.eval()
    rng = np.random.default_rng(seed)
    shuffled = [shuffle_within_lines(t, rng) for t in texts]
    traces = [read(model, ckpt.vocab, t, engine) for t in texts]
    cells = structural_cells(traces, [read(model, ckpt.vocab, t, engine) for t in shuffled], texts, shuffled, seed)
    untrained = untrained_like(model, ckpt.vocab, seed)
    gates = {"trained": saturation(traces), "untrained": saturation([read(untrained, ckpt.vocab, t, engine) for t in texts])}
    shown = next((i for i, t in enumerate(texts) if form_of(t)), 0)      # the heat map's: a regulated poem
    poem = ckpt.generate(form=form, rhyme="hard", tones="hard", seed=seed)[0]
    steps = choices(ckpt.model, ckpt.vocab, poem, form=form, rhyme="hard", tones="hard")
    figures = {"checkpoint": str(ckpt.path), "engine": engine, "poems": len(texts), "seed": seed, "cells": cells,
               "saturation": summarize(gates), "choices": {"poem": poem, "form": form, "rhyme": "hard",
                                                           "tones": "hard", "steps": steps}}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    tmp.chmod(0o777 & ~UMASK)                        # as mkdir would make it (mkdtemp's is private)
    try:
        heatmap(tmp / "heatmap.png", texts[shown], traces[shown], cells)
        saturation_plot(tmp / "saturation.png", gates)
        atomic_write_text(tmp / "inspect.json", json.dumps(figures, ensure_ascii=False, indent=1))
        atomic_write_text(tmp / "summary.md", summary(figures, texts[shown]))
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return figures


def read(model, vocab, text, engine):
    """The trace of `model` reading the poem as it was trained to: <bos>, its form's token (a model with
    --form-token), the characters. The form token's step is left out, so that step t is still the one
    after <bos> and t characters, as structure.py counts."""
    ids = vocab.poem(text, form_of(text))[:-1]
    opening = len(ids) - len(text)                               # <bos> and the form token, if any
    return [{k: np.delete(v, range(1, opening), axis=0) for k, v in layer.items()}
            for layer in ENGINES[engine](model, ids)]


def summarize(gates):
    """Per model, layer and gate: the mean share of steps a unit spends below 0.1 and above 0.9."""
    return {name: [{g: {side: float(v[side].mean()) for side in ("left", "right")} for g, v in layer.items()}
                   for layer in layers] for name, layers in gates.items()}


def verdict(cell):
    held, chance = abs(cell["r_held_out"]), cell["chance"]
    if held >= CLEAR and held > 2 * chance:
        return "tracks it" + (" (also in shuffled lines)" if abs(cell["r_shuffled"]) >= CLEAR else
                              " (not in shuffled lines: it follows the characters)")
    return "no clear cell"


def summary(f, text):
    rows = "\n".join(
        f"| {name} | layer {c['layer'] + 1} {c['kind']}[{c['unit']}] | {c['r_found']:+.2f} | {c['r_held_out']:+.2f} | "
        f"{c['r_shuffled']:+.2f} | {c['chance']:.2f} | {verdict(c)} |" for name, c in f["cells"].items())
    clear = [n for n, c in f["cells"].items() if verdict(c) != "no clear cell"]
    gate_rows = "\n".join(
        f"| {layer + 1} | {g} | {t[g]['left']:.1%} / {t[g]['right']:.1%} | {u[g]['left']:.1%} / {u[g]['right']:.1%} |"
        for layer, (t, u) in enumerate(zip(f["saturation"]["trained"], f["saturation"]["untrained"])) for g in t)
    c = f["choices"]
    step_rows = "\n".join(
        f"| {i + 1} | {s['char']} | {s['p']:.3f} | {s['rank']} | "
        f"{' '.join(f'{ch} {p:.2f}' for ch, p in s['top'])} | "
        f"{s['forced'] or ', '.join(s['overruled']) or ''} | {s['removed']:.1%} |" for i, s in enumerate(c["steps"]))
    return f"""# Inside {f['checkpoint']}

{f['poems']} poems, engine {f['engine']}, seed {f['seed']}. Heat map (`heatmap.png`): the cells below over
the first regulated poem, {text}

## Cells that track the poem's structure

Found on the first half of the poems, scored on the second (held out) and on the same poems with each line's
characters shuffled (the marks stay); chance: the best |r| of any unit against the property's values permuted.
A cell tracks a property here when |r| held out is at least {CLEAR} and twice the chance level.

| property | cell | r (found) | r (held out) | r (shuffled) | chance | verdict |
|---|---|---:|---:|---:|---:|---|
{rows}

{"Clear structural cells: " + ", ".join(clear) + "." if clear else
 "No cell reaches a clear structural correlation (the numbers above)."}

## Gate saturation (`saturation.png`)

Mean share of steps a unit's gate spends below 0.1 / above 0.9, trained model beside an untrained one of the
same shape.

| layer | gate | trained | untrained |
|---|---|---:|---:|
{gate_rows}

## The model's choices in a poem it wrote ({c['form']}, rhyme {c['rhyme']}, tones {c['tones']})

{c['poem']}

p: the model's own probability of the character written (temperature 1, no constraint); rank: its place
among all characters; acted: the rule that forced the character, or that excluded or penalised the model's
most likely one; removed: the model's probability the constraints ruled out.

| # | char | p | rank | model's top 5 | acted | removed |
|---:|---|---:|---:|---|---|---:|
{step_rows}
"""


def cjk_font():
    """The first installed font that has Chinese characters, or None."""
    import logging

    from matplotlib import font_manager

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)    # a font's weights, said at each use
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def couplets(text):
    """[(start, end)] index ranges of the poem cut after each sentence end, so that a heat map stacks
    short panels (phone width) rather than one long row."""
    cuts, start = [], 0
    for i, ch in enumerate(text):
        if ch in "。？！" or i == len(text) - 1:
            cuts.append((start, i + 1))
            start = i + 1
    return cuts


def heatmap(path, text, trace, cells):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    rows = list(cells.items())
    values = np.stack([trace[c["layer"]][c["kind"]][1:, c["unit"]] for _, c in rows])   # after each character
    values = values / np.maximum(np.abs(values).max(1, keepdims=True), 1e-12)        # each cell to its own range
    parts = couplets(text)
    fig, axes = plt.subplots(len(parts), 1, figsize=(6.4, (0.32 * len(rows) + 0.7) * len(parts) + 0.5), squeeze=False)
    for ax, (a, b) in zip(axes[:, 0], parts):
        image = ax.imshow(values[:, a:b], cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(b - a))
        ax.set_xticklabels(list(text[a:b]) if font else [str(i + 1) for i in range(a, b)],
                           fontfamily=font or "DejaVu Sans", fontsize=11 if font else 7)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{name} L{c['layer'] + 1}{c['kind']}{c['unit']}" for name, c in rows], fontsize=7)
    axes[0, 0].set_title("the structural cells after each character (each scaled to its largest |value|)" +
                         ("" if font else "\n(no CJK font installed: character positions shown)"), fontsize=9)
    fig.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.03, pad=0.02)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def saturation_plot(path, gates):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = len(gates["trained"])
    fig, axes = plt.subplots(layers, 3, figsize=(9, 3 * layers), squeeze=False)
    for layer in range(layers):
        for col, g in enumerate(("i", "f", "o")):
            ax = axes[layer][col]
            for name, colour, marker in (("trained", "tab:blue", "o"), ("untrained", "tab:orange", "x")):
                v = gates[name][layer][g]
                ax.scatter(v["left"], v["right"], s=8, alpha=0.6, color=colour, marker=marker, label=name)
            ax.plot([0, 1], [1, 0], color="0.8", lw=0.8)
            ax.set(xlim=(0, 1), ylim=(0, 1), title=f"layer {layer + 1}, gate {g}",
                   xlabel="share of steps < 0.1", ylabel="share of steps > 0.9")
            ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
