"""The cpu-fast preset's training levers: the learning-rate schedule, length buckets, and validation on a
subset while training with the full split at the end."""
import csv
import json
import math
import time

import numpy as np
import pytest

from rnnlab.data.batches import batch_count, bucketed_batches, padded_batch, shuffled_batches
from rnnlab.data.dataset import prepare
from rnnlab.training import budget, loop
from rnnlab.training.config import build_config
from rnnlab.training.loop import train
from rnnlab.training.perplexity import poem_perplexity
from rnnlab.training.schedule import lr_factor
from rnnlab.training.state import load_state
from tests.conftest import POEMS


def test_warmup_is_linear_and_the_cosine_ends_at_zero_on_the_horizon():
    assert [lr_factor("constant", s, 4, None) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert lr_factor("cosine", 0, 0, 100) == 1.0
    assert lr_factor("cosine", 50, 0, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 0, 100) == pytest.approx(0.0)
    assert lr_factor("cosine", 150, 0, 100) == pytest.approx(0.0)            # past the horizon: stays at zero
    assert lr_factor("cosine", 1, 4, 100) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 0.01)))
    assert lr_factor("cosine", 7, 0, None) == 1.0                            # horizon not fitted yet


def test_buckets_cover_every_poem_once_and_cut_the_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 50, size=1000)
    batches = bucketed_batches(lengths, 16, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert all(len(b) <= 16 for b in batches)
    assert [b.tolist() for b in batches] == [b.tolist() for b in bucketed_batches(lengths, 16, np.random.default_rng(1))]

    def padding(batches):
        return sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in batches)

    shuffled = shuffled_batches(1000, 16, np.random.default_rng(1))
    assert padding(batches) < padding(shuffled) / 5


@pytest.mark.parametrize("n", [1, 5, 16, 17, 23, 24, 40, 1000, 41411])
def test_no_step_takes_a_sliver_of_a_batch(n):
    """A last batch under half a batch joins the one before it; batch_count says how many there are."""
    lengths = np.random.default_rng(0).integers(10, 50, size=n)
    for batches in (shuffled_batches(n, 16, np.random.default_rng(1)), bucketed_batches(lengths, 16, np.random.default_rng(1))):
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
        assert len(batches) == batch_count(n, 16)
        assert all(8 <= len(b) < 24 for b in batches) if n >= 8 else len(batches) == 1
    assert batch_count(41411, 64) == 647 and max(map(len, shuffled_batches(41411, 64, np.random.default_rng(0)))) == 67


def test_bucketed_batches_hold_the_same_tokens_as_the_poems():
    data = prepare(build_config(corpus=POEMS).data)
    split = data.train
    batches = bucketed_batches(np.diff(split.offsets), 8, np.random.default_rng(0))
    inputs = [padded_batch(split, idx, data.vocab.pad)[0] for idx in batches]
    assert sum(int((x != data.vocab.pad).sum()) for x in inputs) == split.n_targets


def test_cosine_with_max_steps_ends_near_zero_at_the_last_step(tmp_path):
    cfg = build_config(corpus=POEMS, embed_size=8, hidden_size=12, batch_size=16, time_budget=0, max_steps=12,
                       warmup=3, lr=0.01, log_every=1, eval_every=100, device="cpu")
    train(cfg, prepare(cfg.data), tmp_path / "run", progress=False)
    lrs = [float(r["lr"]) for r in csv.DictReader(open(tmp_path / "run" / "metrics.csv"))]
    # the lr column holds the rate of each row's step: step s (1-based) ran with lr_factor(s - 1)
    assert lrs == pytest.approx([0.01 * lr_factor("cosine", s, 3, 12) for s in range(12)], rel=1e-5)   # CSV: 6 digits
    assert lrs[-1] < 0.02 * 0.01
    assert load_state(tmp_path / "run")["progress"]["horizon"] == 12


class TickingClock:
    """Stands in for the `time` module of the loop and the budget: every reading of the clock advances it by
    the same tick, so a timed run's steps and validations cost the same on a busy machine as on an idle one."""
    def __init__(self, tick):
        self.now, self.tick, self.strftime = 0.0, tick, time.strftime

    def perf_counter(self):
        self.now += self.tick
        return self.now


def test_a_timed_run_fits_the_cosine_to_its_budget_and_keeps_time_for_the_full_validation(tmp_path, capsys,
                                                                                          monkeypatch):
    clock = TickingClock(0.01)                               # 0.15 minutes = 900 readings of the clock
    monkeypatch.setattr(loop, "time", clock)
    monkeypatch.setattr(budget, "time", clock)
    cfg = build_config(corpus=POEMS, embed_size=8, hidden_size=12, batch_size=4, time_budget=0.15, epochs=1000,
                       warmup=5, valid_subset=10, eval_every=10, patience=1000, device="cpu")
    result = train(cfg, prepare(cfg.data), tmp_path / "run", progress=False)
    progress = load_state(tmp_path / "run")["progress"]
    assert progress["stop"].startswith("time budget")
    assert progress["horizon"] > 20 and progress["reserve"] > 0
    assert "cosine schedule fitted to the time budget" in capsys.readouterr().out
    # the fit is an estimate: the run ends near its horizon, with the learning rate near zero
    assert abs(result.steps - progress["horizon"]) < 0.5 * progress["horizon"]
    lrs = [float(r["lr"]) for r in csv.DictReader(open(tmp_path / "run" / "metrics.csv"))]
    assert lrs[-1] < 0.25 * max(lrs)


def test_a_budget_longer_than_the_epochs_ends_the_cosine_with_the_epochs(tmp_path, monkeypatch):
    """Fitted to the clock alone, the horizon of a run that runs out of epochs first lies beyond its last step,
    and it would end at a high learning rate (the bundled model's first run on a fast CPU: 20 epochs in 65 of
    its 110 minutes, the rate still at half its peak)."""
    clock = TickingClock(1e-5)                               # 10 minutes: far more than 3 epochs need
    monkeypatch.setattr(loop, "time", clock)
    monkeypatch.setattr(budget, "time", clock)
    # (cpu-fast-v6: poems in batches, whose count per epoch is exact; the default's windows have an estimate)
    cfg = build_config("cpu-fast-v6", corpus=POEMS, embed_size=8, hidden_size=12, batch_size=16, time_budget=10, epochs=3,
                       warmup=5, valid_subset=10, eval_every=10, patience=1000, lr=0.01, log_every=1, device="cpu")
    result = train(cfg, prepare(cfg.data), tmp_path / "run", progress=False)
    progress = load_state(tmp_path / "run")["progress"]
    assert progress["stop"] == "all epochs done" and progress["horizon"] == result.steps > 20
    lrs = [float(r["lr"]) for r in csv.DictReader(open(tmp_path / "run" / "metrics.csv"))]
    assert lrs[-1] < 0.02 * 0.01


def test_validation_on_a_subset_reports_the_full_split_for_the_best_weights(tmp_path, capsys):
    cfg = build_config(corpus=POEMS, embed_size=8, hidden_size=12, batch_size=16, time_budget=0, max_steps=8,
                       valid_subset=5, eval_every=4, device="cpu")
    data = prepare(cfg.data)
    result = train(cfg, data, tmp_path / "run", progress=False)
    best = result.checkpoint
    full = poem_perplexity(best.model, data.valid, data.vocab.pad)
    subset = poem_perplexity(best.model, data.valid.sample(5, cfg.seed), data.vocab.pad)
    assert result.best_ppl == pytest.approx(full, rel=1e-6) and result.subset_ppl == pytest.approx(subset, rel=1e-6)
    assert full != pytest.approx(subset, rel=1e-3)                           # the two figures do differ
    meta = json.loads((tmp_path / "run" / "best" / "meta.json").read_text())
    assert meta["valid_ppl"] == pytest.approx(full, rel=1e-6) and meta["valid_ppl_subset"] == pytest.approx(subset, rel=1e-6)
    rows = [float(r["valid_ppl"]) for r in csv.DictReader(open(tmp_path / "run" / "metrics.csv")) if r["valid_ppl"]]
    assert min(rows) == pytest.approx(subset, rel=1e-5)                      # training validated on the subset
    assert f"valid ppl {full:.2f} on the full split" in capsys.readouterr().out


def test_the_validation_subset_is_a_sample_of_the_whole_split():
    """The split keeps corpus order (by poet), so its first poems are no sample of it: the subset used while
    training is drawn at random, and the same draw for the same seed."""
    data = prepare(build_config(corpus=POEMS).data)
    picked = data.valid.sample(20, seed=0)
    rows = {data.valid[i].tobytes(): i for i in range(len(data.valid))}
    where = [rows[picked[i].tobytes()] for i in range(len(picked))]
    assert len(picked) == 20 and where == sorted(where) and where[-1] > len(data.valid) // 2
    assert [picked[i].tolist() for i in range(20)] == [s.tolist() for s in
                                                       (data.valid.sample(20, seed=0)[i] for i in range(20))]
    assert data.valid.sample(len(data.valid) + 5) is data.valid
