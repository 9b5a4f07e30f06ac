"""`rnnlab train --config FILE`: a recipe file equals its flags, a run's config.json trains the same model
again, flags override the file, and a bad file is one line that names the key, with nothing left behind."""
import json

import pytest
from safetensors.torch import load_file

from rnnlab.cli import main
from tests.conftest import POEMS, REPO

TINY = ["--corpus", POEMS, "--max-steps", "3", "--time-budget", "0", "--embed-size", "8", "--hidden-size", "12",
        "--no-progress"]


def train(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err


def config_of(run):
    return json.loads((run / "config.json").read_text())["train"]


def test_the_example_recipe_is_the_default_and_a_run_config_trains_the_same_model(capsys, tmp_path):
    train(capsys, "train", "--config", REPO / "examples" / "cpu-fast.toml", *TINY, "--out", tmp_path / "file")
    train(capsys, "train", *TINY, "--out", tmp_path / "flags")
    assert config_of(tmp_path / "file") == config_of(tmp_path / "flags")
    train(capsys, "train", "--config", tmp_path / "flags" / "config.json", "--no-progress", "--out", tmp_path / "again")
    assert config_of(tmp_path / "again") == config_of(tmp_path / "flags")
    first, again = (load_file(tmp_path / d / "last" / "model.safetensors") for d in ("flags", "again"))
    assert first.keys() == again.keys() and all((first[k] == again[k]).all() for k in first)


def test_flags_override_the_file_and_a_file_can_name_a_preset(capsys, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('preset = "seed-small"\nhidden_size = 20\nlr = 0.01\n', encoding="utf-8")
    argv = [a for a in TINY if a not in ("--hidden-size", "12")]
    train(capsys, "train", "--config", recipe, *argv, "--lr", "0.02", "--out", tmp_path / "run")
    cfg = config_of(tmp_path / "run")
    assert cfg["model"]["hidden_size"] == 20 and cfg["optim"]["lr"] == 0.02 and cfg["data"]["seq_len"] == 25


@pytest.mark.parametrize("text, suffix, match", [
    ("hidden_size = ", ".toml", "not valid TOML"),
    ('{"hidden_size": 12,}', ".json", "not valid JSON"),
    ("hiden_size = 12", ".toml", "unknown key 'hiden_size'"),
    ('hidden_size = "big"', ".toml", "hidden_size must be int, got 'big'"),
    ("momentum = 0.5", ".toml", "--momentum is not used by this run"),
    ("dropouth = 0.5", ".toml", "unknown key 'dropouth' for 'cpu-fast'"),
    ('preset = "huge"', ".toml", "preset 'huge' is not one of"),
    ('architecture = "awd"\npreset = "cpu-fast"', ".toml", "architecture 'awd' does not match preset 'cpu-fast'"),
    ("[1, 2]", ".json", "expected a table of options"),
])
def test_a_bad_file_is_one_line_naming_the_key(capsys, tmp_path, text, suffix, match):
    recipe = tmp_path / f"bad{suffix}"
    recipe.write_text(text, encoding="utf-8")
    assert main(["train", "--config", str(recipe), *TINY, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err, err
    assert not (tmp_path / "run").exists()


def test_an_unreadable_file(capsys, tmp_path):
    assert main(["train", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "run")]) == 2
    assert "cannot read it" in capsys.readouterr().err and not (tmp_path / "run").exists()
