"""What the plain LSTM may be told about the characters it has read (issue 23): their prosody, from the
tables the decoder's constraints and the ruler use (generate/prosody.py, the classical 平水韵), each
embedded at the embedding's size and added to the character's own embedding.

    position   the character's place in its line (0 = first, capped at MAX_POSITION) and the line's
               index (capped at MAX_LINE); a punctuation mark ends a line, as in forms.split_lines
    tones      its tone class: 平, 仄, either (a polyphone) or unknown
    rhyme      its rhyme groups (the sum of their embeddings), and those of the rhyme so far: the last
               character of the last even line read

With `prosody_loss` a linear head on the LSTM's output predicts the next character's tone class and
rhyme group beside the character itself (next_character_loss), so that the state learns to carry them.

Every input is a function of the characters read so far, never of the one the model is about to
predict. The counters that need the past (position, line, the previous character, the rhyme so far)
ride in the recurrent state, so a poem read in one call and one character at a time gets the same
inputs (tests/nn/test_prosody_inputs.py).
"""
import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.nn.configs import PROSODY_INPUTS as INPUTS  # noqa: F401 (the names, declared with the option)

MAX_POSITION, MAX_LINE = 8, 16
TONE_CLASSES = ("平", "仄", "either", "unknown")
POSITION, LINE, PREVIOUS, RHYME = range(4)          # the counters, (1, B, 4) in the state
CHARACTER, MARK, START = range(3)                   # a token's kind


def prosody_tables(vocab, system="classical"):
    """{name: tensor} over the vocabulary's ids: tone class (V,), rhyme groups multi-hot (V, G) and kind (V,):
    CHARACTER, MARK (a punctuation mark: the line ends) or START (<bos>: a poem begins)."""
    from rnnlab.generate.forms import PUNCTUATION
    from rnnlab.generate.prosody import PING, ZE
    from rnnlab.generate.prosody import system as reading_system

    book = reading_system(system)
    tone = torch.full((len(vocab),), TONE_CLASSES.index("unknown"))
    groups = torch.zeros(len(vocab), len(book.group_names))
    for i, ch in enumerate(vocab.itos):
        tones = book.tones(ch)
        if tones:
            tone[i] = 2 if len(tones) == 2 else {PING: 0, ZE: 1}[next(iter(tones))]
        groups[i, list(book.groups(ch))] = 1.0
    kind = torch.tensor([MARK if ch in PUNCTUATION else CHARACTER for ch in vocab.itos])
    kind[vocab.bos] = START
    return {"tone": tone, "groups": groups, "kind": kind}


class ProsodyInputs(nn.Module):
    def __init__(self, inputs, embed_size, tables, pad):
        """inputs: a subset of INPUTS; tables: prosody_tables(vocab) (or a checkpoint's copy); pad: the
        padding id (no groups), the 'previous character' and 'rhyme so far' before any was read."""
        super().__init__()
        self.inputs, self.pad = tuple(inputs), pad
        for name, table in tables.items():
            self.register_buffer(name, table.clone())
        n_groups = tables["groups"].shape[1]
        if "position" in self.inputs:
            self.position_embedding = nn.Embedding(MAX_POSITION + 1, embed_size)
            self.line_embedding = nn.Embedding(MAX_LINE + 1, embed_size)
        if "tones" in self.inputs:
            self.tone_embedding = nn.Embedding(len(TONE_CLASSES), embed_size)
        if "rhyme" in self.inputs:
            self.group_embedding = nn.Linear(n_groups, embed_size, bias=False)
            self.rhyme_embedding = nn.Linear(n_groups, embed_size, bias=False)

    def next_character_loss(self, scores, targets):
        """scores (N, 4 + G) for N target characters -> the summed cross entropy of their tone classes and of
        their rhyme groups (a polyphone's target spread evenly over its groups; marks and characters the
        tables do not know have no group and are left out of that part)."""
        tone_loss = F.cross_entropy(scores[:, :len(TONE_CLASSES)], self.tone[targets], reduction="sum")
        groups = self.groups[targets]
        known = groups.sum(-1) > 0
        spread = groups[known] / groups[known].sum(-1, keepdim=True)
        group_loss = -(spread * F.log_softmax(scores[known, len(TONE_CLASSES):], -1)).sum()
        return tone_loss + group_loss

    def start(self, tokens):
        """The counters before the first character: position 0, line 0, nothing read, no rhyme."""
        counters = torch.zeros(1, tokens.shape[0], 4, dtype=torch.long, device=tokens.device)
        counters[..., PREVIOUS] = counters[..., RHYME] = self.pad
        return counters

    def forward(self, tokens, counters=None):
        """tokens (B, T) -> the sum of the chosen inputs' embeddings (B, T, E), the counters after them."""
        counters = self.start(tokens) if counters is None else counters
        position, line, previous, rhyme = counters[0].unbind(-1)
        places, rhymes = [], []
        for token in tokens.unbind(1):                # one step of the counters per character read
            kind = self.kind[token]
            mark, start = kind == MARK, kind == START
            line = torch.where(start, 0, line)                              # <bos>: a new poem
            rhyme = torch.where(start, self.pad, torch.where(mark & (line % 2 == 1), previous, rhyme))  # an even line ended
            places.append(torch.stack([position, line], -1))
            rhymes.append(rhyme)
            position, line = torch.where(kind == CHARACTER, position + 1, 0), line + mark.long()
            previous = token
        place, rhyme_so_far = torch.stack(places, 1), torch.stack(rhymes, 1)
        total = 0
        if "position" in self.inputs:
            total = total + self.position_embedding(place[..., 0].clamp(max=MAX_POSITION)) \
                + self.line_embedding(place[..., 1].clamp(max=MAX_LINE))
        if "tones" in self.inputs:
            total = total + self.tone_embedding(self.tone[tokens])
        if "rhyme" in self.inputs:
            total = total + self.group_embedding(self.groups[tokens]) + self.rhyme_embedding(self.groups[rhyme_so_far])
        return total, torch.stack([position, line, previous, rhyme], -1)[None]
