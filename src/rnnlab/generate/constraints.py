"""Constrained decoding: at each step, which tokens each poem in the batch may take next.

`Constraints.at(step)` gives, for every row, the allowed tokens (a boolean mask; a forced token —
start text, acrostic, punctuation of a regulated form, the end — is the only one allowed) and a bonus
added to the log-probabilities (the soft constraints). The sampler renormalises the model's
distribution over the allowed tokens.
`advance(tokens)` updates each row's state (line, column, tone family, rhyme group), and `reorder`
follows the beams of a beam search.
"""
import math

import torch

from rnnlab.errors import RnnlabError
from rnnlab.generate.forms import FORM_NAMES, FORMS, KEY_COLUMNS, LINE_END, PUNCTUATION, required_tone, split_lines
from rnnlab.generate.prosody import PING, TONE_NAMES, ZE, is_han, rhyme_group, tone

SOFT_PENALTY = math.log(0.1)      # a soft constraint makes a violating token 10x less likely
MODES = (None, "soft", "hard")


class Constraints:
    def __init__(self, vocab, rows, form="free", start="", acrostic="", rhyme=None, tones=None, max_len=64,
                 device="cpu"):
        if form != "free" and form not in FORMS:
            raise RnnlabError(f"unknown form {form!r}; choose from {', '.join(FORM_NAMES)}", "form")
        if rhyme not in MODES or tones not in MODES:
            raise RnnlabError("rhyme and tones are soft or hard", "rhyme")
        if form == "free" and (rhyme or tones):
            raise RnnlabError("rhyme and tone constraints need a regulated form (wujue, qijue, wulv, qilv)",
                              "rhyme" if rhyme else "tones")
        self.vocab, self.rows, self.form, self.device = vocab, rows, form, device
        self.start, self.acrostic, self.rhyme, self.tones = start, acrostic, rhyme, tones
        itos = vocab.itos
        self.han = torch.tensor([is_han(ch) and ch in vocab for ch in itos], device=device)
        self.punct = torch.tensor([ch in PUNCTUATION for ch in itos], device=device)
        self.character = torch.tensor([ch in vocab for ch in itos], device=device)     # anything but the specials
        self.tone = torch.tensor([-1 if tone(ch) is None else tone(ch) for ch in itos], device=device)
        self.group = torch.tensor([-1 if rhyme_group(ch) is None else rhyme_group(ch) for ch in itos], device=device)
        if form == "free":
            self.length = max_len
        else:
            self.lines, self.width = FORMS[form]
            self.length = self.lines * (self.width + 1)
            missing = [mark for mark in LINE_END if mark not in vocab]
            if missing:
                raise RnnlabError(f"the model's vocabulary lacks {''.join(missing)}, needed by {FORM_NAMES[form]}", "form")
        self._check_request()
        self.line = torch.zeros(rows, dtype=torch.long, device=device)     # line index of the next token
        self.col = torch.zeros(rows, dtype=torch.long, device=device)      # its column within the line
        self.family = torch.full((rows,), -1, dtype=torch.long, device=device)   # tone of line 1's 2nd character
        self.rhyme_of = torch.full((rows,), -1, dtype=torch.long, device=device)  # rhyme group of line 2

    # -- checks of the request, before any decoding -------------------------------------------------
    def _check_request(self):
        start, acrostic = self.start, self.acrostic
        for field, text in (("start", start), ("acrostic", acrostic)):
            unknown = sorted({ch for ch in text if ch not in self.vocab})
            if unknown:
                raise RnnlabError(f"characters outside the model's vocabulary: {''.join(unknown)}", field)
        bad = sorted({ch for ch in acrostic if not is_han(ch)})
        if bad:
            raise RnnlabError(f"the acrostic must be Chinese characters, not {''.join(bad)}", "acrostic")
        if self.form == "free":
            if len(start) >= self.length:
                raise RnnlabError(f"max-len ({self.length}) must exceed the length of the start text ({len(start)})", "max_len")
            if start and start[0] in PUNCTUATION:
                raise RnnlabError("the start text cannot begin with punctuation", "start")
            if len(acrostic) * 2 > self.length:
                raise RnnlabError(f"max-len ({self.length}) is too short for a {len(acrostic)}-line acrostic", "max_len")
            for i, (line, _) in enumerate(split_lines(start)[:len(acrostic)]):
                if line and line[0] != acrostic[i]:
                    raise RnnlabError(f"line {i + 1} of the start text begins with {line[0]}, the acrostic with {acrostic[i]}", "start")
            return
        name = FORM_NAMES[self.form]
        if self.tones == "hard" and not ((self.tone == PING).any() and (self.tone == ZE).any()):
            raise RnnlabError("hard tones need characters of both tones (平 and 仄) in the model's vocabulary", "tones")
        rhymable = (self.group >= 0) & ((self.tone == PING) if self.tones == "hard" else True)
        if self.rhyme == "hard" and not rhymable.any():
            raise RnnlabError("hard rhyme needs characters with a known rhyme group (and tone 平 with hard tones)", "rhyme")
        if len(acrostic) > self.lines:
            raise RnnlabError(f"an acrostic of {len(acrostic)} characters is longer than the {self.lines} lines of {name}", "acrostic")
        if len(start) > self.length:
            raise RnnlabError(f"the start text is longer than a whole {name}", "start")
        family = None
        for p, ch in enumerate(start):
            line, col = divmod(p, self.width + 1)
            if col == self.width:
                if ch != LINE_END[line % 2]:
                    raise RnnlabError(f"{name} needs {LINE_END[line % 2]} after line {line + 1}, the start text has {ch}", "start")
                continue
            if not is_han(ch):
                raise RnnlabError(f"{name} needs a Chinese character at position {p + 1} of the start text, not {ch}", "start")
            if col == 0 and line < len(acrostic) and ch != acrostic[line]:
                raise RnnlabError(f"line {line + 1} of the start text begins with {ch}, the acrostic with {acrostic[line]}", "start")
            if self.tones == "hard" and col in KEY_COLUMNS[self.width]:
                t = tone(ch)
                if t is None:
                    raise RnnlabError(f"start character {ch} has no known tone, so hard tones cannot be kept", "start")
                if family is None and line == 0 and col == 1:
                    family = t
                elif family is not None and t != required_tone(self.width, family, line, col):
                    raise RnnlabError(f"start character {ch} breaks the tone pattern: position {p + 1} needs "
                                      f"{TONE_NAMES[required_tone(self.width, family, line, col)]}", "start")
        if self.rhyme == "hard":
            ends = [start[p] for p in range(self.width + (self.width + 1), len(start), 2 * (self.width + 1))]
            groups = {rhyme_group(ch) for ch in ends}
            if None in groups or len(groups) > 1:
                raise RnnlabError(f"the start text's even lines end in {''.join(ends)}, which do not rhyme", "start")

    # -- per step ------------------------------------------------------------------------------------
    def at(self, step):
        """(allowed (rows, V) bool, bonus (rows, V) float or None). A forced token (start text, acrostic,
        punctuation of a form, the end) is the only one its row allows."""
        forced = torch.full((self.rows,), -1, dtype=torch.long, device=self.device)
        if step < len(self.start):
            forced[:] = self.vocab.stoi[self.start[step]]
        allowed, bonus = (self._free if self.form == "free" else self._regulated)(step, forced)
        rows = forced >= 0
        allowed[rows] = torch.nn.functional.one_hot(forced[rows], len(self.vocab)).bool()
        return allowed, bonus

    def _free(self, step, forced):
        V, rows, vocab = len(self.vocab), self.rows, self.vocab
        if step >= self.length:                                           # the length cap
            forced[:] = vocab.eos
        allowed = self.character.expand(rows, V).clone()
        allowed[:, vocab.eos] = True
        if self.acrostic:                                                 # any punctuation mark ends a line
            allowed[self.col == 0] &= ~self.punct
            acrostic_ids = torch.tensor(vocab.encode(self.acrostic) + [vocab.eos], device=self.device)
            due = (self.col == 0) & (forced < 0)
            forced[due] = acrostic_ids[self.line[due].clamp(max=len(self.acrostic))]
            allowed[:, vocab.eos] = self.line >= len(self.acrostic)
        return allowed, None

    def _regulated(self, step, forced):
        V, rows, vocab = len(self.vocab), self.rows, self.vocab
        allowed = torch.zeros(rows, V, dtype=torch.bool, device=self.device)
        if step >= self.length:
            forced[:] = vocab.eos
            return allowed, None
        line, col = divmod(step, self.width + 1)
        if col == self.width:
            forced[:] = vocab.stoi[LINE_END[line % 2]]
            return allowed, None
        if forced[0] < 0 and col == 0 and line < len(self.acrostic):
            forced[:] = vocab.stoi[self.acrostic[line]]
        allowed[:] = self.han
        bonus = torch.zeros(rows, V, device=self.device) if "soft" in (self.rhyme, self.tones) else None
        if self.tones and col in KEY_COLUMNS[self.width]:
            if line == 0 and col == 1:
                wrong = (self.tone < 0).expand(rows, V)                 # either tone, but a known one
            else:
                want = torch.tensor([required_tone(self.width, max(f, 0), line, col) for f in self.family.tolist()],
                                    device=self.device)
                wrong = self.tone[None, :] != want[:, None]
            self._apply(self.tones, wrong, allowed, bonus)
        if self.rhyme and line % 2 == 1 and col == self.width - 1:
            if line == 1:
                wrong = (self.group < 0).expand(rows, V)
            else:
                wrong = self.group[None, :] != self.rhyme_of[:, None]
            self._apply(self.rhyme, wrong, allowed, bonus)
        return allowed, bonus

    @staticmethod
    def _apply(mode, wrong, allowed, bonus):
        if mode == "hard":
            allowed &= ~wrong
        else:
            bonus += wrong * SOFT_PENALTY

    def advance(self, tokens):
        """Record the tokens just chosen (rows,)."""
        if self.form == "free":
            is_punct = self.punct[tokens]
            self.line += is_punct
            self.col = torch.where(is_punct, 0, self.col + 1)
            return
        step = int(self.col[0]) + int(self.line[0]) * (self.width + 1)
        line, col = divmod(step, self.width + 1)
        if line == 0 and col == 1:
            self.family = torch.where(self.tone[tokens] == ZE, ZE, PING)
        if line == 1 and col == self.width - 1:
            self.rhyme_of = self.group[tokens]
        step += 1
        self.line[:], self.col[:] = divmod(step, self.width + 1)

    def reorder(self, index):
        """Keep the rows named by `index` (beam search)."""
        self.rows = len(index)
        for name in ("line", "col", "family", "rhyme_of"):
            setattr(self, name, getattr(self, name)[index])

