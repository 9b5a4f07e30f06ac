"""Character vocabulary with special tokens, saved as JSON beside every model."""
import json
from collections import Counter

from rnnlab.errors import RnnlabError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)


class Vocab:
    def __init__(self, itos):
        if tuple(itos[:len(SPECIALS)]) != SPECIALS:
            raise RnnlabError(f"vocabulary must start with {', '.join(SPECIALS)}")
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.pad, self.unk, self.bos, self.eos = (self.stoi[s] for s in SPECIALS)

    @classmethod
    def build(cls, texts, min_count=3):
        """Keep characters seen at least `min_count` times (the reference keeps frequency > 2),
        most frequent first, ties broken by code point so the order is the same everywhere."""
        counts = Counter()
        for t in texts:
            counts.update(t)
        chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(list(SPECIALS) + chars)

    def __len__(self):
        return len(self.itos)

    def __contains__(self, ch):
        return ch in self.stoi and ch not in SPECIALS

    def encode(self, text):
        return [self.stoi.get(ch, self.unk) for ch in text]

    def decode(self, ids):
        return "".join(self.itos[i] for i in ids if i >= len(SPECIALS))

    def to_json(self):
        return json.dumps({"itos": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        try:
            itos = json.loads(text)["itos"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RnnlabError("vocab.json is malformed") from None
        return cls(itos)

