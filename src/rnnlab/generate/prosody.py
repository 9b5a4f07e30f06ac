"""Tone (平仄) and rhyme group of a character, from pypinyin, with the modern-standard convention.

Tone: Mandarin tones 1 and 2 are 平 (level), 3 and 4 are 仄 (oblique); a character without a known
reading (or in the neutral tone) has no tone. A polyphonic character gets its most common reading.
Rhyme: the final without its medial, grouped as in the 中华新韵 (fourteen rhyme groups), e.g.
an / ian / uan / üan rhyme; zhi chi shi ri zi ci si have their own group, apart from i.
"""
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

PING, ZE = 0, 1
TONE_NAMES = {PING: "平", ZE: "仄"}

# 中华新韵: group name -> the pypinyin finals (strict, ü written as v) that belong to it
RHYME_GROUPS = {
    "麻": ("a", "ia", "ua"),
    "波": ("o", "uo"),
    "歌": ("e",),
    "皆": ("ie", "ve"),
    "支": ("-i",),
    "儿": ("er",),
    "齐": ("i",),
    "微": ("ei", "uei"),
    "开": ("ai", "uai"),
    "姑": ("u",),
    "鱼": ("v",),
    "侯": ("ou", "iou"),
    "豪": ("ao", "iao"),
    "寒": ("an", "ian", "uan", "van"),
    "痕": ("en", "in", "uen", "vn"),
    "唐": ("ang", "iang", "uang"),
    "庚": ("eng", "ing", "ueng", "ong", "iong"),
}
GROUP_OF_FINAL = {final: k for k, (_, finals) in enumerate(RHYME_GROUPS.items()) for final in finals}
GROUP_NAMES = list(RHYME_GROUPS)
APICAL_INITIALS = {"zh", "ch", "sh", "r", "z", "c", "s"}


def is_han(ch):
    return len(ch) == 1 and ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")


@lru_cache(maxsize=None)
def tone(ch):
    """PING, ZE, or None."""
    if not is_han(ch):
        return None
    reading = lazy_pinyin(ch, style=Style.TONE3, neutral_tone_with_five=True, errors="ignore")
    digit = reading[0][-1] if reading and reading[0][-1].isdigit() else None
    return {"1": PING, "2": PING, "3": ZE, "4": ZE}.get(digit)


@lru_cache(maxsize=None)
def rhyme_group(ch):
    """Index into GROUP_NAMES, or None."""
    if not is_han(ch):
        return None
    final = lazy_pinyin(ch, style=Style.FINALS, strict=True, errors="ignore")
    initial = lazy_pinyin(ch, style=Style.INITIALS, strict=True, errors="ignore")
    if not final or not final[0]:
        return None
    final = final[0]
    if final == "i" and initial and initial[0] in APICAL_INITIALS:
        final = "-i"
    return GROUP_OF_FINAL.get(final)
