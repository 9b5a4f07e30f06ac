"""The regulated forms (近体诗) and checks of a finished poem: shape, rhyme, tone pattern.

A regulated poem has 4 (绝句) or 8 (律诗) lines of 5 or 7 characters; odd lines end in `，`, even
lines in `。`. Its even lines rhyme. Its lines follow one of four tone patterns, each a sequence of the
four line types below (written for the last five characters; a seven-character line puts two
characters of the opposite tone to the type's second character in front: 仄仄平平仄 -> 平平仄仄平平仄).
Each line of a pattern may take any template of its type; a template names the tone at each position
and leaves the free positions (None) open: 一三五不论, the 1st and 3rd (and 5th) characters are free,
except where that would break one of the rules named beside the templates.
"""
import re

from rnnlab.generate.prosody import PING, ZE
from rnnlab.generate.prosody import system as reading_system

FORMS = {"wujue": (4, 5), "qijue": (4, 7), "wulv": (8, 5), "qilv": (8, 7)}   # name -> (lines, characters)
FORM_NAMES = {"wujue": "五言绝句", "qijue": "七言绝句", "wulv": "五言律诗", "qilv": "七言律诗", "free": "free"}
LINE_END = ("，", "。")                   # after odd lines, after even lines
PUNCTUATION = set("，。？！；：、")

P, Z, X = PING, ZE, None
LINE_TYPES = {
    "A": [(X, Z, X, P, Z)],                       # 仄仄平平仄 (仄仄仄平仄 is the 拗 line a poet rescues in the next)
    "B": [(P, P, X, Z, P),                        # 平平仄仄平
          (Z, P, P, Z, P)],                       # no 孤平: a 仄 first character needs a 平 third (拗救: 仄平平仄平)
    "C": [(X, P, X, Z, Z),                        # 平平平仄仄 (平平仄仄仄, 三仄尾, is tolerated)
          (X, P, Z, P, Z)],                       # the accepted variant 平平仄平仄
    "D": [(X, Z, Z, P, P)],                       # 仄仄仄平平, no 三平尾 (仄仄平平平)
}
# 拗救 across a couplet: an A line whose 4th character is 仄 (仄仄平仄仄, 大拗) is rescued by a 平 3rd
# character in its partner line (平平平仄平). Only the checker accepts it; decoding keeps to LINE_TYPES.
RESCUED_A = (X, Z, X, Z, Z)
RESCUE_COLUMN = 2                                  # in the five-character core
# The four patterns of a 律诗 (a 绝句 takes the first four lines): 仄起 or 平起 (the second character of
# line 1, in the five-character core), first line rhyming (首句入韵: a 平-ending type) or not. Lines
# alternate within a couplet (对) and stick across couplets (粘).
PATTERNS = {
    "仄起, 首句不入韵": "ABCDABCD",
    "仄起, 首句入韵": "DBCDABCD",
    "平起, 首句不入韵": "CDABCDAB",
    "平起, 首句入韵": "BDABCDAB",
}


SEQUENCES = list(PATTERNS.values())


def opposite(tone):
    return PING if tone == ZE else ZE


def widen(width, template):
    """A five-character template for a line of `width`: seven characters put two in front, the second
    of the tone opposite to the core's second."""
    return template if width == 5 else (X, opposite(template[1])) + template


def templates(width, kind):
    """The templates of line type `kind` for lines of `width` characters."""
    return [widen(width, t) for t in LINE_TYPES[kind]]


def line_options(width, line):
    """[(pattern index, template)] for line `line` of a poem: every way that line may go."""
    return [(k, t) for k, seq in enumerate(SEQUENCES) for t in templates(width, seq[line])]


def fits(tones, want):
    """A character with tone set `tones` fits `want` (None: free). An unknown character fits anything."""
    return want is None or not tones or want in tones


def line_cuts(vocab):
    """The ids after which a line of `vocab`'s text ends, <bos> and <eos> with them (Split.without's cuts)."""
    return {vocab.bos, vocab.eos} | {i for i, ch in enumerate(vocab.itos) if ch in PUNCTUATION}


def split_lines(poem):
    """Lines of a poem with their end marks: '床前明月光，疑是地上霜。' -> [('床前明月光', '，'), ...]."""
    return re.findall(r"([^，。？！；：、]+)([，。？！；：、]?)", poem)


def form_of(poem):
    """The name of the regulated form the poem has exactly, or None."""
    lines = split_lines(poem)
    for name, (n, width) in FORMS.items():
        if len(lines) == n and all(len(text) == width and mark == LINE_END[i % 2] for i, (text, mark) in enumerate(lines)):
            return name
    return None


def rhymes(poem, prosody="classical"):
    """Do the last characters of the even lines share a rhyme group? Needs at least two even lines;
    characters the reading system does not know are not counted against the poem."""
    system = reading_system(prosody)
    ends = [text[-1] for text, _ in split_lines(poem)[1::2] if text]
    known = [system.groups(ch) for ch in ends if system.groups(ch)]
    return len(ends) >= 2 and (not known or bool(frozenset.intersection(*known)))


def rhymes_on_ze(poem, prosody="classical"):
    """Do all the even lines end on a character that can only be 仄? Then the poem is old-style verse
    (古绝, 古风): regulated verse rhymes on 平."""
    system = reading_system(prosody)
    ends = [system.tones(text[-1]) for text, _ in split_lines(poem)[1::2] if text]
    return bool(ends) and all(t == {ZE} for t in ends)


def follows_tones(poem, prosody="classical"):
    """Does a regulated poem follow one of the four tone patterns, each line a template of its type or
    a rescued 拗 line? (A poem rhyming on 仄 fails: its even lines must end 平.)"""
    if form_of(poem) is None:
        return False
    system = reading_system(prosody)
    lines = [text for text, _ in split_lines(poem)]
    width = len(lines[0])
    alive = {(k, False) for k in range(len(PATTERNS))}      # (pattern, does the next line owe a rescue?)
    for i, text in enumerate(lines):
        tones = [system.tones(ch) for ch in text]
        matches = lambda t: all(fits(tn, w) for tn, w in zip(tones, t))  # noqa: E731
        rescues = fits(tones[width - 5 + RESCUE_COLUMN], PING)
        after = set()
        for k, owed in alive:
            kind = SEQUENCES[k][i]
            if owed and not rescues:
                continue
            if any(matches(t) for t in templates(width, kind)):
                after.add((k, False))
            if kind == "A" and i % 2 == 0 and matches(widen(width, RESCUED_A)):
                after.add((k, True))
        alive = after
    return any(not owed for _, owed in alive)
