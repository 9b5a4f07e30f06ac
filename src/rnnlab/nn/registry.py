"""The architectures in one table: each one's config, model class and engines, the softmaxes it has, how
a new model is built for the data and how a model is rebuilt from a checkpoint's weights. Every other
module asks this table; `architecture_of` is the one place where a config's type is looked at.
Torch-free until a model is built, so that the command line can read it."""
from dataclasses import dataclass, fields, replace
from importlib import import_module
from typing import Callable

from rnnlab.errors import RnnlabError
from rnnlab.nn.configs import AWDConfig, ModelConfig


@dataclass(frozen=True)
class Architecture:
    name: str                 # as a checkpoint's config.json names it
    title: str                # in messages
    config: type
    model: str                # "module:Class", imported when a model is built
    engines: dict             # engine name (--engine) -> its class in training/engines.py
    presets: str              # the --preset that chooses it, for messages
    stream: bool              # trains on the token stream in BPTT windows (training/config.py: StreamConfig)
    sized: Callable = lambda config, vocab: replace(config, vocab_size=len(vocab), form_tokens=len(vocab.form_ids))
    extra_arguments: Callable = lambda config, weights=None, counts=None, vocab=None: {}   # other constructor arguments

    @property
    def softmaxes(self):
        return next(f for f in fields(self.config) if f.name == "softmax").metadata["option"]["choices"]

    def model_class(self):
        module, name = self.model.split(":")
        return getattr(import_module(module), name)

    def new_model(self, config, vocab, train_tokens):
        """A freshly initialised model (from torch's generator) for the vocabulary `vocab` (a Vocab)."""
        import numpy as np

        config = self.sized(config, vocab)                 # the config for the data
        counts = np.bincount(train_tokens, minlength=len(vocab))
        return self.model_class()(config, **self.extra_arguments(config, counts=counts, vocab=vocab))

    def rebuild(self, config, weights):
        """The model `config` describes, to receive the checkpoint's `weights` (not loaded yet)."""
        return self.model_class()(config, **self.extra_arguments(config, weights=weights))


def awd_sized(config, vocab):
    """The class softmax's classes default to the square root of the vocabulary (Goodman 2001)."""
    n_classes = (config.n_classes or round(len(vocab) ** 0.5)) if config.softmax == "class" else 0
    return replace(config, vocab_size=len(vocab), n_classes=n_classes)


def prosody_tables_of(config, weights=None, counts=None, vocab=None):
    """The plain LSTM's prosody inputs and loss need their tables: from the checkpoint, or built for the vocabulary."""
    if not (config.prosody_inputs or config.prosody_loss):
        return {}
    if weights is not None:
        return {"prosody_tables": {name: weights["prosody." + name] for name in ("tone", "groups", "kind")}}
    from rnnlab.nn.prosody_inputs import prosody_tables
    return {"prosody_tables": prosody_tables(vocab)}


def class_softmax_classes(config, weights=None, counts=None, vocab=None):
    """AWD-LSTM's class softmax needs each token's class: from the checkpoint, or by frequency in the data."""
    if config.softmax != "class":
        return {}
    if weights is not None:
        if "decoder.token_class" not in weights:
            raise RnnlabError("weights without decoder.token_class for a class-softmax model")
        return {"token_class": weights["decoder.token_class"]}
    from rnnlab.nn.class_softmax import frequency_classes
    return {"token_class": frequency_classes(counts, config.n_classes)}


ARCHITECTURES = {a.name: a for a in (
    Architecture("lstm", "the plain LSTM", ModelConfig, "rnnlab.nn.lm:LanguageModel",
                 {"torch": "TorchEngine", "numpy": "NumpyEngine"}, "cpu-fast or a seed-* --preset", stream=False,
                 extra_arguments=prosody_tables_of),
    Architecture("awd", "AWD-LSTM", AWDConfig, "rnnlab.nn.awd:AWDLanguageModel", {"torch": "AWDEngine"},
                 "an awd-* --preset", stream=True, sized=awd_sized, extra_arguments=class_softmax_classes),
)}


def architecture_of(config):
    """The Architecture whose config `config` is (a model's .config, or a training config's .model)."""
    return next(a for a in ARCHITECTURES.values() if isinstance(config, a.config))
