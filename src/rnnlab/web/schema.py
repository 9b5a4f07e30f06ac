"""What a generation request may ask for, with the bounds the server enforces (pydantic).

The request is GenerationOptions (rnnlab.generate.options) field for field, plus the model's name;
each field keeps its bounds and adds its cap, so that one request cannot ask for unbounded work.
Checks that need the model (characters outside its vocabulary, an acrostic longer than the form) are
made by the generator and reported the same way (app.py)."""
from dataclasses import fields

from pydantic import BaseModel, ConfigDict, Field, create_model

from rnnlab.generate.options import GenerationOptions


def option_fields():
    """{name: (type, Field)} of every GenerationOptions field, with its bounds and the server's caps."""
    out = {}
    for f in fields(GenerationOptions):
        limits = {**f.metadata["bounds"], **f.metadata["cap"]}          # a cap may tighten a bound
        out[f.name] = (f.type, Field(f.default, description=f.metadata["help"], **limits))
    return out


class RequestBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def options(self):
        """The keyword arguments of rnnlab.generate.sampling.generate."""
        return self.model_dump(exclude={"model", "poem"})


GenerateRequest = create_model(
    "GenerateRequest", __base__=RequestBase,
    model=(str | None, Field(None, max_length=100, description="a name from /api/models; default: the first")),
    **option_fields())


ChoicesRequest = create_model(
    "ChoicesRequest", __base__=RequestBase,
    model=(str | None, Field(None, max_length=100, description="a name from /api/models; default: the first")),
    poem=(str, Field(..., min_length=1, max_length=200, description="a poem, e.g. one /api/generate wrote")),
    **option_fields())


class Step(BaseModel):
    """One position of the poem (rnnlab/inspection/choices.py)."""
    char: str
    p: float
    rank: int
    top: list[tuple[str, float]]
    forced: str | None
    overruled: list[str]
    removed: float


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


class ChoicesResponse(BaseModel):
    model: str
    poem: str
    steps: list[Step]
