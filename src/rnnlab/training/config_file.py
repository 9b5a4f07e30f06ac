"""`rnnlab train --config FILE`: a training recipe as a TOML or JSON file.

A file holds options by their `rnnlab train` names (hidden_size = 512), optionally a `preset`, or is a
run's own config.json (its data/model/optim/stream sections are read as options). Flags on the command
line override the file. Each value is checked against its field's type here, against its declared
bounds and choices by build_config; what the file sets is refused as a flag would be when the run would
not use it, except a value equal to what the preset would give anyway (a run's config.json lists every field).
"""
import json
import types
from dataclasses import MISSING
from pathlib import Path
from typing import Union, get_args, get_origin

import tomllib

from rnnlab.errors import RnnlabError
from rnnlab.nn.registry import ARCHITECTURES
from rnnlab.training.config import DEFAULT_PRESET, PRESETS, section_fields

SECTIONS = ("data", "model", "optim", "stream")
FROM_THE_DATA = ("vocab_size", "form_tokens")                 # a trained run's model section has it; the data sets it again


def option_fields(arch):
    """{option name: dataclass field} of a run of architecture `arch` (its name)."""
    return {k: f for section in section_fields(ARCHITECTURES[arch]).values() for k, f in section.items()}


def read_config_file(path):
    """(preset, {option: value}) from a TOML or JSON file; RnnlabError naming the key for a bad one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RnnlabError(f"--config {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise RnnlabError(f"--config {path}: not valid {kind} ({e})") from None
    if not isinstance(raw, dict):
        raise RnnlabError(f"--config {path}: expected a table of options")
    raw = raw.get("train", raw)                 # a run's config.json: {"train": ..., "data_stats": ...}
    options = {k: v for k, v in raw.items() if k not in SECTIONS}
    for section in SECTIONS:
        if isinstance(raw.get(section), dict):
            options.update({k: v for k, v in raw[section].items() if k not in FROM_THE_DATA})
    arch = options.pop("architecture", None)
    preset = options.pop("preset", None)
    if preset is None:
        preset = next((p for p, v in PRESETS.items() if v.get("architecture", "lstm") == arch), DEFAULT_PRESET) \
            if arch else DEFAULT_PRESET
    if preset not in PRESETS:
        raise RnnlabError(f"--config {path}: preset {preset!r} is not one of {', '.join(PRESETS)}")
    preset_arch = PRESETS[preset].get("architecture", "lstm")
    if arch not in (None, preset_arch):
        raise RnnlabError(f"--config {path}: architecture {arch!r} does not match preset {preset!r} ({preset_arch})")
    known = option_fields(preset_arch)
    for key, value in options.items():
        if key not in known:
            raise RnnlabError(f"--config {path}: unknown key {key!r} for {preset!r} (see rnnlab train --help)")
        options[key] = checked(path, key, value, known[key].type)
    defaults = {k: f.default for k, f in known.items() if f.default is not MISSING}
    same = [k for k, v in options.items() if k not in PRESETS[preset] and k in defaults and v == defaults[k]]
    return preset, {k: v for k, v in options.items() if k not in same}


def checked(path, key, value, annotation):
    """`value` as the field's type wants it (a JSON list for a tuple, an int for a float), or RnnlabError."""
    kinds = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    if value is None and type(None) in kinds:
        return None
    for kind in kinds:
        if kind is bool and isinstance(value, bool):
            return value
        if kind in (int, float, str) and isinstance(value, kind) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is tuple and isinstance(value, list):
            return tuple(value)
    wanted = " or ".join("none" if k is type(None) else getattr(k, "__name__", str(k)) for k in kinds)
    raise RnnlabError(f"--config {path}: {key} must be {wanted}, got {value!r}")
