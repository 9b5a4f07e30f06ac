"""Cleaning as in the reference (PART 2 §1): drop annotated or damaged poems, drop short ones,
truncate long ones. Every drop is counted by its reason."""
from collections import Counter
from dataclasses import dataclass, field

# Brackets mark editors' annotations, variant readings and titles; □ and _ mark missing glyphs.
BAD_CHARS = "（）()《》[]【】〖〗{}_□"


@dataclass
class CleanStats:
    read: int = 0
    dropped: Counter = field(default_factory=Counter)
    truncated: int = 0
    kept: int = 0

    def as_dict(self):
        return {"read": self.read, "dropped": dict(self.dropped), "truncated": self.truncated, "kept": self.kept}


def clean_poems(poems, min_len, max_len, bad_chars=BAD_CHARS):
    """Return (kept poems, stats). Whitespace inside a poem is removed first."""
    stats = CleanStats(read=len(poems))
    bad = set(bad_chars)
    kept = []
    for poem in poems:
        poem = "".join(poem.split())
        if not poem:
            stats.dropped["empty"] += 1
        elif bad.intersection(poem):
            stats.dropped["bad_char"] += 1
        elif len(poem) < min_len:
            stats.dropped["too_short"] += 1
        else:
            if len(poem) > max_len:
                poem = poem[:max_len]
                stats.truncated += 1
            kept.append(poem)
    stats.kept = len(kept)
    return kept, stats


def text_windows(text, length):
    """Cut running text into consecutive windows of `length` characters (the last partial one is dropped)."""
    return [text[i:i + length] for i in range(0, len(text) - length + 1, length)]
