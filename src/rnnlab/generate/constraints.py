"""Constrained decoding: at each step, which tokens each poem in the batch may take next.

`Constraints.at(step)` gives, for every row, the allowed tokens (a boolean mask; a forced token —
start text, acrostic, punctuation of a regulated form, the end — is the only one allowed) and a bonus
added to the log-probabilities (the soft constraints). The sampler renormalises the model's
distribution over the allowed tokens.
`advance(tokens)` updates each row's state (line, column; in a regulated form the tone-pattern templates
still open to the row and the rhyme groups its rhyme characters share), and `reorder` follows the beams
of a beam search. Tones and rhyme groups come from a reading system of prosody.py (classical: 平水韵).
"""
import math

import torch

from rnnlab.errors import RnnlabError
from rnnlab.generate import prosody as prosody_systems
from rnnlab.generate.forms import FORM_NAMES, FORMS, LINE_END, PATTERNS, PUNCTUATION, line_options, split_lines
from rnnlab.generate.prosody import PING, ZE, is_han

SOFT_PENALTY = math.log(0.1)      # a soft constraint makes a violating token 10x less likely
MODES = (None, "soft", "hard")


class Constraints:
    def __init__(self, vocab, rows, form="free", start="", acrostic="", rhyme=None, tones=None, max_len=64,
                 device="cpu", prosody="classical"):
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
        system = prosody_systems.get(prosody)
        self.can_ping = torch.tensor([PING in system.tones(ch) for ch in itos], device=device)
        self.can_ze = torch.tensor([ZE in system.tones(ch) for ch in itos], device=device)
        self.groups = torch.zeros(len(itos), len(system.group_names), dtype=torch.bool, device=device)
        pairs = [(i, g) for i, ch in enumerate(itos) for g in system.groups(ch)]   # (token, rhyme group)
        if pairs:
            self.groups[tuple(torch.tensor(pairs, device=device).T)] = True
        if form == "free":
            self.length = max_len
        else:
            self.lines, self.width = FORMS[form]
            self.length = self.lines * (self.width + 1)
            missing = [mark for mark in LINE_END if mark not in vocab]
            if missing:
                raise RnnlabError(f"the model's vocabulary lacks {''.join(missing)}, needed by {FORM_NAMES[form]}", "form")
            # per line: the (pattern, template) options, as a pattern index (E,) and tones (E, width), -1 free
            self.options = [line_options(self.width, line) for line in range(self.lines)]
            self.option_pattern = [torch.tensor([k for k, _ in o], device=device) for o in self.options]
            self.option_tones = [torch.tensor([[-1 if w is None else w for w in t] for _, t in o], device=device)
                                 for o in self.options]
        self._reset(rows)
        self._check_request()
        self._reset(rows)

    def _reset(self, rows):
        device = self.device
        self.line = torch.zeros(rows, dtype=torch.long, device=device)     # line index of the next token
        self.col = torch.zeros(rows, dtype=torch.long, device=device)      # its column within the line
        if self.form != "free":
            self.alive = torch.ones(rows, len(self.options[0]), dtype=torch.bool, device=device)  # templates still open
            self.rhyme_of = torch.ones(rows, self.groups.shape[1], dtype=torch.bool, device=device)  # groups shared so far

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
        if self.tones == "hard" and not (self.can_ping.any() and self.can_ze.any()):
            raise RnnlabError("hard tones need characters of both tones (平 and 仄) in the model's vocabulary", "tones")
        rhymable = self.groups.any(1) & (self.can_ping if self.tones == "hard" else True)
        if self.rhyme == "hard" and not rhymable.any():
            raise RnnlabError("hard rhyme needs characters with a known rhyme group (and tone 平 with hard tones)", "rhyme")
        if len(acrostic) > self.lines:
            raise RnnlabError(f"an acrostic of {len(acrostic)} characters is longer than the {self.lines} lines of {name}", "acrostic")
        if len(start) > self.length:
            raise RnnlabError(f"the start text is longer than a whole {name}", "start")
        for p, ch in enumerate(start):                  # walk the start text through the rules, one row
            line, col = divmod(p, self.width + 1)
            if col == self.width:
                if ch != LINE_END[line % 2]:
                    raise RnnlabError(f"{name} needs {LINE_END[line % 2]} after line {line + 1}, the start text has {ch}", "start")
            elif not is_han(ch):
                raise RnnlabError(f"{name} needs a Chinese character at position {p + 1} of the start text, not {ch}", "start")
            elif col == 0 and line < len(acrostic) and ch != acrostic[line]:
                raise RnnlabError(f"line {line + 1} of the start text begins with {ch}, the acrostic with {acrostic[line]}", "start")
            self.advance(torch.full((self.rows,), self.vocab.stoi[ch], device=self.device), reopen=False)
            if self.tones == "hard" and not self.alive[0].any():
                raise RnnlabError(f"start character {ch} at position {p + 1} breaks every tone pattern of {name}", "start")
            if self.rhyme == "hard" and not self.rhyme_of[0].any():
                raise RnnlabError(f"the start text's even lines end in characters that do not rhyme ({ch} at position {p + 1})", "start")

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
        if self.tones:
            want = self.option_tones[line][:, col]                          # (E,): PING, ZE or -1 (free)
            open_ = lambda tone: (self.alive & (want == tone)).any(1, keepdim=True)  # noqa: E731
            ok = open_(-1) | (open_(PING) & self.can_ping) | (open_(ZE) & self.can_ze)
            self._apply(self.tones, ~ok, allowed, bonus)
        if self.rhyme and line % 2 == 1 and col == self.width - 1:
            shared = (self.rhyme_of.float() @ self.groups.T.float()) > 0    # (rows, V): shares a group so far
            self._apply(self.rhyme, ~shared, allowed, bonus)
        return allowed, bonus

    @staticmethod
    def _apply(mode, wrong, allowed, bonus):
        if mode == "hard":
            allowed &= ~wrong
        else:
            bonus += wrong * SOFT_PENALTY

    def advance(self, tokens, reopen=True):
        """Record the tokens just chosen (rows,). `reopen`: a row whose choices broke every template (soft
        constraints) or the rhyme starts afresh rather than staying broken."""
        if self.form == "free":
            is_punct = self.punct[tokens]
            self.line += is_punct
            self.col = torch.where(is_punct, 0, self.col + 1)
            return
        line, col = int(self.line[0]), int(self.col[0])
        if col < self.width:
            want = self.option_tones[line][:, col]
            known = (self.can_ping | self.can_ze)[tokens, None]
            fits = (want == -1) | ~known | ((want == PING) & self.can_ping[tokens, None]) \
                | ((want == ZE) & self.can_ze[tokens, None])
            self.alive &= fits
            if reopen:
                self.alive |= ~self.alive.any(1, keepdim=True)
            if line % 2 == 1 and col == self.width - 1 and self.groups[tokens].any():
                self.rhyme_of &= self.groups[tokens] | ~self.groups[tokens].any(1, keepdim=True)
                if reopen:
                    self.rhyme_of |= ~self.rhyme_of.any(1, keepdim=True) & self.groups[tokens]
        elif line + 1 < self.lines:                 # a new line: the options of the patterns still open
            of_pattern = self.option_pattern[line][:, None] == torch.arange(len(PATTERNS), device=self.device)
            pattern_open = (self.alive.float() @ of_pattern.float()) > 0            # (rows, patterns)
            self.alive = pattern_open[:, self.option_pattern[line + 1]]
        step = line * (self.width + 1) + col + 1
        self.line[:], self.col[:] = divmod(step, self.width + 1)

    def reorder(self, index):
        """Keep the rows named by `index` (beam search)."""
        self.rows = len(index)
        for name in ("line", "col", "alive", "rhyme_of"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name)[index])

