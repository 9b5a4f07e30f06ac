import csv
import math
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from rnnlab.data.dataset import DataConfig, prepare
from rnnlab.training.config import PRESETS, build_config
from rnnlab.training.loop import train
from rnnlab.training.perplexity import poem_perplexity
from tests.conftest import POEMS


def tiny(**overrides):
    base = dict(preset="seed-large", corpus=POEMS, embed_size=16, hidden_size=24, batch_size=16, time_budget=0,
                device="cpu")
    return build_config(**{**base, **overrides})


def test_a_few_steps_lower_the_loss(tmp_path):
    cfg = tiny(max_steps=12, eval_every=4, lr=1e-2)
    data = prepare(cfg.data)
    torch.manual_seed(0)
    result = train(cfg, data, tmp_path / "run", progress=False)
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < losses[0] - 0.5
    ppls = [float(r["valid_ppl"]) for r in rows if r["valid_ppl"]]
    assert ppls[-1] < ppls[0]
    assert math.isclose(result.best_ppl, min(ppls), rel_tol=1e-5)
    assert result.steps == 12 and result.stop_reason == "max steps reached"


def test_run_directory_contents(tiny_run):
    names = {p.name for p in tiny_run.run_dir.iterdir()}
    assert {"config.json", "vocab.json", "metrics.csv", "training.png", "best", "last"} <= names
    expected = "step,epoch,train_loss,valid_ppl,lr,grad_norm,tokens_per_s"
    assert open(tiny_run.run_dir / "metrics.csv").readline().strip() == expected
    assert (tiny_run.run_dir / "training.png").read_bytes()[:4] == b"\x89PNG"


def test_best_model_is_reloaded_and_its_perplexity_reproduces(tiny_run):
    ckpt = tiny_run.checkpoint
    data = prepare(DataConfig(**{**vars(ckpt.data_config)}), vocab=ckpt.vocab)
    assert math.isclose(poem_perplexity(ckpt.model, data.valid, ckpt.vocab.pad), tiny_run.best_ppl, rel_tol=1e-5)
    assert ckpt.meta["valid_ppl"] == tiny_run.best_ppl


def test_same_seed_same_weights(tmp_path):
    cfg = tiny(max_steps=4, eval_every=100, seed=5)
    data = prepare(cfg.data)
    a = train(cfg, data, tmp_path / "a", progress=False)
    b = train(cfg, data, tmp_path / "b", progress=False)
    c = train(tiny(max_steps=4, eval_every=100, seed=6), data, tmp_path / "c", progress=False)
    wa, wb, wc = (r.checkpoint.model.state_dict() for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


# a learning rate this large makes validation perplexity climb after the first evaluation
DIVERGING = dict(optimizer="sgd", lr=200.0, epochs=50, eval_every=1, patience=2)


def test_early_stopping_stops_when_validation_gets_worse(tmp_path):
    cfg = tiny(**DIVERGING)
    result = train(cfg, prepare(cfg.data), tmp_path / "run", progress=False)
    assert result.stop_reason.startswith("early stopping")
    assert result.steps < 50 * math.ceil(134 / 16)


def test_a_run_that_ends_anyway_does_not_say_it_stopped_early(tmp_path):
    # the same run given exactly the steps it took: its last evaluation both ends it and finds no improvement
    cfg = tiny(**DIVERGING)
    data = prepare(cfg.data)
    steps = train(cfg, data, tmp_path / "a", progress=False).steps
    result = train(tiny(**DIVERGING, max_steps=steps), data, tmp_path / "b", progress=False)
    assert result.steps == steps and result.stop_reason == "max steps reached"


def test_clipping_bounds_the_update(tmp_path):
    cfg = tiny(max_steps=3, eval_every=100, clip_norm=1e-3, optimizer="sgd", lr=1.0)
    data = prepare(cfg.data)
    result = train(cfg, data, tmp_path / "run", progress=False)
    torch.manual_seed(cfg.seed)
    from rnnlab.nn.lm import LanguageModel
    start = LanguageModel(result.checkpoint.model.config)
    moved = torch.sqrt(sum(((p - q) ** 2).sum() for p, q in zip(start.parameters(), result.checkpoint.model.parameters())))
    assert moved <= 3 * 1e-3 + 1e-6


def test_presets_follow_the_reference():
    assert PRESETS["seed-small"] == {"embed_size": 256, "hidden_size": 512, "batch_size": 16, "seq_len": 25}
    assert PRESETS["seed-large"] == {"embed_size": 512, "hidden_size": 512, "batch_size": 64, "seq_len": 49}
    cfg = build_config("seed-large", hidden_size=128)
    assert cfg.model.hidden_size == 128 and cfg.data.seq_len == 49 and cfg.optim.betas == (0.5, 0.99)


def test_the_bundled_models_recipes_keep_their_settings():
    """cpu-2h-v1, -v2 and -v3 made the first three bundled models and stay as they were; cpu-2h-v4, the fourth's
    and fifth's, is cpu-fast-v4 (the default of its day) but for its width, its dropouts, its longer training
    poems and the loop's settings for hours, and -v3 is -v4 with dropout 0.4 and no DropConnect; cpu-2h-v5,
    the sixth's, is -v4 reading every poem whole in windows, as the default does; cpu-2h, the seventh's
    (MODEL_CARD.md names it), is -v5 with each row's poems packed and more dropout."""
    assert PRESETS["cpu-2h-v1"] == {
        "embed_size": 512, "hidden_size": 512, "num_layers": 2, "dropout": 0.3, "batch_size": 64, "seq_len": 49,
        "softmax": "adaptive", "lr": 5e-3, "warmup": 20, "schedule": "cosine", "clip_norm": 1.0, "valid_subset": 1000,
        "eval_every": 500, "patience": 5, "time_budget": 120.0, "precision": "auto"}
    second = build_config("cpu-2h-v2")
    assert second.model.prosody_inputs == build_config("cpu-fast-v2").model.prosody_inputs
    assert second.model.prosody_loss == 0.5 and not second.model.tied and not second.data.form_token
    assert (second.model.num_layers, second.model.dropout, second.model.wdrop, second.model.dropouti) == (2, 0.4, 0.2, 0.1)
    fourth, base = asdict(build_config("cpu-2h-v4")), asdict(build_config("cpu-fast-v4"))
    changed = {"model": {"hidden_size": 768, "dropout": 0.5, "wdrop": 0.2, "dropouti": 0.1},
               "data": {"train_seq_len": 129}, "bucket": True, "clip_norm": 1.0, "eval_every": 500, "patience": 5,
               "time_budget": 120.0}
    for key, value in changed.items():
        if isinstance(value, dict):
            assert fourth[key] == {**base[key], **value}
        else:
            assert fourth[key] == value != base[key]
    assert {k: v for k, v in fourth.items() if k not in changed} == {k: v for k, v in base.items() if k not in changed}
    assert build_config("cpu-2h-v3") == build_config("cpu-2h-v4", dropout=0.4, wdrop=0.0)
    assert build_config("cpu-2h-v5") == build_config("cpu-2h-v4", train_seq_len=10_000, train_window=66, batch_size=128,
                                                     lr=7e-3, bucket=False)
    assert build_config("cpu-2h") == build_config("cpu-2h-v5", pack_poems=True, dropoute=0.1, wdrop=0.3)


def test_the_first_default_preset_is_seed_large_trained_differently_on_the_same_data():
    """cpu-fast-v1 keeps seed-large's data (so the validation split is the same poems), its model shape and
    Adam's betas; it differs in the output layer, the learning rate and its schedule, and validation."""
    first, reference = build_config("cpu-fast-v1"), build_config("seed-large")
    assert first.data == reference.data
    same_shape = ("embed_size", "hidden_size", "num_layers", "cell", "activation", "dropout", "init")
    assert all(getattr(first.model, k) == getattr(reference.model, k) for k in same_shape)
    assert first.optim.betas == reference.optim.betas and first.batch_size == reference.batch_size
    assert (first.model.softmax, first.schedule, first.valid_subset) == ("adaptive", "cosine", 1000)


def test_cpu_fast_v2_is_the_first_with_dropout_bf16_and_prosody():
    """The same data and optimizer; the model has dropout and is told the prosody."""
    second, first = build_config("cpu-fast-v2"), build_config("cpu-fast-v1")
    assert second.optim == first.optim and second.data == first.data
    assert replace(second.model, dropout=0.0, prosody_inputs=(), prosody_loss=0.0) == first.model
    assert (second.model.dropout, second.model.prosody_inputs, second.model.prosody_loss) == (
        0.3, ("position", "tones", "rhyme", "pattern"), 0.5)
    assert replace(second, data=first.data, model=first.model, precision="fp32") == first and second.precision == "auto"


def test_cpu_fast_v3_is_v2_with_form_tokens_and_v4_v3_without_the_cut_poems_end_mark():
    fourth, third, second = build_config("cpu-fast-v4"), build_config("cpu-fast-v3"), build_config("cpu-fast-v2")
    assert third.data == replace(second.data, form_token=True) and replace(third, data=second.data) == second
    assert fourth.data == replace(third.data, cut_end=False) and replace(fourth, data=third.data) == third


def test_v5_is_v4_with_less_dropout_and_output_vectors_tied_to_the_prosody_carrying_inputs():
    fifth, fourth = build_config("cpu-fast-v5"), build_config("cpu-fast-v4")
    assert (fourth.model.dropout, fourth.model.tied) == (0.3, False)
    assert replace(fifth, model=replace(fifth.model, dropout=0.3, tied=False, tied_prosody=False)) == fourth
    assert (fifth.model.dropout, fifth.model.tied, fifth.model.tied_prosody) == (0.2, True, True)


def test_v6_is_v5_with_v4s_dropout():
    sixth, fifth = build_config("cpu-fast-v6"), build_config("cpu-fast-v5")
    assert sixth.model.dropout == 0.3
    assert replace(sixth, model=replace(sixth.model, dropout=0.2)) == fifth


def test_the_default_is_v7_at_640_units_with_its_poems_packed_and_v7_is_v6_on_whole_poems_in_windows():
    default, seventh, sixth = build_config(), build_config("cpu-fast-v7"), build_config("cpu-fast-v6")
    assert default == build_config("cpu-fast")
    assert (default.model.embed_size, default.model.hidden_size, default.pack_poems) == (640, 640, True)
    assert replace(default, model=replace(default.model, embed_size=512, hidden_size=512), pack_poems=False) == seventh
    settings = (seventh.data.train_seq_len, seventh.train_window, seventh.batch_size, seventh.optim.lr)
    assert settings == (10_000, 66, 128, 7e-3)
    assert replace(seventh, data=replace(seventh.data, train_seq_len=None), train_window=None, batch_size=64,
                   optim=replace(seventh.optim, lr=5e-3)) == sixth


def test_numpy_engine_trains_from_the_same_start_on_the_same_batches(tmp_path):
    """Same seed: same initial weights and the same batches, so a few SGD steps land in the same place
    in both engines (up to float32 rounding)."""
    data = prepare(tiny().data)
    runs = {engine: train(tiny(engine=engine, optimizer="sgd", lr=0.5, max_steps=3, eval_every=100), data,
                          tmp_path / engine, progress=False) for engine in ("torch", "numpy")}
    ours, theirs = (runs[e].checkpoint.model.state_dict() for e in ("numpy", "torch"))
    start = runs["torch"].checkpoint.model.config
    torch.manual_seed(0)
    from rnnlab.nn.lm import LanguageModel
    initial = LanguageModel(start).state_dict()
    for name in theirs:
        assert not torch.equal(theirs[name], initial[name]), name        # training moved every parameter
        assert torch.allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-6), name
    rows = {e: list(csv.DictReader(open(tmp_path / e / "metrics.csv"))) for e in runs}
    assert math.isclose(float(rows["numpy"][-1]["valid_ppl"]), float(rows["torch"][-1]["valid_ppl"]), rel_tol=1e-4)


@pytest.mark.parametrize("engine", ["torch", "numpy"])
def test_a_non_finite_step_changes_nothing_and_is_never_saved(engine, tmp_path):
    from rnnlab.checkpoint import save_checkpoint
    from rnnlab.errors import RnnlabError
    from rnnlab.training.engines import make_engine
    from rnnlab.training.loop import start_model

    cfg = tiny(engine=engine, optimizer="sgd", lr=0.1)
    data = prepare(cfg.data)
    torch.manual_seed(0)
    eng = make_engine(cfg, start_model(cfg, data), "cpu", data.vocab)
    weights = eng.model.state_dict()
    weights["decoder.bias"][5] = float("nan")                # poison one weight: every loss becomes NaN
    before = {k: torch.as_tensor(v).clone() for k, v in weights.items()}
    loss, n, norm, _ = eng.step(eng.epoch_batches(data.train, np.random.default_rng(0))[0])
    assert not math.isfinite(loss) and n > 0
    after = eng.model.state_dict()
    for k in before:
        torch.testing.assert_close(torch.as_tensor(after[k]), before[k], rtol=0, atol=0, equal_nan=True)
    with pytest.raises(RnnlabError, match="non-finite"):
        save_checkpoint(tmp_path / "ckpt", eng.model, data.vocab, cfg.data, {})
    assert not (tmp_path / "ckpt" / "model.safetensors").exists()


def test_value_clipping_and_gradient_norm_columns(tmp_path):
    cfg = tiny(max_steps=2, eval_every=100, optimizer="sgd", lr=1.0, clip_value=1e-4, log_grad_norms=True)
    result = train(cfg, prepare(cfg.data), tmp_path / "run", progress=False)
    torch.manual_seed(cfg.seed)
    from rnnlab.nn.lm import LanguageModel
    start = LanguageModel(result.checkpoint.model.config).state_dict()
    for name, value in result.checkpoint.model.state_dict().items():
        assert (value - start[name]).abs().max() <= 2 * 1e-4 + 1e-7, name
    header = open(tmp_path / "run" / "metrics.csv").readline().strip().split(",")
    assert "grad_norm:rnn.weight_hh_l0" in header and "grad_norm:embedding.weight" in header


def test_ntasgd_triggers_in_the_loop_and_the_best_checkpoint_is_averaged(tmp_path, capsys):
    """With a rate too high to keep improving, validation gets worse, NT-ASGD starts averaging, and from
    then on what is evaluated and saved is the average of the iterates."""
    cfg = tiny(optimizer="ntasgd", lr=30.0, max_steps=30, eval_every=1, patience=10 ** 6, clip_norm=0.25)
    result = train(cfg, prepare(cfg.data), tmp_path / "run", progress=False)
    out = capsys.readouterr().out
    assert "NT-ASGD: validation stopped improving" in out
    trigger_step = int(out.split("NT-ASGD")[0].strip().splitlines()[-1].split()[1])
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    ppls = [float(r["valid_ppl"]) for r in rows]
    assert trigger_step > 6                      # needs more than n = 5 earlier checks
    assert ppls[trigger_step - 1] > min(ppls[:trigger_step - 6])
    best_step = ppls.index(min(ppls)) + 1
    assert best_step > trigger_step              # averaging helped: the best model is an averaged one
    assert math.isclose(result.best_ppl, min(ppls), rel_tol=1e-5)
    data = prepare(cfg.data)                     # and best/ holds the averaged weights that were evaluated
    assert math.isclose(poem_perplexity(result.checkpoint.model, data.valid, data.vocab.pad), result.best_ppl, rel_tol=1e-6)
