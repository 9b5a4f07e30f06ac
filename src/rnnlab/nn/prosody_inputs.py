"""What the plain LSTM may be told about the characters it has read (issue 23): their prosody, from the
tables the decoder's constraints and the ruler use (generate/prosody.py, the classical 平水韵), each
embedded at the embedding's size and added to the character's own embedding.

    position   the character's place in its line (0 = first, capped at MAX_POSITION) and the line's
               index (capped at MAX_LINE); a punctuation mark ends a line, as in forms.split_lines
    tones      its tone class: 平, 仄, either (a polyphone) or unknown
    rhyme      its rhyme groups (the sum of their embeddings), and those of the rhyme so far: the last
               character of the last even line read
    pattern    what the regulated tone patterns still open expect of the next character: 平, 仄, free
               (either tone, a mark, or the patterns disagree) or none (the poem has left every pattern:
               古体, a line not of 5 or 7 characters, a ninth line). The patterns and their templates are
               the ruler's and the decoder's (generate/forms.py), tracked for both line widths until
               the first line ends, as the hard tone constraint tracks them for one

With `prosody_loss` a linear head on the LSTM's output predicts the next character's tone class and
rhyme group beside the character itself (next_character_loss), so that the state learns to carry them.

Every input is a function of the characters read so far, never of the one the model is about to
predict. The counters that need the past (position, line, the previous character, the rhyme so far)
ride in the recurrent state, so a poem read in one call and one character at a time gets the same
inputs (tests/nn/test_prosody_inputs.py).
"""
from functools import lru_cache
from math import prod

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.generate.forms import PATTERNS, line_options
from rnnlab.generate.prosody import PING, ZE
from rnnlab.nn.configs import PROSODY_INPUTS as INPUTS  # noqa: F401 (the names, declared with the option)

MAX_POSITION, MAX_LINE = 8, 16
TONE_CLASSES = ("平", "仄", "either", "unknown")
EXPECTED = ("平", "仄", "free", "none")              # the pattern input's classes
CHARACTER, MARK, START = range(3)                   # a token's kind
WIDTHS, REGULATED_LINES = (5, 7), 8
PING_CODE, ZE_CODE, FREE, LINE_END, NO_OPTION = range(5)   # what a template asks at a column (PING, ZE: forms')
POSITION, LINE, PREVIOUS, RHYME, OPEN = range(5)    # the counters in the state, (1, B, 5)
OPTIONS = len(WIDTHS) * 6                           # (width, template option) pairs: OPEN is a bit mask of them
PLACES = (REGULATED_LINES + 1) * MAX_POSITION        # the (line, position) pairs of pattern_automaton's tables


def prosody_tables(vocab, system="classical"):
    """{name: tensor} over the vocabulary's ids: tone class (V,), rhyme groups multi-hot (V, G) and kind (V,):
    CHARACTER, MARK (a punctuation mark: the line ends) or START (<bos> or a form token: a poem begins)."""
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
    kind[[vocab.bos, *vocab.form_ids.values()]] = START          # a form token (--form-token) opens the poem too
    return {"tone": tone, "groups": groups, "kind": kind}


def pattern_tables():
    """The tone patterns as tensors: want (widths, lines + 1, 6, 8), what option e of line l asks at
    column c (PING, ZE, FREE, LINE_END where the line is over, NO_OPTION on the extra line past the
    last), and pattern (widths, lines + 1, 6), the pattern each option belongs to (-1 past the last line)."""
    assert (PING, ZE) == (PING_CODE, ZE_CODE) == (TONE_CLASSES.index("平"), TONE_CLASSES.index("仄"))

    want = torch.full((len(WIDTHS), REGULATED_LINES + 1, OPTIONS // len(WIDTHS), MAX_POSITION), NO_OPTION)
    pattern = torch.full(want.shape[:3], -1)
    for w, width in enumerate(WIDTHS):
        for line in range(REGULATED_LINES):
            for e, (k, template) in enumerate(line_options(width, line)):
                pattern[w, line, e] = k
                want[w, line, e] = torch.tensor([FREE if t is None else t for t in template]
                                                + [LINE_END] * (MAX_POSITION - width))
    return want, pattern


def asked_at(want, position, line):
    """What every option asks of the character at (position, line), each capped: (N, widths, 6)."""
    return want[:, line.clamp(max=REGULATED_LINES), :, position.clamp(max=MAX_POSITION - 1)]


def follow_patterns(want, pattern_of, open_, tone, kind, position, line):
    """The options still open (N, widths, 6) after reading a character of tone class `tone` and `kind` at
    (position, line): a character keeps those whose template its tone fits (a polyphone or an unknown
    character fits any), a mark those whose line ends there and then opens the next line's options of
    their patterns, <bos> opens the first line's."""
    here_want = asked_at(want, position, line)
    tone = tone.view(-1, 1, 1)
    any_tone = tone >= TONE_CLASSES.index("either")
    after_character = open_ & ((here_want == FREE) | ((here_want <= ZE_CODE) & (any_tone | (here_want == tone))))
    ended = open_ & (here_want == LINE_END)
    by_line = pattern_of.transpose(0, 1)                                   # (lines + 1, widths, 6)
    here, following = by_line[line.clamp(max=REGULATED_LINES)], by_line[(line + 1).clamp(max=REGULATED_LINES)]
    alive = (ended[..., None] & (here[..., None] == torch.arange(len(PATTERNS)))).any(-2)  # (N, widths, patterns)
    after_mark = alive.gather(-1, following.clamp(min=0)) & (following >= 0)
    after_start = (by_line[0] >= 0).expand_as(open_)
    kind = kind.view(-1, 1, 1)
    return torch.where(kind == START, after_start, torch.where(kind == MARK, after_mark, after_character))


def expected_next(want, open_, position, line):
    """The pattern input (N,), an index of EXPECTED, for the next character at (position, line)."""
    here_want = asked_at(want, position, line)

    def asked(*codes):
        return (open_ & torch.isin(here_want, torch.tensor(codes))).flatten(1).any(1)

    ping, ze, free = asked(PING_CODE), asked(ZE_CODE), asked(FREE, LINE_END)
    expected = torch.full_like(position, EXPECTED.index("free"))
    expected[ping & ~ze & ~free] = EXPECTED.index("平")
    expected[ze & ~ping & ~free] = EXPECTED.index("仄")
    expected[~open_.flatten(1).any(1)] = EXPECTED.index("none")
    return expected


def pattern_place(position, line):
    """(line, position), each capped, as one index into the last two axes of pattern_automaton's tables."""
    return line.clamp(max=REGULATED_LINES) * MAX_POSITION + position.clamp(max=MAX_POSITION - 1)


@lru_cache(maxsize=1)
def pattern_automaton():
    """follow_patterns and expected_next run once over every state the counters can hold (the options open
    as a bit mask, the line, the position): the tables forward looks the pattern input up in, a few
    lookups per character instead of some forty small operations (built once per process, in about a second).
    -> {after_character (tones, lines + 1, positions), after_mark (masks, lines + 1, positions),
        after_start (), expected (masks, lines + 1, positions)}: masks, and EXPECTED indices."""
    want, pattern_of = pattern_tables()
    bits = 1 << torch.arange(OPTIONS)
    shape = (2 ** OPTIONS, REGULATED_LINES + 1, MAX_POSITION)
    mask, line, position = (g.flatten() for g in torch.meshgrid(*map(torch.arange, shape), indexing="ij"))

    def unpack(masks):
        return ((masks[:, None] & bits) > 0).view(-1, len(WIDTHS), OPTIONS // len(WIDTHS))

    def pack(open_):
        return (open_.flatten(1).long() * bits).sum(1)

    def follow(masks, tone, kind):
        return pack(follow_patterns(want, pattern_of, unpack(masks), tone.expand_as(masks), torch.full_like(masks, kind),
                                    position[:len(masks)], line[:len(masks)]))

    lines_and_positions = shape[1] * shape[2]            # the first rows of the grid: mask 0, every line and position
    every_option = torch.full((lines_and_positions,), 2 ** OPTIONS - 1)
    # a character keeps the options its tone fits whatever else is open: after_character is a mask to AND with
    after_character = torch.stack([follow(every_option, torch.tensor(tone), CHARACTER)
                                   for tone in range(len(TONE_CLASSES))]).view(len(TONE_CLASSES), *shape[1:])
    return {"after_character": after_character,
            "after_mark": follow(mask, torch.tensor(0), MARK).view(shape),
            "after_start": follow(mask[:1], torch.tensor(0), START)[0],
            "expected": expected_next(want, unpack(mask), position, line).view(shape)}


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
        if "pattern" in self.inputs:
            self.expected_embedding = nn.Embedding(len(EXPECTED), embed_size)
            for name, table in pattern_automaton().items():    # derived from forms.py: not saved with the weights
                self.register_buffer(f"pattern_{name}", table, persistent=False)

    def character_vectors(self):
        """(V, E): what the tones and rhyme inputs add to each character's embedding, whatever it follows."""
        parts = []
        if "tones" in self.inputs:
            parts.append(self.tone_embedding(self.tone))
        if "rhyme" in self.inputs:
            parts.append(self.group_embedding(self.groups))
        return sum(parts)

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
        """The counters before the first character: position 0, line 0, nothing read, no rhyme, no pattern
        open (until <bos>)."""
        counters = torch.zeros(1, tokens.shape[0], 5, dtype=torch.long, device=tokens.device)
        counters[..., PREVIOUS] = counters[..., RHYME] = self.pad
        return counters

    def still_open(self, open_, token, kind, place):
        """The options open (B,), a bit mask, after reading `token` at `place` (pattern_place):
        follow_patterns, looked up in pattern_automaton's tables."""
        after_mark = self.pattern_after_mark.view(-1)[open_ * PLACES + place]
        after_character = self.pattern_after_character.view(-1)[self.tone[token] * PLACES + place]
        return torch.where(kind == START, self.pattern_after_start,
                           torch.where(kind == MARK, after_mark, open_ & after_character))

    def walk(self, tokens, counters=None):
        """The counters along tokens (B, T): each character's place in its line and the line's index, the rhyme
        so far and (with the pattern input) the class EXPECTED of it, each (B, T); and the counters after."""
        counters = self.start(tokens) if counters is None else counters
        position, line, previous, rhyme, open_ = counters[0].unbind(-1)
        positions, lines, rhymes, expected = [], [], [], []
        for token in tokens.unbind(1):                # one step of the counters per character read
            kind = self.kind[token]
            mark, start = kind == MARK, kind == START
            line = torch.where(start, 0, line)                              # <bos>: a new poem
            rhyme = torch.where(start, self.pad, torch.where(mark & (line % 2 == 1), previous, rhyme))  # an even line ended
            positions.append(position)
            lines.append(line)
            rhymes.append(rhyme)
            if "pattern" in self.inputs:
                open_ = self.still_open(open_, token, kind, pattern_place(position, line))
            position, line = torch.where(kind == CHARACTER, position + 1, 0), line + mark.long()
            previous = token
            if "pattern" in self.inputs:
                expected.append(self.pattern_expected.view(-1)[open_ * PLACES + pattern_place(position, line)])
        along = [torch.stack(values, 1) if values else None for values in (positions, lines, rhymes, expected)]
        return (*along, torch.stack([position, line, previous, rhyme, open_], -1)[None])

    def forward(self, tokens, counters=None):
        """tokens (B, T) -> the sum of the chosen inputs' embeddings (B, T, E), the counters after them."""
        position, line, rhyme_so_far, expected, counters = self.walk(tokens, counters)
        lookups = []                                  # (index (B, T), its embedding's table)
        if "position" in self.inputs:
            lookups += [(position.clamp(max=MAX_POSITION), self.position_embedding.weight),
                        (line.clamp(max=MAX_LINE), self.line_embedding.weight)]
        if "tones" in self.inputs:
            lookups.append((self.tone[tokens], self.tone_embedding.weight))
        if "pattern" in self.inputs:
            lookups.append((expected, self.expected_embedding.weight))
        total = summed_lookup(lookups) if lookups else 0
        if "rhyme" in self.inputs:
            total = total + self.group_embedding(self.groups[tokens]) + self.rhyme_embedding(self.groups[rhyme_so_far])
        return total, counters


def summed_lookup(lookups):
    """The sum of the embeddings table_k[index_k] over [(index (B, T), table (n_k, E)), ...], as one lookup in
    the table of every combination of their rows (n_1 * n_2 * ..., E), by the combination's mixed-radix number:
    one gather, and in the backward one scatter, instead of one of each per table (tables of a few rows:
    the prosody's 9 * 17 * 4 * 4 = 2448). For fewer positions than that table has rows (generation: one
    character of a few poems a step) building it costs more than it saves, and the lookups are summed one by
    one, in the same order, so to the same bits."""
    if lookups[0][0].numel() < prod(len(weight) for _, weight in lookups):
        return sum(F.embedding(rows, weight) for rows, weight in lookups)
    index, table = 0, None
    for rows, weight in lookups:
        index = index * len(weight) + rows
        table = weight if table is None else (table[:, None] + weight).flatten(0, 1)
    return F.embedding(index, table)
