"""Checkpoint directories: weights in safetensors, everything else in JSON. Nothing is unpickled.

    DIR/model.safetensors   the state_dict (parameter names shared by every cell)
    DIR/config.json         {"format_version", "architecture": "lstm" | "awd", "model": its config, "data": DataConfig}
    DIR/vocab.json          the vocabulary the weights were trained with
    DIR/meta.json           step, epoch, validation perplexity, ..., and the SHA-256 of model.safetensors
A run directory may be given instead of a checkpoint: its best/ checkpoint is used, and a bundled
model's name (bundled.py: `tang`) its folder inside the package. The weights may be stored in half
precision (the bundled model's are); they are loaded as float32.
"""
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from rnnlab.bundled import bundled_checkpoint, checkpoint_or_default, is_bundled_name
from rnnlab.data.dataset import DataConfig
from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes, atomic_write_text
from rnnlab.nn.registry import ARCHITECTURES, architecture_of

FORMAT_VERSION = 1
FILES = ("model.safetensors", "config.json", "vocab.json", "meta.json")


def architecture(model):
    """The architecture's name, from the model's config (either engine's models have one)."""
    return architecture_of(model.config).name


def build_model(config, weights):
    """The model `config` describes with `weights` (a state_dict) loaded; RnnlabError if they disagree."""
    model = architecture_of(config).rebuild(config, weights)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items()}
    if expected != found:
        diff = sorted(set(expected.items()) ^ set(found.items()))
        raise RnnlabError(f"weights do not match config.json (first difference: {diff[0]})")
    model.load_state_dict(weights)
    return model


@dataclass
class Checkpoint:
    model: object             # nn/lm.py's LanguageModel or nn/awd.py's AWDLanguageModel
    vocab: Vocab
    data_config: DataConfig
    meta: dict
    path: Path

    def generate(self, start="", **options):
        """Poems from this model, each opening with `start`: `ckpt.generate("月", form="qijue", num=3)`. The
        options are the fields of GenerationOptions (rnnlab/generate/options.py)."""
        from rnnlab.generate.sampling import generate
        return generate(self.model, self.vocab, start, **options)

    def data(self, corpus=None, format=None):
        """A corpus (default: the one this model trained on) read, cleaned and split with this model's data
        settings and vocabulary, every poem cut at its --seq-len as validation cuts them (a --train-seq-len
        was for training only); the Tang corpus is fetched if it is missing."""
        from rnnlab.data.dataset import prepare

        config = replace(self.data_config, train_seq_len=None)
        config = config if corpus is None else replace(config, corpus=str(corpus), format=format)
        return prepare(config, vocab=self.vocab, fetch_missing=config.corpus == "tang")

    def training_split(self):
        """The training split as the model read it (its poems cut at --train-seq-len, not --seq-len): what
        novelty and `eval --unseen` compare with."""
        from rnnlab.data.dataset import prepare

        return prepare(self.data_config, vocab=self.vocab, fetch_missing=self.data_config.corpus == "tang").train

    def perplexity(self, texts_or_corpus, split="all"):
        """Perplexity per predicted character (the end mark included) of a list of poems, each scored whole
        as given, or of a corpus (a name or a path) read and cleaned as training read this model's corpus;
        `split` of a corpus: all, or the train/valid split of this model's data settings."""
        from rnnlab.data.dataset import Split
        from rnnlab.training.perplexity import poem_perplexity

        if isinstance(texts_or_corpus, (str, Path)):
            sequences = self.data(texts_or_corpus).split(split)
        else:
            from rnnlab.generate.forms import form_of
            sequences = Split.from_lists([self.vocab.poem(t, form_of(t)) for t in texts_or_corpus])
        return poem_perplexity(self.model, sequences, self.vocab.pad)


def save_checkpoint(folder, model, vocab, data_config, meta, dtype=torch.float32):
    """`model`: either engine's language model (anything with .config and .state_dict()); its floats are
    stored as `dtype` (torch.float16 halves the file; they are read back as float32)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not weights_are_finite(model):
        raise RnnlabError(f"refusing to write {folder}: the model has non-finite weights")
    weights = {k: as_saved(torch.as_tensor(v), dtype) for k, v in model.state_dict().items()}
    config = {"format_version": FORMAT_VERSION, "architecture": architecture(model), "model": model.config.to_dict(),
              "data": vars(data_config)}
    data = save(weights)
    atomic_write_bytes(folder / "model.safetensors", data)
    atomic_write_text(folder / "config.json", json.dumps(config, indent=2))
    atomic_write_text(folder / "vocab.json", vocab.to_json())
    atomic_write_text(folder / "meta.json", json.dumps({**meta, "sha256": hashlib.sha256(data).hexdigest()}, indent=2))


def update_meta(folder, **fields):
    """Add or replace fields of a checkpoint's meta.json; the weights and their SHA-256 stay as they are."""
    path = Path(folder) / "meta.json"
    atomic_write_text(path, json.dumps({**_read_json(path), **fields}, indent=2))


def as_saved(t, dtype=torch.float32):
    """A tensor of its own (tied weights share storage, which safetensors refuses), floats as `dtype`."""
    return t.detach().to("cpu", dtype if t.is_floating_point() else t.dtype).clone().contiguous()


def refuse_pickle(path):
    """Refuse a file that is not safetensors before anything parses it; name a pickle (or torch.save zip)
    as such. Nothing here is ever unpickled: unpickling runs whatever code the file asks for."""
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header. That length's first byte
    # may be anything (0x80 too), so the safetensors shape is recognised before any pickle signature.
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < Path(path).stat().st_size:
        return
    if head[:1] == b"\x80" or head.startswith(b"PK\x03\x04"):
        raise RnnlabError(f"{path}: a pickle (torch.save) file; rnnlab reads safetensors only and never unpickles")
    raise RnnlabError(f"{path}: not a safetensors file (truncated or corrupted?)")


def weights_are_finite(model):
    return all(bool(torch.isfinite(torch.as_tensor(v)).all()) for v in model.state_dict().values())


def resolve_checkpoint(path):
    if is_bundled_name(path):
        return bundled_checkpoint(str(path))
    path = Path(path)
    if not path.is_dir():
        raise RnnlabError(f"{path}: no such checkpoint directory")
    if not (path / "model.safetensors").exists() and (path / "best").is_dir():
        path = path / "best"
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise RnnlabError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    return path


def load_checkpoint(path, cell=None, device="cpu", dtype=torch.float32):
    """Rebuild the model from a checkpoint directory or a bundled model's name (None: the default bundled
    model, said on stderr); `cell` may swap the LSTM implementation."""
    path = resolve_checkpoint(checkpoint_or_default(path))
    config = _read_json(path / "config.json")
    if config.get("format_version") != FORMAT_VERSION:
        raise RnnlabError(f"{path}: checkpoint format version {config.get('format_version')}, this rnnlab reads {FORMAT_VERSION}")
    name = config.get("architecture", "lstm")
    if name not in ARCHITECTURES:
        raise RnnlabError(f"{path}/config.json: unknown architecture {name!r}")
    try:
        model_config = ARCHITECTURES[name].config(**{**config["model"], **({"cell": cell} if cell else {})})
        data_config = DataConfig(**config["data"])
    except (KeyError, TypeError):
        raise RnnlabError(f"{path}/config.json: malformed model or data section") from None
    vocab = Vocab.from_json((path / "vocab.json").read_text(encoding="utf-8"))
    if len(vocab) != model_config.vocab_size:
        raise RnnlabError(f"{path}: vocab.json has {len(vocab)} entries but the model expects {model_config.vocab_size}"
                          " (a vocabulary from another model?)")
    meta = _read_json(path / "meta.json")
    refuse_pickle(path / "model.safetensors")
    data = (path / "model.safetensors").read_bytes()
    try:
        weights = load(data)
    except (SafetensorError, OSError) as e:
        raise RnnlabError(f"{path}/model.safetensors: unreadable ({e})") from None
    if "sha256" in meta and hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise RnnlabError(f"{path}/model.safetensors: does not match the SHA-256 in meta.json (changed after saving?)")
    try:
        model = build_model(model_config, weights)
    except RnnlabError as e:
        raise RnnlabError(f"{path}/model.safetensors: {e}") from None
    model.to(device=device, dtype=dtype).eval()
    return Checkpoint(model, vocab, data_config, meta, path)


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RnnlabError(f"{path}: malformed JSON") from None
