"""The levers of issue 23, each a `rnnlab train` run of the same minutes on the full Tang corpus, one after
the other on one machine, then `rnnlab eval-gen` of 300 unconstrained poems of each regulated form.

    python benchmarks/levers.py --out benchmarks/results/cpu-2core/levers run base pros ...
    python benchmarks/levers.py --out benchmarks/results/cpu-2core/levers table
    python benchmarks/levers.py --out OUT adopt NAME RUN_DIR LOG     # a run trained elsewhere, scored the same way

`run` trains the named variants (VARIANTS below) that OUT does not hold yet, each into OUT/NAME/run with its
log in OUT/NAME/train.log and the four eval-gen results in OUT/NAME/evalgen-FORM.json; `table` reads
them all and prints the markdown table (full-split validation perplexity, steps, tokens/s, and the
unconstrained rhyme and tone rates beside the poets' own, `rnnlab prosody tang`). The perplexity is the
one every earlier figure reports, on the validation poems cut at 48 characters, for a variant trained on
longer sequences too (its own, longer, validation figure is in levers.json). Every variant needs the
CPU to itself: about MINUTES + 1 minutes each.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from rnnlab.generate.forms import FORMS
from rnnlab.machine import describe

# name -> the options of `rnnlab train` beside --time-budget and --seed
V1 = ["--preset", "cpu-fast-v1"]          # the default preset before issue 23
# cpu-fast-v6 reading every poem whole in windows of 66 by 128 rows: with --lr 7e-3, the default since 2026-12-04
WINDOWS_66_BATCH_128 = ["--preset", "cpu-fast-v6", "--train-seq-len", "10000", "--train-window", "66", "--batch-size", "128"]
PROSODY = ["--prosody-inputs", "position", "tones", "rhyme", "--prosody-loss", "0.5"]
VARIANTS = {
    "base": V1,
    "dropout-0.3-bf16": V1 + ["--precision", "bf16", "--dropout", "0.3"],
    "dropout-0.5-bf16": V1 + ["--precision", "bf16", "--dropout", "0.5"],
    "awd-regularisers": V1 + ["--precision", "bf16", "--dropout", "0.4", "--dropouti", "0.2", "--dropoute", "0.1",
                              "--wdrop", "0.2"],
    "pros": V1 + ["--precision", "bf16", "--dropout", "0.3"] + PROSODY,
    "pros-whole-poems": V1 + ["--precision", "bf16", "--dropout", "0.3", "--seq-len", "65"] + PROSODY,
    "pros-whole-poems-bucketed": V1 + ["--precision", "bf16", "--dropout", "0.3", "--seq-len", "65", "--bucket"] + PROSODY,
    # the ablation: the default (pros) with one of its prosody pieces off
    "without-position-input": V1 + ["--precision", "bf16", "--dropout", "0.3", "--prosody-inputs", "tones", "rhyme",
                                    "--prosody-loss", "0.5"],
    "without-tones-input": V1 + ["--precision", "bf16", "--dropout", "0.3", "--prosody-inputs", "position", "rhyme",
                                 "--prosody-loss", "0.5"],
    "without-rhyme-input": V1 + ["--precision", "bf16", "--dropout", "0.3", "--prosody-inputs", "position", "tones",
                                 "--prosody-loss", "0.5"],
    "without-prosody-loss": V1 + ["--precision", "bf16", "--dropout", "0.3", "--prosody-inputs", "position", "tones",
                                  "rhyme"],
    # the tone patterns' expectation of the next character as a fourth input (src/rnnlab/nn/prosody_inputs.py)
    "pattern-input": V1 + ["--precision", "bf16", "--dropout", "0.3", "--prosody-inputs", "position", "tones", "rhyme",
                           "pattern", "--prosody-loss", "0.5"],
    "pattern-without-position": V1 + ["--precision", "bf16", "--dropout", "0.3", "--prosody-inputs", "tones", "rhyme",
                                      "pattern", "--prosody-loss", "0.5"],
    # the model levers (item 3 of issue 23), each the default with one setting changed
    "hidden-768": ["--preset", "cpu-fast-v2", "--hidden-size", "768"],
    "batch-32": ["--preset", "cpu-fast-v2", "--batch-size", "32", "--lr", "3.5e-3"],
    "two-layers": ["--preset", "cpu-fast-v2", "--num-layers", "2"],
    # the form token (item 4): the poem's form predicted after <bos>, fed by eval-gen's --form
    "form-token": ["--preset", "cpu-fast-v2", "--form-token"],
    # the default before the form token; the default (whichever it is when run); earlier defaults by name
    "cpu-fast-v2": ["--preset", "cpu-fast-v2"],
    "cpu-fast": ["--preset", "cpu-fast"],
    "cpu-fast-v5": ["--preset", "cpu-fast-v5"],
    "cpu-fast-v3": ["--preset", "cpu-fast-v3"],
    "cpu-fast-v4": ["--preset", "cpu-fast-v4"],
    "form-token-tied": ["--preset", "cpu-fast-v2", "--form-token", "--tied"],
    # levers of cpu-fast-v4 (the default from 2026-12-03 until the next): more dropout, Adam's usual first beta
    "dropout-0.4": ["--preset", "cpu-fast-v4", "--dropout", "0.4"],
    "betas-0.9": ["--preset", "cpu-fast-v4", "--betas", "0.9", "0.99"],
    # where the default is still learning when 15 minutes end: a narrower LSTM (more steps), a higher rate
    "hidden-384": ["--preset", "cpu-fast-v4", "--hidden-size", "384"],
    "lr-7e-3": ["--preset", "cpu-fast-v4", "--lr", "7e-3"],
    # poems of similar length batched together: less padding, 13% more tokens/s in a 60-step probe
    "bucket": ["--preset", "cpu-fast-v4", "--bucket"],
    # a poem cut at 48 characters without the <eos> the cut put there: 七律 no longer end after line 6
    "no-cut-end": ["--preset", "cpu-fast-v3", "--no-cut-end"],     # the default since 2026-12-03
    # a default limited by its steps, not by overfitting: less dropout, tied output vectors (more learned per
    # step), and a narrower embedding (issue 23 asked for its sizes: a cheaper input product)
    "dropout-0.2": ["--preset", "cpu-fast-v4", "--dropout", "0.2"],
    "tied": ["--preset", "cpu-fast-v4", "--tied"],
    "embed-256": ["--preset", "cpu-fast-v4", "--embed-size", "256"],
    # the two that learned most per step together: less dropout, with tied vectors' fewer parameters to overfit
    "dropout-0.2-tied": ["--preset", "cpu-fast-v4", "--dropout", "0.2", "--tied"],
    # ... whose output vectors also carry each character's tone and rhyme groups, as its input does: the
    # default since 2026-12-03 (sixth session)
    "dropout-0.2-tied-prosody": ["--preset", "cpu-fast-v4", "--dropout", "0.2", "--tied", "--tied-prosody"],
    # the default since stopped improving after three epochs on a slow draw: more of each poem to learn from
    # per epoch (all of a 七律's 64 characters; validation stays at 48)
    "train-seq-len-65": ["--preset", "cpu-fast-v5", "--train-seq-len", "65"],
    # ... or the previous default's dropout with the tied output vectors
    "tied-prosody-dropout-0.3": ["--preset", "cpu-fast-v5", "--dropout", "0.3"],
    # poems cut at 64 characters make a shuffled batch a quarter padding (13% at 48): batched by length
    "whole-poems-bucket": ["--preset", "cpu-fast-v5", "--train-seq-len", "65", "--bucket"],
    # on a CPU with AMX cpu-fast-v5 reaches a fifth epoch and overfits there: more dropout (0.3: the default since)
    "tied-prosody-dropout-0.4": ["--preset", "cpu-fast-v5", "--dropout", "0.4"],
    # ... and with AWD-LSTM's other regularisers, for a fifth and sixth epoch: a character's embedding dropped
    # whole (dropoute), or DropConnect on the recurrent weights (wdrop)
    "dropout-0.3-dropoute-0.1": ["--preset", "cpu-fast-v5", "--dropout", "0.3", "--dropoute", "0.1"],
    "dropout-0.3-wdrop-0.2": ["--preset", "cpu-fast-v5", "--dropout", "0.3", "--wdrop", "0.2"],
    # ... or more capacity, now that the bf16 step is cheap: a wider embedding and LSTM (tied: no projection)
    "dropout-0.3-width-640": ["--preset", "cpu-fast-v5", "--dropout", "0.3", "--embed-size", "640", "--hidden-size", "640"],
    # ... which overfit in its fifth epoch: more dropout; and batches of 128 poems, whose bf16 products use AMX
    # better (1.28x the tokens/s of 64 at 512 units, 640 units at 0.95x the default's; the rate scaled by ~sqrt 2)
    "dropout-0.4-width-640": ["--preset", "cpu-fast-v5", "--dropout", "0.4", "--embed-size", "640", "--hidden-size", "640"],
    "batch-128-width-640": ["--preset", "cpu-fast-v5", "--dropout", "0.4", "--embed-size", "640", "--hidden-size", "640",
                            "--batch-size", "128", "--lr", "7e-3"],
    "batch-128": ["--preset", "cpu-fast-v5", "--dropout", "0.3", "--batch-size", "128", "--lr", "7e-3"],
    # the reference's tanh on the input embeddings (never measured): left out
    "activation-none": ["--preset", "cpu-fast-v5", "--dropout", "0.3", "--activation", "none"],
    # where six epochs overfit, more of each long poem to learn from (the text past the cut: 15% more at 64)
    "dropout-0.3-train-seq-len-65": ["--preset", "cpu-fast-v5", "--dropout", "0.3", "--train-seq-len", "65"],
    "dropout-0.3-train-seq-len-97": ["--preset", "cpu-fast-v5", "--dropout", "0.3", "--train-seq-len", "97"],
    # 2026-12-04 (fourth session): the text past the cut read in windows of 48, the state carried (--train-window),
    # on cpu-fast-v6, the default then (the last is the default since: cpu-fast)
    "windows-97": ["--preset", "cpu-fast-v6", "--train-seq-len", "97", "--train-window", "48"],
    "windows-whole": ["--preset", "cpu-fast-v6", "--train-seq-len", "10000", "--train-window", "48"],
    "windows-whole-batch-128": ["--preset", "cpu-fast-v6", "--train-seq-len", "10000", "--train-window", "48",
                                "--batch-size", "128", "--lr", "7e-3"],
    "windows-whole-dropout-0.2": ["--preset", "cpu-fast-v6", "--train-seq-len", "10000", "--train-window", "48",
                                  "--dropout", "0.2"],
    "windows-66-dropout-0.2": ["--preset", "cpu-fast-v6", "--train-seq-len", "10000", "--train-window", "66",
                               "--dropout", "0.2"],
    "windows-66-batch-128": WINDOWS_66_BATCH_128 + ["--lr", "7e-3"],
    # 2026-12-04 (sixth session): the default since (windows-66-batch-128) had its best weights at its last step
    # in two runs, still learning: less dropout, or a higher rate
    "windows-66-batch-128-dropout-0.2": WINDOWS_66_BATCH_128 + ["--lr", "7e-3", "--dropout", "0.2"],
    "windows-66-batch-128-lr-0.01": WINDOWS_66_BATCH_128 + ["--lr", "1e-2"],
    # seventh session: with the softmax's rows rounded the step is 1.2x faster and the default has five epochs,
    # its last flat: more units (640 learned more per epoch than 512 on 2026-12-04, in batches of 64)
    "windows-66-batch-128-width-640": WINDOWS_66_BATCH_128 + ["--lr", "7e-3", "--embed-size", "640", "--hidden-size", "640"],
    # eighth session: the step 1.13x faster (dropout's mask, the rows with a target picked by index); 28% of the
    # default's rows were padding: each row reads its poems back to back (--pack-poems), or not; unpacked is
    # cpu-fast-v7, the default until 2026-12-05, packed-width-640 the default since
    "unpacked": ["--preset", "cpu-fast-v7"],
    "packed": ["--preset", "cpu-fast-v7", "--pack-poems"],
    "packed-width-640": ["--preset", "cpu-fast-v7", "--pack-poems", "--embed-size", "640", "--hidden-size", "640"],
}
STANDARD_SEQ_LEN = 49       # the validation every earlier figure used: each poem's first 48 characters
SUMMARY = re.compile(r"best weights \(step (\d+)\): valid ppl ([\d.]+) on the full split")
PACE = re.compile(r"after (\d+) steps \(([\d.]+) epochs\), (\d+) tokens/s")


def run(out, name, minutes, seed):
    folder = out / name
    if (folder / "train.log").exists():
        print(f"{name}: already in {folder}", file=sys.stderr)
        return
    folder.mkdir(parents=True)
    with open(folder / "train.log", "w") as log:
        subprocess.run(["rnnlab", "train", *VARIANTS[name], "--time-budget", str(minutes), "--seed", str(seed),
                        "--no-progress", "--out", str(folder / "run")], stdout=log, stderr=subprocess.STDOUT, check=True)
    score(folder, seed)


def adopt(out, name, run_dir, log, seed):
    """A run trained elsewhere (the README's first command, from a fresh clone) as a row: OUT/NAME/run links
    to it, its log is copied, and it is scored as `run` scores a variant."""
    folder = out / name
    folder.mkdir(parents=True)
    (folder / "run").symlink_to(Path(run_dir).resolve())
    (folder / "train.log").write_text(Path(log).read_text())
    score(folder, seed)


def score(folder, seed):
    """The standard perplexity and 300 unconstrained poems of each regulated form of the run in folder/run."""
    (folder / "standard.json").write_text(json.dumps(standard_perplexity(folder / "run")))
    for form in FORMS:
        result = subprocess.run(["rnnlab", "eval-gen", "--checkpoint", str(folder / "run"), "--form", form, "--num", "300",
                                 "--seed", str(seed), "--json"], capture_output=True, text=True, check=True)
        (folder / f"evalgen-{form}.json").write_text(result.stdout)


def standard_perplexity(run_dir):
    """The best weights' perplexity on the validation poems cut as every earlier figure cut them
    (--seq-len 49), whatever the run's own --seq-len: comparable across variants. Beside it the same
    without the end marks of the poems that were cut (37% of them): that <eos> is an artefact of the
    cut, cheap for a model trained on cut poems and dear for one trained on whole poems."""
    from dataclasses import replace

    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.data.dataset import Split, prepare
    from rnnlab.training.perplexity import poem_perplexity

    ckpt = load_checkpoint(run_dir)
    cut = prepare(replace(ckpt.data_config, seq_len=STANDARD_SEQ_LEN, cut_end=True), vocab=ckpt.vocab).valid
    whole = prepare(replace(ckpt.data_config, seq_len=10**6, cut_end=True), vocab=ckpt.vocab).valid
    was_cut = [len(whole[i]) > len(cut[i]) for i in range(len(cut))]
    without_cut_end_marks = Split.from_lists([cut[i][:-1] if was_cut[i] else cut[i] for i in range(len(cut))])
    return {"valid_ppl": poem_perplexity(ckpt.model, cut, ckpt.vocab.pad),
            "without_cut_end_marks": poem_perplexity(ckpt.model, without_cut_end_marks, ckpt.vocab.pad)}


def standard(folder):
    """standard.json's figures, measured again where a file from before the second figure lacks it."""
    path = folder / "standard.json"
    figures = json.loads(path.read_text())
    if "without_cut_end_marks" not in figures:
        figures = standard_perplexity(folder / "run")
        path.write_text(json.dumps(figures))
    return {"standard_valid_ppl": figures["valid_ppl"], "without_cut_end_marks": figures["without_cut_end_marks"]}


def figures(folder):
    """One variant's figures from its log and eval-gen results."""
    log = (folder / "train.log").read_text()
    best, pace = SUMMARY.search(log), PACE.search(log)
    row = {"name": folder.name, "options": VARIANTS.get(folder.name), "best_step": int(best[1]),
           "valid_ppl": float(best[2]), "steps": int(pace[1]), "epochs": float(pace[2]), "tokens_per_s": int(pace[3]),
           **standard(folder)}
    for form in FORMS:
        result = json.loads((folder / f"evalgen-{form}.json").read_text())
        row[form] = {"rhyme": result["rhyme"], "tones": result["tones"], "poets": result["poets"]}
    return row


def table(rows):
    head = "| variant | validation ppl (full split, first 48 characters) | the same without cut poems' end marks | " \
        "steps | tokens/s | " + " | ".join(f"{form} rhyme / tones" for form in FORMS) + " |"
    lines = [head, "|" + "---|" * (5 + len(FORMS))]
    for r in rows:
        cells = [f"{r[f]['rhyme']:.1%} / {r[f]['tones']:.1%}" for f in FORMS]
        lines.append(f"| {r['name']} | {r['standard_valid_ppl']:.2f} | {r['without_cut_end_marks']:.2f} | {r['steps']} | "
                     f"{r['tokens_per_s']} | " + " | ".join(cells) + " |")
    poets = rows[0][next(iter(FORMS))]["poets"] and [rows[0][f]["poets"] for f in FORMS]
    if poets:
        lines.append("| the poets (`rnnlab prosody tang`) | | | | | " + " | ".join(
            f"{p['rhyme']:.1%} / {p['tones']:.1%}" for p in poets) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("action", choices=["run", "adopt", "table"])
    p.add_argument("names", nargs="*", help=f"run: the variants to run: {', '.join(VARIANTS)}; adopt: NAME RUN_DIR LOG")
    a = p.parse_args()
    unknown = [name for name in a.names if name not in VARIANTS]
    if a.action == "adopt":
        if len(a.names) != 3:
            p.error("adopt takes NAME RUN_DIR LOG")
        adopt(a.out, *a.names, a.seed)
    elif unknown:
        p.error(f"unknown variant {unknown[0]}; choose from {', '.join(VARIANTS)}")
    if a.action == "run":
        for name in a.names:
            run(a.out, name, a.minutes, a.seed)
    rows = [figures(d) for d in sorted(a.out.iterdir()) if (d / "evalgen-qilv.json").exists()]
    (a.out / "levers.json").write_text(json.dumps({"machine": describe(), "minutes": a.minutes, "rows": rows},
                                                  indent=1, ensure_ascii=False))
    import torch

    machine = describe()
    print(f"{machine['cpu']} ({', '.join(machine['simd'])}), torch {torch.__version__}, {a.minutes:g} minutes each, "
          f"seed {a.seed}")
    print(table(rows))


if __name__ == "__main__":
    main()
