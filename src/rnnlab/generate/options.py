"""Every option of poem generation, declared once: the library checks them (GenerationOptions.check),
`rnnlab generate` / `eval-gen` make their flags from them (cli/args.py) and the web API its request
schema (web/schema.py), with the caps a server puts on one request.

Each field's metadata: help (the flag's help text), label (its name in messages), bounds (what the
value must satisfy anywhere: gt, ge, le) and cap (the server's further limits: le, max_length).
"""
import types
from dataclasses import dataclass, field, fields
from typing import Literal, Union, get_args, get_origin

from rnnlab.errors import RnnlabError

Form = Literal["free", "wujue", "qijue", "wulv", "qilv"]
Mode = Literal["soft", "hard"]


def option(default, help, bounds=None, cap=None, label=None):
    return field(default=default, metadata={"help": help, "bounds": bounds or {}, "cap": cap or {}, "label": label})


@dataclass(frozen=True)
class GenerationOptions:
    start: str = option("", "the poem's opening text, e.g. 月", cap={"max_length": 32})
    form: Form = option("free", "free (ends at <eos> or --max-len), or 五言绝句 wujue, 七言绝句 qijue, 五言律诗 wulv, "
                                "七言律诗 qilv")
    acrostic: str = option("", "藏头诗: the first character of each line, e.g. 春夏秋冬", cap={"max_length": 8})
    prefix: str = option("", "text read first to set the mood, not printed", cap={"max_length": 64})
    strategy: Literal["sample", "greedy", "beam"] = option("sample", "sample, greedy, or beam search")
    temperature: float = option(0.8, "lower is safer, higher is wilder", {"gt": 0}, {"le": 5})
    top_k: int | None = option(None, "sample from the k most likely characters only", {"ge": 1}, {"le": 10_000},
                               label="top-k")
    top_p: float | None = option(None, "sample from the smallest set of characters with this much probability",
                                 {"gt": 0, "le": 1}, label="top-p")
    beam_size: int = option(4, "beam search width", {"ge": 1}, {"le": 16})
    length_penalty: float = option(1.0, "beam search: a finished poem scores sum log p / length^this; "
                                        "above 1 favours longer poems", {"ge": 0}, {"le": 5})
    rhyme: Mode | None = option(None, "even lines rhyme (regulated forms), no rhyme character twice while another is "
                                      "left: hard masks, soft reweights")
    tones: Mode | None = option(None, "follow the form's 平仄 pattern: hard masks, soft reweights")
    prosody: Literal["classical", "modern"] = option(
        "classical", "whose tones and rhymes: classical (平水韵, as the Tang poets) or modern (Mandarin)")
    repetition_penalty: float = option(1.0, "discourages repeated characters", {"ge": 1}, {"le": 10})
    max_len: int = option(64, "length cap of free poems in characters", {"ge": 1}, {"ge": 2, "le": 200})
    num: int = option(1, "how many poems", {"ge": 1}, {"le": 20})
    seed: int | None = option(None, "the same seed gives the same poems (library and web default: fresh draws)", {"ge": 0},
                              {"le": 2 ** 63 - 1})

    def check(self):
        """RnnlabError naming the field for a value out of its bounds, or a combination that cannot work."""
        for f in fields(self):
            value, bounds = getattr(self, f.name), f.metadata["bounds"]
            label = f.metadata["label"] or f.name.replace("_", " ")
            allowed = choices(f.type)
            if allowed and value not in allowed:
                raise RnnlabError(f"unknown {label} {value!r}; choose from {', '.join(map(str, allowed))}", f.name)
            if value is None or not bounds:
                continue
            if "gt" in bounds and "le" in bounds and not bounds["gt"] < value <= bounds["le"]:
                raise RnnlabError(f"{label} must be in ({bounds['gt']}, {bounds['le']}] (got {value})", f.name)
            if "gt" in bounds and not value > bounds["gt"]:
                raise RnnlabError(f"{label} must be > {bounds['gt']} (got {value})", f.name)
            if "ge" in bounds and not value >= bounds["ge"]:
                word = "at least" if isinstance(value, int) else ">="
                raise RnnlabError(f"{label} must be {word} {bounds['ge']} (got {value})", f.name)
        if self.strategy == "beam" and self.beam_size < self.num:
            raise RnnlabError(f"beam search returns at most beam-size poems: beam size {self.beam_size} < num {self.num}",
                              "beam_size")
        return self


def choices(tp):
    """The values a Literal type (or Literal | None) admits; () for any other type."""
    if get_origin(tp) is Literal:
        return get_args(tp)
    if get_origin(tp) in (Union, types.UnionType):
        parts = [choices(arg) for arg in get_args(tp) if arg is not type(None)]
        if all(parts):
            return tuple(v for part in parts for v in part) + (None,)
    return ()
