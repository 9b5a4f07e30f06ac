"""What a generation request may ask for, with the bounds the server enforces (pydantic).

The options are those of `rnnlab generate`; every length, count and range is capped so that one
request cannot ask for unbounded work. Checks that need the model (characters outside its vocabulary,
an acrostic longer than the form) are made by the generator and reported the same way (app.py)."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FORM = Literal["free", "wujue", "qijue", "wulv", "qilv"]
MODE = Literal["soft", "hard"]


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, max_length=100, description="a name from /api/models; default: the first")
    start: str = Field("", max_length=32, description="the poem's opening text")
    acrostic: str = Field("", max_length=8, description="藏头诗: the first character of each line")
    prefix: str = Field("", max_length=64, description="read first to set the mood, not printed")
    form: FORM = "free"
    strategy: Literal["sample", "greedy", "beam"] = "sample"
    temperature: float = Field(0.8, gt=0, le=5)
    top_k: int | None = Field(None, ge=1, le=10_000)
    top_p: float | None = Field(None, gt=0, le=1)
    beam_size: int = Field(4, ge=1, le=16)
    rhyme: MODE | None = None
    tones: MODE | None = None
    prosody: Literal["classical", "modern"] = "classical"
    repetition_penalty: float = Field(1.0, ge=1, le=10)
    max_len: int = Field(64, ge=2, le=200, description="length cap of free poems in characters")
    num: int = Field(1, ge=1, le=20)
    seed: int | None = Field(None, ge=0, le=2 ** 63 - 1)

    def options(self):
        """The keyword arguments of rnnlab.generate.sampling.generate."""
        return self.model_dump(exclude={"model"})


class ModelInfo(BaseModel):
    name: str
    architecture: str
    corpus: str
    vocab_size: int
    valid_ppl: float | None
    step: int | None


class GenerateResponse(BaseModel):
    model: str
    poems: list[str]
    seconds: float
