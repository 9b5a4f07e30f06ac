"""Constrained decoding: at each step, which tokens each poem in the batch may take next.

`at(step)` gives, for every row, the allowed tokens (a boolean mask; a forced token — start text,
acrostic, punctuation of a regulated form, the end — is the only one allowed) and a bonus added to the
log-probabilities (the soft constraints). The sampler renormalises the model's distribution over the
allowed tokens. `advance(tokens)` records what each row chose; `reorder` follows the beams of a beam
search. FreeConstraints decode free poems, RegulatedConstraints the four regulated forms, whose rows
also track the tone-pattern templates still open and the rhyme groups their rhyme characters share.
Tones and rhyme groups come from a reading system of prosody.py (classical: 平水韵).

The start text is checked by walking it through the same rules, one row, before decoding.
"""
import math

import torch

from rnnlab.errors import RnnlabError
from rnnlab.generate.forms import FORM_NAMES, FORMS, LINE_END, PATTERNS, PUNCTUATION, line_options
from rnnlab.generate.prosody import PING, ZE, is_han
from rnnlab.generate.prosody import system as reading_system

SOFT_PENALTY = math.log(0.1)      # a soft constraint makes a violating token 10x less likely
STOPS = set("。？！")               # the marks that end a sentence, where a capped free poem may end


def make_constraints(vocab, rows, options, device="cpu"):
    """The constraints of a GenerationOptions for `rows` poems decoded together."""
    return (FreeConstraints if options.form == "free" else RegulatedConstraints)(vocab, rows, options, device)


class Constraints:
    """What both kinds share: the vocabulary's character classes, the start text, and each row's line and
    column. A subclass has `length` (tokens before the end), rules(step, forced) and advance(tokens)."""
    row_state = ("line", "col")

    def __init__(self, vocab, rows, options, device):
        self.vocab, self.rows, self.device = vocab, rows, device
        self.start, self.acrostic = options.start, options.acrostic
        for name, text in (("start", self.start), ("acrostic", self.acrostic)):
            unknown = sorted({ch for ch in text if ch not in vocab})
            if unknown:
                raise RnnlabError(f"characters outside the model's vocabulary: {''.join(unknown)}", name)
        bad = sorted({ch for ch in self.acrostic if not is_han(ch)})
        if bad:
            raise RnnlabError(f"the acrostic must be Chinese characters, not {''.join(bad)}", "acrostic")
        itos = vocab.itos
        self.han = torch.tensor([is_han(ch) and ch in vocab for ch in itos], device=device)
        self.punct = torch.tensor([ch in PUNCTUATION for ch in itos], device=device)
        self.character = torch.tensor([ch in vocab for ch in itos], device=device)     # anything but the specials
        self.reset(rows)

    def reset(self, rows):
        self.line = torch.zeros(rows, dtype=torch.long, device=self.device)     # line index of the next token
        self.col = torch.zeros(rows, dtype=torch.long, device=self.device)      # its column within the line

    def at(self, step):
        """(allowed (rows, V) bool, bonus (rows, V) float or None)."""
        forced = torch.full((self.rows,), -1, dtype=torch.long, device=self.device)
        if step < len(self.start):
            forced[:] = self.vocab.stoi[self.start[step]]
        allowed, bonus = self.rules(step, forced)
        rows = forced >= 0
        allowed[rows] = torch.nn.functional.one_hot(forced[rows], len(self.vocab)).bool()
        return allowed, bonus

    def walk_start(self):
        """Feed the start text through the rules with one row; the subclass's refusal(step, ch, forced) names
        the first rule a character breaks (forced: the token a rule forces there, or -1). Then back to a
        fresh state."""
        rows, self.rows = self.rows, 1
        self.reset(1)
        for step, ch in enumerate(self.start):
            forced = torch.full((1,), -1, dtype=torch.long, device=self.device)
            allowed, _ = self.rules(step, forced)
            token = self.vocab.stoi[ch]
            if (forced[0] >= 0 and forced[0] != token) or (forced[0] < 0 and not allowed[0, token]):
                raise RnnlabError(self.refusal(step, ch, int(forced[0])), "start")
            self.advance(torch.tensor([token], device=self.device), reopen=False)
        self.rows = rows
        self.reset(rows)

    def finish(self, ids):
        """A poem's tokens as printed (without <eos>); the free form trims one the length cap stopped."""
        return ids

    def reorder(self, index):
        """Keep the rows named by `index` (beam search)."""
        self.rows = len(index)
        for name in self.row_state:
            setattr(self, name, getattr(self, name)[index])


class FreeConstraints(Constraints):
    """A free poem: any character, up to max_len of them; with an acrostic, each line (ended by any
    punctuation mark) begins with its character and the poem may end only after the last line."""

    def __init__(self, vocab, rows, options, device="cpu"):
        if options.rhyme or options.tones:
            raise RnnlabError("rhyme and tone constraints need a regulated form (wujue, qijue, wulv, qilv)",
                              "rhyme" if options.rhyme else "tones")
        super().__init__(vocab, rows, options, device)
        self.length = options.max_len
        if len(self.start) >= self.length:
            raise RnnlabError(f"max-len ({self.length}) must exceed the length of the start text ({len(self.start)})",
                              "max_len")
        if self.start and self.start[0] in PUNCTUATION:
            raise RnnlabError("the start text cannot begin with punctuation", "start")
        if len(self.acrostic) * 2 > self.length:
            raise RnnlabError(f"max-len ({self.length}) is too short for a {len(self.acrostic)}-line acrostic", "max_len")
        self.walk_start()

    def finish(self, ids):
        """A poem the length cap stopped ends at its last 。？！ (the start text kept whole), not in mid-line;
        one with no such mark is kept as it is."""
        if len(ids) < self.length:
            return ids
        ends = [i for i, t in enumerate(ids) if self.vocab.itos[t] in STOPS and i + 1 >= len(self.start)]
        return ids[:ends[-1] + 1] if ends else ids

    def refusal(self, step, ch, forced):
        line = int(self.line[0])
        if line >= len(self.acrostic):
            return f"the start text goes on past the acrostic's {len(self.acrostic)} lines"
        if forced >= 0:
            return f"line {line + 1} of the start text begins with {ch}, the acrostic with {self.acrostic[line]}"
        return f"line {line + 1} of the start text begins with {ch}; the acrostic's lines begin with a character"

    def rules(self, step, forced):
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

    def advance(self, tokens, reopen=True):
        is_punct = self.punct[tokens]
        self.line += is_punct
        self.col = torch.where(is_punct, 0, self.col + 1)


class RegulatedConstraints(Constraints):
    """A regulated form: its exact shape (lines of 5 or 7 characters, ， and 。 alternating), and by request
    its tone patterns (hard: only characters that fit a template still open; soft: others 10x less likely)
    and its rhyme (the even lines' last characters share a rhyme group, and none repeats a character that
    already ends a line, as the poets avoid 重韵, unless no other rhyme is left)."""
    row_state = ("line", "col", "open_templates", "rhyme_of", "line_ends")

    def __init__(self, vocab, rows, options, device="cpu"):
        form, self.rhyme, self.tones = options.form, options.rhyme, options.tones
        self.name, (self.lines, self.width) = FORM_NAMES[form], FORMS[form]
        self.length = self.lines * (self.width + 1)
        system = reading_system(options.prosody)
        itos = vocab.itos
        self.can_ping = torch.tensor([PING in system.tones(ch) for ch in itos], device=device)
        self.can_ze = torch.tensor([ZE in system.tones(ch) for ch in itos], device=device)
        self.groups = torch.zeros(len(itos), len(system.group_names), dtype=torch.bool, device=device)
        pairs = [(i, g) for i, ch in enumerate(itos) for g in system.groups(ch)]   # (token, rhyme group)
        if pairs:
            self.groups[tuple(torch.tensor(pairs, device=device).T)] = True
        # per line: the (pattern, template) options, as a pattern index (E,) and tones (E, width), -1 free
        self.templates = [line_options(self.width, line) for line in range(self.lines)]
        self.template_pattern = [torch.tensor([k for k, _ in o], device=device) for o in self.templates]
        self.option_tones = [torch.tensor([[-1 if w is None else w for w in t] for _, t in o], device=device)
                             for o in self.templates]
        missing = [mark for mark in LINE_END if mark not in vocab]
        if missing:
            raise RnnlabError(f"the model's vocabulary lacks {''.join(missing)}, needed by {self.name}", "form")
        super().__init__(vocab, rows, options, device)
        if self.tones == "hard" and not (self.can_ping.any() and self.can_ze.any()):
            raise RnnlabError("hard tones need characters of both tones (平 and 仄) in the model's vocabulary", "tones")
        rhymable = self.groups.any(1) & (self.can_ping if self.tones == "hard" else True)
        if self.rhyme == "hard" and not rhymable.any():
            raise RnnlabError("hard rhyme needs characters with a known rhyme group (and tone 平 with hard tones)", "rhyme")
        if len(self.acrostic) > self.lines:
            raise RnnlabError(f"an acrostic of {len(self.acrostic)} characters is longer than the {self.lines} lines of "
                              f"{self.name}", "acrostic")
        if len(self.start) > self.length:
            raise RnnlabError(f"the start text is longer than a whole {self.name}", "start")
        self.walk_start()

    def reset(self, rows):
        super().reset(rows)
        self.open_templates = torch.ones(rows, len(self.templates[0]), dtype=torch.bool, device=self.device)  # templates open
        self.rhyme_of = torch.ones(rows, self.groups.shape[1], dtype=torch.bool, device=self.device)  # groups shared
        self.line_ends = torch.zeros(rows, len(self.vocab), dtype=torch.bool, device=self.device)  # each line's last

    def refusal(self, step, ch, forced):
        line, col = divmod(step, self.width + 1)
        if col == self.width:
            return f"{self.name} needs {LINE_END[line % 2]} after line {line + 1}, the start text has {ch}"
        if forced >= 0:
            return f"line {line + 1} of the start text begins with {ch}, the acrostic with {self.acrostic[line]}"
        token = self.vocab.stoi[ch]
        if not self.han[token]:
            return f"{self.name} needs a Chinese character at position {step + 1} of the start text, not {ch}"
        if self.tones == "hard" and not self.fits_tones(line, col)[0, token]:
            return f"start character {ch} at position {step + 1} breaks every tone pattern of {self.name}"
        if self.rhymes_so_far()[0, token]:
            return f"the start text repeats the rhyme character {ch} (position {step + 1}); poets avoid that"
        return f"the start text's even lines end in characters that do not rhyme ({ch} at position {step + 1})"

    def fits_tones(self, line, col):
        """(rows, V): the characters whose tone fits a template still open at this position."""
        want = self.option_tones[line][:, col]                          # (E,): PING, ZE or -1 (free)
        open_ = lambda tone: (self.open_templates & (want == tone)).any(1, keepdim=True)  # noqa: E731
        return open_(-1) | (open_(PING) & self.can_ping) | (open_(ZE) & self.can_ze)

    def rhymes_so_far(self):
        """(rows, V): the characters sharing a rhyme group with the row's rhyme characters so far."""
        return (self.rhyme_of.float() @ self.groups.T.float()) > 0

    def rules(self, step, forced):
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
            self.apply(self.tones, ~self.fits_tones(line, col), allowed, bonus)
        if self.rhyme and line % 2 == 1 and col == self.width - 1:
            wrong = ~self.rhymes_so_far()
            fresh = allowed & ~wrong & ~self.line_ends            # rhymes that end no line yet
            wrong |= self.line_ends & fresh.any(1, keepdim=True)   # a repeat is wrong while a fresh rhyme is left
            self.apply(self.rhyme, wrong, allowed, bonus)
        return allowed, bonus

    @staticmethod
    def apply(mode, wrong, allowed, bonus):
        if mode == "hard":
            allowed &= ~wrong
        else:
            bonus += wrong * SOFT_PENALTY

    def advance(self, tokens, reopen=True):
        """Record the tokens just chosen (rows,). `reopen`: a row whose choices broke every template (soft
        constraints) or the rhyme starts afresh rather than staying broken."""
        line, col = int(self.line[0]), int(self.col[0])
        if col < self.width:
            if col == self.width - 1:
                self.line_ends[torch.arange(len(tokens), device=self.device), tokens] = True
            want = self.option_tones[line][:, col]
            known = (self.can_ping | self.can_ze)[tokens, None]
            fits = (want == -1) | ~known | ((want == PING) & self.can_ping[tokens, None]) \
                | ((want == ZE) & self.can_ze[tokens, None])
            self.open_templates &= fits
            if reopen:
                self.open_templates |= ~self.open_templates.any(1, keepdim=True)
            if line % 2 == 1 and col == self.width - 1 and self.groups[tokens].any():
                self.rhyme_of &= self.groups[tokens] | ~self.groups[tokens].any(1, keepdim=True)
                if reopen:
                    self.rhyme_of |= ~self.rhyme_of.any(1, keepdim=True) & self.groups[tokens]
        elif line + 1 < self.lines:                 # a new line: the options of the patterns still open
            of_pattern = self.template_pattern[line][:, None] == torch.arange(len(PATTERNS), device=self.device)
            pattern_open = (self.open_templates.float() @ of_pattern.float()) > 0            # (rows, patterns)
            self.open_templates = pattern_open[:, self.template_pattern[line + 1]]
        step = line * (self.width + 1) + col + 1
        self.line[:], self.col[:] = divmod(step, self.width + 1)
