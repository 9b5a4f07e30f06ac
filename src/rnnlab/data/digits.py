"""The digit-sum memory task (issue 6; the textbook that 003_*.txt follows).

For every pair of first digits (n1, n2) in 0-9 there is a base sequence [n1, n2, 0, ..., 0] of length L
with the label n1 + n2 (19 classes). An example is a copy of a base with exactly one position from
index 2 to L-1 set to a random digit 0-9, so the model must remember the first two digits to the end.
Train has 3 copies per base (300 examples), dev and test 1 (100 each), drawn in that order from one
seeded generator. Files: {L}/train.txt, dev.txt, test.txt, lines "d d ... d<TAB>label".
"""
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_text

LENGTHS = (5, 10, 15, 20, 25, 30, 35)
SPLITS = (("train", 3), ("dev", 1), ("test", 1))
NUM_CLASSES = 19


def make_examples(rng, length, copies):
    """(digits (N, L) int64, labels (N,)) with `copies` examples per base, bases in order (n1, n2)."""
    if length < 3:
        raise RnnlabError(f"sequence length must be at least 3 (got {length})")
    digits, labels = [], []
    for n1 in range(10):
        for n2 in range(10):
            for _ in range(copies):
                seq = np.zeros(length, dtype=np.int64)
                seq[0], seq[1] = n1, n2
                seq[rng.integers(2, length)] = rng.integers(0, 10)
                digits.append(seq)
                labels.append(n1 + n2)
    return np.stack(digits), np.array(labels, dtype=np.int64)


def generate(length, seed=0):
    """{"train": (x, y), "dev": (x, y), "test": (x, y)} from one generator, in that order."""
    rng = np.random.default_rng(seed)
    return {name: make_examples(rng, length, copies) for name, copies in SPLITS}


def write(out_dir, lengths=LENGTHS, seed=0):
    """Write {L}/{split}.txt for each length; returns the folders written."""
    folders = []
    every = {length: generate(length, seed) for length in lengths}   # all checked before anything is written
    for length, splits in every.items():
        folder = Path(out_dir) / str(length)
        folder.mkdir(parents=True, exist_ok=True)
        for name, (x, y) in splits.items():
            lines = [" ".join(map(str, row)) + f"\t{label}" for row, label in zip(x, y)]
            atomic_write_text(folder / f"{name}.txt", "\n".join(lines) + "\n")
        folders.append(folder)
    return folders


def load(path):
    """Read one split file back into (digits (N, L), labels (N,))."""
    from rnnlab.data.readers import read_text_file

    digits, labels = [], []
    for number, line in enumerate(read_text_file(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            seq, label = line.split("\t")
            row = [int(d) for d in seq.split()]
            label = int(label)
        except ValueError:
            raise RnnlabError(f"{path}:{number}: expected 'd d ... d<TAB>label'") from None
        if not row or any(not 0 <= d <= 9 for d in row) or not 0 <= label < NUM_CLASSES \
                or (digits and len(row) != len(digits[0])):
            raise RnnlabError(f"{path}:{number}: digits must be 0-9, all rows of one length, label 0-18")
        digits.append(row)
        labels.append(label)
    if not digits:
        raise RnnlabError(f"{path}: no examples")
    return np.array(digits, dtype=np.int64), np.array(labels, dtype=np.int64)
