"""Checkpoints written by rnnlab 0.1.0 before the architecture registry (tests/fixtures/checkpoints/, a plain
LSTM with the adaptive softmax and an AWD-LSTM with the class softmax, 20 steps on tang300.json) load with
the same parameter names and give the same numbers as when they were written (expected.json)."""
import json
import math

import pytest
from safetensors.torch import load_file

import rnnlab
from tests.conftest import FIXTURES, POEMS

EXPECTED = json.loads((FIXTURES / "checkpoints" / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["lstm", "awd"])
def test_an_old_checkpoint_loads_and_scores_and_writes_as_before(name):
    folder = FIXTURES / "checkpoints" / f"{name}-0.1.0"
    poet = rnnlab.load(folder)
    assert set(poet.model.state_dict()) == set(load_file(folder / "model.safetensors"))
    expected = EXPECTED[name]
    assert math.isclose(poet.perplexity(POEMS, split="valid"), expected["valid_ppl"], rel_tol=1e-6)
    assert poet.generate("月", strategy="greedy", form="wujue") == expected["greedy"]
    assert poet.generate("山", num=2, seed=0, max_len=20) == [at_last_stop(p, 20) for p in expected["sampled"]]


def at_last_stop(poem, cap):
    """A poem written before 2026-12-04 as the sampler prints it since: one the cap stopped ends at its last
    。？！ (constraints.FreeConstraints.finish)."""
    cut = max(poem.rfind(mark) for mark in "。？！")
    return poem[:cut + 1] if len(poem) == cap and cut >= 0 else poem
