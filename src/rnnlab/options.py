"""Options declared once, as metadata of the config dataclasses' fields: the `rnnlab train` and `data
prepare` flags (cli/args.py), the help's defaults per preset, the refusal of unused options
(training/config.py) and `--config` files (training/config_file.py) are all made from it. Torch-free,
so the command line starts without loading torch.

    hidden_size: int = option(512, "LSTM hidden size", bounds="positive_int")

A field without `option(...)` is not an option (vocab_size, the nested sections).
"""
import argparse
from dataclasses import MISSING, field, fields

# name -> (type, the test a value must pass, what the message says it must be)
BOUNDS = {
    "positive_int": (int, lambda v: v >= 1, "must be a positive integer"),
    "non_negative_int": (int, lambda v: v >= 0, "must be an integer >= 0"),
    "positive_float": (float, lambda v: v > 0, "must be > 0"),
    "non_negative_float": (float, lambda v: v >= 0, "must be >= 0"),
    "probability": (float, lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "fraction": (float, lambda v: 0 < v < 1, "must be between 0 and 1"),
    "inspected_poems": (int, lambda v: 1 <= v <= 1000, "must be between 1 and 1000 (a trace keeps every gate)"),
}


def bounded(name):
    """An argparse type for the bounds `name`: converts the text and refuses a value out of bounds."""
    kind, ok, says = BOUNDS[name]

    def check(text):
        value = kind(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{says}, got {text}")
        return value

    check.__name__ = name            # argparse names it in "invalid positive_float value: 'fast'"
    return check


def out_of_bounds(name, value):
    """The message for `value` if it breaks the bounds `name`, else None."""
    kind, ok, says = BOUNDS[name]
    return None if ok(value) else f"{says}, got {value}"


def option(default=MISSING, help="", *, flag=None, bounds=None, choices=None, switch=None, nargs=None, metavar=None,
           group=None, default_text=None, default_factory=MISSING):
    """A config field that is also a command-line option.

    flag: the flag when not --field-name; bounds: a key of BOUNDS; choices: the library's own table of
    names; switch (bool fields): "toggle" (--x / --no-x), "on" (--x sets True) or "off" (--x sets False);
    group: the help section; default_text: what the help says instead of the presets' defaults."""
    meta = {"help": help, "flag": flag, "bounds": bounds, "choices": tuple(choices) if choices else None,
            "switch": switch, "nargs": nargs, "metavar": metavar, "group": group, "default_text": default_text}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata={"option": meta})
    return field(default=default, metadata={"option": meta})


def options_of(*classes):
    """{name: (field, its option metadata)} of the option fields of `classes`, the first declaration of a
    name kept (ModelConfig and AWDConfig share some) with the choices of every declaration merged."""
    found = {}
    for cls in classes:
        for f in fields(cls):
            meta = f.metadata.get("option")
            if meta is None:
                continue
            if f.name in found:
                first, seen = found[f.name]
                merged = tuple(dict.fromkeys((seen["choices"] or ()) + (meta["choices"] or ()))) or None
                found[f.name] = (first, {**seen, "choices": merged})
            else:
                found[f.name] = (f, meta)
    return found


def flag_of(name, meta):
    return meta["flag"] or "--" + name.replace("_", "-")
