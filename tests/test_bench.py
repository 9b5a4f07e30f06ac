"""`rnnlab bench` on a tiny grid: it measures every engine and kind, writes its JSON and prints the tables.
(No timing is asserted: figures from a test machine say nothing.)"""
import json

import pytest

from rnnlab.bench import ENGINES, layer_step, lm_step, peak_memory
from rnnlab.cli import main


def test_bench_writes_json_and_table(tmp_path, capsys):
    code = main(["bench", "--hidden-size", "8", "--batch-size", "2", "3", "--seq-len", "4", "--vocab-size", "11",
                 "--repeats", "2", "--min-time", "0.001", "--no-memory", "--out", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    rows = result["rows"]
    assert result["cpu"] and isinstance(result["simd"], list) and result["torch_capability"]    # where it ran
    assert {(r["kind"], r["batch"], r["engine"]) for r in rows} == {
        (k, b, e) for k in ("layer", "lm") for b in (2, 3) for e in ENGINES}
    # the two figures of a row are one measurement, expressed twice (no timing is asserted)
    assert all(r["tokens_per_s"] == pytest.approx(r["batch"] * 4 / (r["ms_per_step"] / 1000)) for r in rows)
    table = capsys.readouterr().out
    assert "| 8 | 3 |" in table and "manual/native" in table and "manual/autograd" in table


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("make", [layer_step, lambda *a: lm_step(*a, vocab=9)])
def test_every_step_runs(engine, make):
    make(engine, 6, 2, 3)()


def test_peak_memory_grows_with_the_batch():
    """Each point in a fresh process, as `rnnlab bench` measures it: in the test process the allocator may
    hand a step memory that earlier tests freed, and its resident set need not grow at all."""
    small, large = ("layer", "manual", 64, 2, 49, 11), ("layer", "manual", 64, 512, 49, 11)
    peaks = peak_memory([small, large])
    assert peaks[large] > peaks[small] + 10
