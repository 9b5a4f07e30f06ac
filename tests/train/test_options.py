"""Every training option is declared once, with its field (options.py): `train --help` lists exactly the
declared options, each with the default that each preset really gives it; no config field is declared
again by hand in the CLI, and no architecture is told apart by isinstance outside the registry."""
import ast
import re

import pytest

from rnnlab.cli.args import build_parser, show
from rnnlab.data.dataset import DataConfig
from rnnlab.nn.registry import ARCHITECTURES
from rnnlab.options import BOUNDS, bounded, flag_of, options_of
from rnnlab.training.config import DEFAULT_PRESET, PRESETS, OptimConfig, StreamConfig, TrainConfig, build_config, lookup
from tests.conftest import REPO

DECLARED = options_of(DataConfig, *(a.config for a in ARCHITECTURES.values()), OptimConfig, StreamConfig, TrainConfig)
NOT_CONFIG = {"--help", "--preset", "--config", "--init-from", "--out", "--no-progress", "--resume"}


def train_help():
    """{flag: its help text} of `rnnlab train`, as argparse prints it (both flags of a --x/--no-x pair)."""
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    return {flag: action.help % {"default": action.default} for action in sub._actions for flag in action.option_strings}


def test_the_help_lists_exactly_the_declared_options():
    declared = {flag_of(name, meta) for name, (_, meta) in DECLARED.items()}
    toggles = {"--no-" + flag_of(name, meta)[2:] for name, (_, meta) in DECLARED.items() if meta["switch"] == "toggle"}
    assert set(train_help()) - {"-h"} - NOT_CONFIG == declared | toggles


def test_each_option_shows_the_default_every_preset_gives_it():
    entries = train_help()
    for name, (_, meta) in DECLARED.items():
        if meta["default_text"] or meta["switch"] in ("on", "off"):
            continue
        shown = re.findall(r"\(default: (.*)\)", entries[flag_of(name, meta)])[-1]
        values = {preset: lookup(build_config(preset), name) for preset in PRESETS}
        assert shown.split(";")[0] == show(values[DEFAULT_PRESET]) or values[DEFAULT_PRESET] is None, (name, shown)
        for preset, value in values.items():
            if preset != DEFAULT_PRESET and value is not None and value != values[DEFAULT_PRESET]:
                assert f"{preset} {show(value)}" in shown, (name, preset, shown)


@pytest.mark.parametrize("name", list(BOUNDS))
def test_one_bounded_number_factory(name):
    kind, ok, says = BOUNDS[name]
    check = bounded(name)
    assert check.__name__ == name
    with pytest.raises(Exception, match=says.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        check("-1")


def test_the_cli_declares_no_config_field_by_hand():
    source = (REPO / "src" / "rnnlab" / "cli" / "args.py").read_text(encoding="utf-8")
    train_parser = next(ast.get_source_segment(source, node) for node in ast.parse(source).body
                        if getattr(node, "name", None) == "add_train_parser")
    flags = set(re.findall(r'add_argument\("(--[a-z0-9-]+)"', train_parser))
    assert flags == NOT_CONFIG - {"--help"}
    assert source.count("add_argument(") <= 65


def test_no_architecture_is_told_apart_by_isinstance_outside_the_registry():
    names = {a.config.__name__ for a in ARCHITECTURES.values()} | {"LanguageModel", "AWDLanguageModel"}
    for path in (REPO / "src" / "rnnlab").rglob("*.py"):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                assert not {getattr(n, "id", getattr(n, "attr", None)) for n in ast.walk(node.args[1])} & names, path


def test_every_function_fits_on_a_screen():
    long = []
    for path in (REPO / "src" / "rnnlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.name}:{node.name}")
    assert not long


def test_the_library_checks_bounds_and_choices_as_the_flags_do():
    from rnnlab.errors import RnnlabError
    with pytest.raises(RnnlabError, match="--hidden-size: must be a positive integer, got 0"):
        build_config(hidden_size=0)
    with pytest.raises(RnnlabError, match="--schedule linear: not one of constant, cosine"):
        build_config(schedule="linear")
    with pytest.raises(RnnlabError, match="unknown option 'hiden_size'"):
        build_config(hiden_size=12)
