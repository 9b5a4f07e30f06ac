"""Hold the prosody ruler against a corpus: for each regulated form, how many of its poems there are
and the share that rhyme and that follow the tone rules (`rnnlab prosody FILE`).

Run over the poets' own regulated verse it shows what the checks of forms.py are worth; run over the
same poems with each line's characters shuffled (the line-final character kept, so rhyme is untouched)
it shows that the tone check tells verse from a bag of the same characters.
"""
import random

from rnnlab.data import readers, sources
from rnnlab.data.dataset import to_simplified
from rnnlab.generate.forms import FORMS, follows_tones, form_of, rhymes, rhymes_on_ze, split_lines


def read_poems(corpus, format=None):
    """Poems (one string each) of a corpus name or file, in simplified characters."""
    found = sources.resolve(corpus, format=format)
    texts = readers.READERS[found.format](found.path)
    return to_simplified(texts) if found.chinese else texts


def shuffle_lines(poem, rng):
    """The poem with the characters of each line shuffled, except the line's last one."""
    out = []
    for text, mark in split_lines(poem):
        head = list(text[:-1])
        rng.shuffle(head)
        out.append("".join(head) + text[-1:] + mark)
    return "".join(out)


def score(poems, prosody="classical", shuffled=False, seed=0):
    """{"forms": {form: {"poems": N, "rhyme": share, "tones": share, "ze_rhymed": M}}}.

    A poem of a regulated form's shape counts as regulated verse unless its even lines rhyme on 仄
    (those M poems are old-style verse, left out of N and of both shares)."""
    rng = random.Random(seed)
    counts = {name: [0, 0, 0, 0] for name in FORMS}
    for poem in poems:
        form = form_of(poem)
        if form is None:
            continue
        c = counts[form]
        if rhymes_on_ze(poem, prosody):
            c[3] += 1
            continue
        if shuffled:
            poem = shuffle_lines(poem, rng)
        c[0] += 1
        c[1] += rhymes(poem, prosody)
        c[2] += follows_tones(poem, prosody)
    return {"prosody": prosody, "shuffled": shuffled,
            "forms": {name: {"poems": n, "rhyme": r / max(n, 1), "tones": t / max(n, 1), "ze_rhymed": z}
                      for name, (n, r, t, z) in counts.items()}}
