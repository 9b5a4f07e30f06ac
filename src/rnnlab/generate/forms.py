"""The regulated forms (近体诗) and checks of a finished poem: shape, rhyme, tone pattern.

A regulated poem has 4 (绝句) or 8 (律诗) lines of 5 or 7 characters; odd lines end in `，`, even
lines in `。`. Its even lines rhyme. Its tone pattern is one of two standard ones, decided by the
second character of the first line; only the 2nd, 4th (6th) and last characters of a line are
checked, the others are free (一三五不论).
"""
import re

from rnnlab.generate.prosody import PING, ZE, rhyme_group, tone

FORMS = {"wujue": (4, 5), "qijue": (4, 7), "wulv": (8, 5), "qilv": (8, 7)}   # name -> (lines, characters)
FORM_NAMES = {"wujue": "五言绝句", "qijue": "七言绝句", "wulv": "五言律诗", "qilv": "七言律诗", "free": "free"}
LINE_END = ("，", "。")                   # after odd lines, after even lines
PUNCTUATION = set("，。？！；：、")

_P, _Z = PING, ZE
_FIVE = {"A": (_Z, _Z, _P, _P, _Z), "B": (_P, _P, _Z, _Z, _P), "C": (_P, _P, _P, _Z, _Z), "D": (_Z, _Z, _Z, _P, _P)}
_SEVEN = {"A": (_P, _P) + _FIVE["A"], "B": (_Z, _Z) + _FIVE["B"], "C": (_Z, _Z) + _FIVE["C"], "D": (_P, _P) + _FIVE["D"]}
# width -> the tone of line 1's second character -> the four lines of a stanza (repeated in a 律诗)
PATTERNS = {
    5: {ZE: [_FIVE[k] for k in "ABCD"], PING: [_FIVE[k] for k in "CDAB"]},
    7: {PING: [_SEVEN[k] for k in "ABCD"], ZE: [_SEVEN[k] for k in "CDAB"]},
}
KEY_COLUMNS = {5: (1, 3, 4), 7: (1, 3, 5, 6)}


def required_tone(width, family, line, col):
    """The tone a regulated form wants at (line, col), or None where the character is free."""
    if col not in KEY_COLUMNS[width]:
        return None
    return PATTERNS[width][family][line % 4][col]


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


def rhymes(poem):
    """Do the last characters of the even lines share a rhyme group? (Needs at least two even lines.)"""
    ends = [text[-1] for text, _ in split_lines(poem)[1::2] if text]
    groups = {rhyme_group(ch) for ch in ends}
    return len(ends) >= 2 and len(groups) == 1 and None not in groups


def follows_tones(poem):
    """Does a regulated poem follow one of its two standard tone patterns at every checked position?"""
    if form_of(poem) is None:
        return False
    lines = [text for text, _ in split_lines(poem)]
    width = len(lines[0])
    family = tone(lines[0][1])
    if family is None:
        return False
    return all(tone(text[col]) == required_tone(width, family, i, col)
               for i, text in enumerate(lines) for col in KEY_COLUMNS[width])
