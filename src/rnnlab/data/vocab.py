"""Character vocabulary with special tokens, saved as JSON beside every model."""
import json
from collections import Counter

from rnnlab.errors import RnnlabError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)


def form_token(form):
    """The token of a poem's form (--form-token): '<wujue>', '<free>', ... after the characters."""
    return f"<{form}>"


class Vocab:
    def __init__(self, itos):
        if tuple(itos[:len(SPECIALS)]) != SPECIALS:
            raise RnnlabError(f"vocabulary must start with {', '.join(SPECIALS)}")
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.pad, self.unk, self.bos, self.eos = (self.stoi[s] for s in SPECIALS)
        # --form-token: {form: id}, the last ids; a character is one letter, so no character looks like one
        self.form_ids = {s[1:-1]: i for i, s in enumerate(self.itos)
                         if i >= len(SPECIALS) and len(s) > 2 and s[0] == "<" and s[-1] == ">"}
        self.not_text = set(range(len(SPECIALS))) | set(self.form_ids.values())

    @classmethod
    def build(cls, texts, min_count=3, forms=()):
        """Keep characters seen at least `min_count` times (the reference keeps frequency > 2),
        most frequent first, ties broken by code point so the order is the same everywhere; then a token
        for each of `forms` (--form-token)."""
        counts = Counter()
        for t in texts:
            counts.update(t)
        chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(list(SPECIALS) + chars + [form_token(f) for f in forms])

    def __len__(self):
        return len(self.itos)

    def __contains__(self, ch):
        return self.stoi.get(ch, 0) not in self.not_text

    def encode(self, text):
        return [self.stoi.get(ch, self.unk) for ch in text]

    def poem(self, text, form=None):
        """A poem's ids as the model reads them: [<bos>, (its form's token, with --form-token), c1, ..., <eos>];
        `form` is forms.form_of(text): a regulated form's name, or None for any other poem ("free")."""
        return [self.bos] + ([self.form_ids[form or "free"]] if self.form_ids else []) + self.encode(text) + [self.eos]

    def decode(self, ids):
        return "".join(self.itos[i] for i in ids if i not in self.not_text)

    def to_json(self):
        return json.dumps({"itos": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        try:
            itos = json.loads(text)["itos"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RnnlabError("vocab.json is malformed") from None
        return cls(itos)

