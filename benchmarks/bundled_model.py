"""The model that ships inside rnnlab (src/rnnlab/models/tang/): how it was made, measured and checked.

    rnnlab train --preset cpu-2h --time-budget 100 --epochs 100 --seed 0 --out RUN   # TRAIN below: 100 minutes
    python benchmarks/bundled_model.py export RUN      # its best weights in float16 into the package
    python benchmarks/bundled_model.py card RUN [--against DEFAULT_RUN]   # measure it; write its card
    python benchmarks/bundled_model.py reproduce OUT   # train again into OUT and compare with the card

Every figure of the card is printed by an rnnlab command, run here as a user would run it (the commands
are in the card). The poets' own rates are `rnnlab prosody tang`'s. The card goes into MODEL_CARD.md and,
as JSON, into the checkpoint's meta.json; the SHA-256 of every file of the folder into tang.sha256.
It needs the Tang corpus and the handout corpus (tangshi) in the data folder (RNNLAB_DATA).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

import rnnlab
from rnnlab.bundled import MODELS
from rnnlab.checkpoint import load_checkpoint, save_checkpoint, update_meta
from rnnlab.data.download import file_digest
from rnnlab.fileio import atomic_write_text
from rnnlab.generate.forms import FORM_NAMES
from rnnlab.machine import describe
from rnnlab.training.config import WHOLE

NAME = "tang"
# --epochs 100: the budget, not the preset's 20 epochs, ends the run (a CPU with AMX runs 20 in 65 minutes)
TRAIN = ["train", "--preset", "cpu-2h", "--time-budget", "100", "--epochs", "100", "--seed", "0"]
REGULATED = ("wujue", "qijue", "wulv", "qilv")
SAMPLES = ["--num", "300", "--seed", "0"]            # temperature: GenerationOptions' default, 0.8
CONSTRAINED = ["--rhyme", "hard", "--tones", "hard"]
LIMITS = [
    "Issue 25 asks for 0.80x the perplexity of a 15-minute run of the default; the ratio above is what this "
    "recipe reached.",
    "The handout's poems are famous poems, and most of them recur in the corpus as variants that share lines "
    "with the training split. The unseen figure is taken on the few that share none: a noisy figure.",
    "It writes in simplified characters only (the corpus is converted with OpenCC t2s before training).",
    "Characters seen fewer than 3 times in the first 48 characters of the training poems are <unk>: it "
    "cannot write them, nor start a poem with them.",
    "It repeats lines of the poets now and then (novel lines below 100%); it is not a plagiarism filter.",
]


def where_it_stopped_learning(run, best_step):
    """A limit read from the run's metrics.csv: how far the run went past its best validation, and the
    learning rate there (a run that stops improving long before its rate decays has more to gain from
    regularisation than from time)."""
    with open(Path(run) / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    peak, best = max(float(r["lr"]) for r in rows), next(r for r in rows if int(r["step"]) == best_step)
    last = rows[-1]
    if int(last["step"]) == best_step:
        return f"Its best weights are its last (step {best_step}): it was still learning when its budget ended."
    return (f"Its best weights are from step {best_step} (epoch {float(best['epoch']):.1f}) of "
            f"{last['step']} (epoch {float(last['epoch']):.1f}): the validation subset stopped improving "
            f"with the learning rate at {float(best['lr']) / peak:.0%} of its peak (metrics.csv of the run).")


def what_it_read(train):
    """A limit read from the run's config: how much of each poem training read, against validation's cut."""
    data, window = train["data"], train.get("train_window")
    cut = data.get("train_seq_len")
    read = ("every poem whole" if cut and cut >= WHOLE else f"the first {cut - 1} characters of each poem" if cut
            else f"the first {data['seq_len'] - 1} characters of each poem")
    how = f", in windows of {window} tokens with the LSTM's state carried" if window else ""
    return (f"It learned from {read}{how}; its validation poems are cut at {data['seq_len'] - 1} "
            f"(--seq-len {data['seq_len']}), as every perplexity of the project is, so the figures compare.")


def rnnlab_json(*args):
    """An rnnlab command's --json output, as a user gets it."""
    out = subprocess.run([sys.executable, "-m", "rnnlab", *args, "--json"], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"rnnlab {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def write_manifest():
    folder = MODELS / NAME
    lines = [f"{file_digest(p, 'sha256').hexdigest()}  {p.name}" for p in sorted(folder.iterdir()) if p.is_file()]
    atomic_write_text(MODELS / f"{NAME}.sha256", "\n".join(lines) + "\n")


def export(run):
    """The run's best weights, float16 on disk, with its vocabulary and config, into the package."""
    ckpt = load_checkpoint(run)
    folder = MODELS / NAME
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    meta = {k: ckpt.meta[k] for k in ("step", "epoch", "valid_ppl") if k in ckpt.meta}
    save_checkpoint(folder, ckpt.model, ckpt.vocab, ckpt.data_config, {**meta, "weights": "float16"},
                    dtype=torch.float16)
    write_manifest()
    size = (folder / "model.safetensors").stat().st_size
    print(f"exported {run} (step {meta.get('step')}) to {folder}: model.safetensors {size / 2**20:.1f} MiB")


def validation(checkpoint):
    """The command of a checkpoint's full-split validation perplexity."""
    return ["eval", "--checkpoint", str(checkpoint), "--corpus", "tang", "--split", "valid"]


def measure():
    """The card's figures, each from the command beside it."""
    commands = {
        "valid": validation(NAME),
        "unseen": ["eval", "--checkpoint", NAME, "--corpus", "tangshi", "--unseen"],
        "poets": ["prosody", "tang"],
        "free": ["eval-gen", "--checkpoint", NAME, *SAMPLES],
    }
    for form in REGULATED:
        commands[form] = ["eval-gen", "--checkpoint", NAME, "--form", form, *SAMPLES]
        commands[form + "+rules"] = [*commands[form], *CONSTRAINED]
    figures = {}
    for key, args in commands.items():
        print("rnnlab " + " ".join(args), flush=True)
        figures[key] = rnnlab_json(*args)
    return commands, figures


def card(run, against=None):
    """Measure the bundled model and write its card (Markdown and meta.json); `against`, a run of the default
    (`rnnlab train`) on the same machine, is measured by the same command beside it."""
    config = json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))
    last = json.loads((Path(run) / "last" / "meta.json").read_text(encoding="utf-8"))     # where training ended
    best = json.loads((MODELS / NAME / "meta.json").read_text(encoding="utf-8"))
    commands, f = measure()
    unseen = f["unseen"]
    forms = {form: {"rhyme": f[form]["rhyme"], "tones": f[form]["tones"], "form_valid": f[form]["form_valid"],
                    "rhyme_with_rules": f[form + "+rules"]["rhyme"], "tones_with_rules": f[form + "+rules"]["tones"],
                    "poets_rhyme": f["poets"]["forms"][form]["rhyme"], "poets_tones": f["poets"]["forms"][form]["tones"]}
             for form in REGULATED}
    info = {
        "name": NAME,
        "data": "chinese-poetry 2.0.1 (npm), quantangshi: the complete Tang poems, 57,607 poems; MIT licence",
        "train_command": "rnnlab " + " ".join(TRAIN),
        "seed": config["train"]["seed"],
        "rnnlab": rnnlab.__version__, "torch": torch.__version__, "machine": describe(), "cores": os.cpu_count(),
        "precision": config["train"]["precision"], "minutes": config["train"]["time_budget"],
        "steps": last["step"], "epochs": last["epoch"], "best_step": best["step"],
        "model": config["train"]["model"],
        "valid_ppl": f["valid"]["perplexity"], "valid_poems": f["valid"]["sequences"],
        "unseen_ppl": unseen["perplexity"], "unseen_poems": unseen["sequences"],
        "unseen_left_out": unseen["seen_in_training_left_out"], "unseen_unknown_rate": unseen["unknown"] / unseen["tokens"],
        "forms": forms, "novel_lines": f["free"]["novel_lines"], "novel_4grams": f["free"]["novel_4grams"],
        "samples": {form: f[form + "+rules"]["examples"][:1] for form in REGULATED},
        "commands": {k: "rnnlab " + " ".join(v) for k, v in commands.items()},
        "limits": [where_it_stopped_learning(run, best["step"]), what_it_read(config["train"]), *LIMITS],
    }
    if against:
        minutes = json.loads((Path(against) / "config.json").read_text(encoding="utf-8"))["train"]["time_budget"]
        info["against"] = {"run": str(against), "command": "rnnlab train", "minutes": minutes,
                           "valid_ppl": rnnlab_json(*validation(against))["perplexity"]}
    update_meta(MODELS / NAME, card=info)
    atomic_write_text(MODELS / NAME / "MODEL_CARD.md", markdown(info))
    write_manifest()
    print(markdown(info))


def markdown(c):
    m = c["model"]
    rows = "\n".join(
        f"| {FORM_NAMES[k]} | {v['rhyme']:.1%} | {v['rhyme_with_rules']:.1%} | {v['poets_rhyme']:.1%} | {v['tones']:.1%} | "
        f"{v['tones_with_rules']:.1%} | {v['poets_tones']:.1%} |" for k, v in c["forms"].items())
    machine = c["machine"]
    return f"""# Model card: `{c['name']}`, the model bundled with rnnlab {c['rnnlab']}

A character LSTM language model of Tang poems: {m['num_layers']} layer{'s' if m['num_layers'] > 1 else ''} of {m['hidden_size']} units, embedding
{m['embed_size']}, adaptive softmax over {m['vocab_size']} characters, {regularisers(m)}.{prosody(m)} Weights stored in
float16 (read as float32). `rnnlab generate` uses it when no `--checkpoint` is given.

- **Data**: {c['data']}. Converted to simplified characters; 80/20 train/validation split of the cleaned poems (split seed 0).
- **Trained with**: `{c['train_command']}` (seed {c['seed']}), rnnlab {c['rnnlab']}, torch {c['torch']},
  a budget of {c['minutes']:g} minutes on {machine['cpu']} ({c['cores']} cores; SIMD: {', '.join(machine['simd'])}), precision
  {c['precision']}; it ran {c['steps']} steps ({c['epochs']:.1f} epochs); these are the weights of step {c['best_step']}, the best on validation.
- **Validation perplexity** (the whole split, {c['valid_poems']} poems): **{c['valid_ppl']:.2f}**.{compared(c)}
- **Unseen poems** (the handout corpus tangshi without the {c['unseen_left_out']} poems that share a line with the training split,
  {c['unseen_poems']} poems): perplexity {c['unseen_ppl']:.2f}, {c['unseen_unknown_rate']:.2%} of the characters unknown.
- **Novelty** (300 free poems): {c['novel_lines']:.1%} of the lines and {c['novel_4grams']:.1%} of the 4-grams occur nowhere
  in the training split.

## Rhyme and tones, 300 poems per form, temperature 0.8, seed 0

"free" is unconstrained sampling; "rules" adds `--rhyme hard --tones hard`; the poets are `rnnlab prosody tang`.

| form | rhyme: free | rhyme: rules | rhyme: poets | tones: free | tones: rules | tones: poets |
|---|---:|---:|---:|---:|---:|---:|
{rows}

## Samples (with the rules)

{chr(10).join(f"- {FORM_NAMES[k]}: {v[0]}" for k, v in c['samples'].items() if v)}

## Known limits

{chr(10).join('- ' + x for x in c['limits'])}

## How each figure was made

{chr(10).join(f'- {k}: `{v} --json`' for k, v in c['commands'].items())}
"""


def regularisers(m):
    """The model's dropouts in words."""
    parts = [f"dropout {m['dropout']}"]
    if m.get("wdrop"):
        parts.append(f"DropConnect {m['wdrop']} on the recurrent weights")
    if m.get("dropouti"):
        parts.append(f"locked dropout {m['dropouti']} on the input")
    if m.get("dropoute"):
        parts.append(f"embedding dropout {m['dropoute']}")
    return ", ".join(parts)


def prosody(m):
    """The prosody inputs and loss in words (docs/prosody-inputs.md)."""
    if not m.get("prosody_inputs"):
        return ""
    loss = f", and trained to predict the next character's tone class and rhyme group too (weight {m['prosody_loss']})"
    return (f" It is told the prosody of each character it has read ({', '.join(m['prosody_inputs'])})"
            f"{loss if m.get('prosody_loss') else ''}.")


def compared(c):
    """The card's sentence on the default run it was measured against, if any."""
    if "against" not in c:
        return ""
    a = c["against"]
    return (f" A {a['minutes']:g}-minute run of the default (`{a['command']}`) on the same machine: {a['valid_ppl']:.2f}, by the same"
            f" command; the bundled model has {c['valid_ppl'] / a['valid_ppl']:.2f}x its perplexity.")


def reproduce(out):
    """Train the bundled model again and compare its full-split validation perplexity with the card's
    run (float32 weights; the bundled float16 copy is measured apart)."""
    subprocess.run([sys.executable, "-m", "rnnlab", *TRAIN, "--out", str(out), "--no-progress"], check=True)
    again = rnnlab_json(*validation(out))["perplexity"]
    bundled = json.loads((MODELS / NAME / "meta.json").read_text(encoding="utf-8"))
    print(f"retrained: {again:.2f}; the bundled run: {bundled['valid_ppl']:.2f} (float32), "
          f"{bundled['card']['valid_ppl']:.2f} as shipped (float16), trained on {bundled['card']['machine']['cpu']}; "
          f"here: {describe()['cpu']}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["export", "card", "reproduce"])
    p.add_argument("folder", type=Path, help="export, card: the training run; reproduce: the new run's folder")
    p.add_argument("--against", type=Path, help="card: a run of the default (`rnnlab train`) to measure beside it")
    a = p.parse_args()
    if a.action == "card":
        card(a.folder, a.against)
    else:
        {"export": export, "reproduce": reproduce}[a.action](a.folder)
