"""From a corpus to encoded train/valid sequences: read, convert, clean, split, build the
vocabulary, encode, and cache the result so a second run loads in about a second.

Each sequence is stored as token ids [<bos>, c1, ..., cn, <eos>] for poems, or as a window of
seq_len + 1 characters for running text, so that input = seq[:-1] and target = seq[1:].
"""
import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.data import clean, readers, sources
from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes, atomic_write_text
from rnnlab.options import option

CACHE_VERSION = 2         # 2: stats' characters count the training poems as cut for training (--train-seq-len)


@dataclass(frozen=True)
class DataConfig:
    corpus: str = option("tang", "tang, tangshi, shakespeare, or a path")
    format: str | None = option(None, "how to read a corpus file (lines: one poem a line, as generate prints)",
                                choices=readers.READERS, default_text="guessed")
    seq_len: int = option(49, "tokens per sequence incl. the end token (the reference's \"sentence length\"); "
                              "longer poems are truncated", bounds="positive_int")
    train_seq_len: int | None = option(None, "cut the training poems at this many tokens instead: more of each long "
                                             "poem to learn from, while validation and the vocabulary keep --seq-len, "
                                             "so perplexities stay comparable; running text keeps --seq-len",
                                       bounds="positive_int",
                                       default_text="--seq-len")
    min_len: int = option(12, "drop poems shorter than this many characters", bounds="positive_int")
    min_count: int = option(3, "keep characters seen at least this often in the training split", bounds="positive_int")
    t2s: bool | None = option(None, "convert traditional to simplified characters", switch="toggle",
                              default_text="on for Chinese corpora")
    form_token: bool = option(False, "begin each poem with a token of its form (free, 五绝, 七绝, 五律, 七律), the "
                                     "first thing the model predicts after <bos>; generate --form feeds it; running "
                                     "text has no poems and gets none", switch="toggle")
    cut_end: bool = option(True, "end a poem cut at --seq-len with <eos> like a whole one (the reference's); with "
                                 "--no-cut-end it ends without, so the model does not learn that poems stop at the "
                                 "cut (a 七律 after line 6)", switch="toggle")
    valid_fraction: float = option(0.2, "share of sequences held out for validation", bounds="fraction")
    split_seed: int = option(0, "seed of the train/valid split")


class Split:
    """Variable-length sequences stored as one flat int32 array plus offsets."""

    def __init__(self, tokens, offsets):
        self.tokens, self.offsets = tokens, offsets

    @classmethod
    def from_lists(cls, seqs):
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(s) for s in seqs])
        tokens = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
        return cls(tokens, offsets)

    @classmethod
    def concat(cls, splits):
        tokens = np.concatenate([s.tokens for s in splits])
        starts = np.cumsum([0] + [int(s.offsets[-1]) for s in splits[:-1]])
        offsets = np.concatenate([[0]] + [s.offsets[1:] + start for s, start in zip(splits, starts)])
        return cls(tokens, offsets.astype(np.int64))

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, i):
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]

    def head(self, n):
        """The first n sequences (in corpus order: the split keeps the poems' order, so this is no sample)."""
        n = min(n, len(self))
        return Split(self.tokens[:self.offsets[n]], self.offsets[:n + 1])

    def sample(self, n, seed=0):
        """n sequences drawn at random (seeded; kept in split order): a subset that stands for the split.
        (The split is in corpus order, and the corpus by poet: its first poems are the early court poets'.)"""
        if n >= len(self):
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False))
        return Split.from_lists([self[i].tolist() for i in keep])

    def without(self, other, cuts=()):
        """The sequences of this split that share no line with `other`. A line is a run of tokens between two
        of `cuts` (the ids of the marks that end a line, and of <bos> and <eos>); with no cuts, the whole
        sequence. Famous poems recur in a corpus as variants, a character or a title changed, that a
        verbatim test would let through."""
        cuts = np.asarray(sorted(cuts), dtype=self.tokens.dtype)

        def lines(seq):
            is_cut = np.isin(seq, cuts)
            if not is_cut.any():
                return {seq.tobytes()}
            edges = np.flatnonzero(is_cut)                      # each cut token becomes a piece of its own
            pieces = np.split(seq, np.union1d(edges, edges + 1))
            return {piece.tobytes() for piece in pieces if len(piece) and not np.isin(piece[0], cuts)}

        seen = set().union(*(lines(other[i]) for i in range(len(other))))
        return Split.from_lists([self[i].tolist() for i in range(len(self)) if not lines(self[i]) & seen])

    @property
    def n_targets(self):
        """Number of predicted tokens: every token but the first of each sequence."""
        return int(self.offsets[-1]) - len(self)


@dataclass
class Prepared:
    train: Split
    valid: Split
    vocab: Vocab
    stats: dict

    def split(self, name):
        """train, valid, or all (both, train first)."""
        return {"train": self.train, "valid": self.valid, "all": Split.concat([self.train, self.valid])}[name]


def split_indices(n, valid_fraction, seed):
    """A permutation from numpy's PCG64 generator: the same split on every machine for a seed."""
    perm = np.random.default_rng(seed).permutation(n)
    n_valid = int(round(n * valid_fraction))
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


def prepare(config, vocab=None, fetch_missing=False, use_cache=True):
    corpus = sources.resolve(config.corpus, fetch_missing=fetch_missing, format=config.format)
    t2s = corpus.chinese if config.t2s is None else config.t2s
    key = _cache_key(corpus, config, t2s, vocab)
    if use_cache:
        hit = _load_cache(key, vocab)
        if hit is not None:
            return hit
    texts = readers.READERS[corpus.format](corpus.path)
    if t2s:
        texts = to_simplified(texts)
    if corpus.format == "text":
        kept = clean.text_windows(texts[0], config.seq_len + 1)
        stats = {"read": 1, "dropped": {}, "truncated": 0, "kept": len(kept)}
    else:
        kept, cstats = clean.clean_poems(texts, config.min_len, config.seq_len - 1)
        stats = cstats.as_dict()
    if not kept:
        raise RnnlabError(f"{corpus.path}: no sequences left after cleaning ({_describe(stats)})")
    train_idx, valid_idx = split_indices(len(kept), config.valid_fraction, config.split_seed)
    if len(train_idx) == 0:
        raise RnnlabError(f"{corpus.path}: too few sequences ({len(kept)}) for a train/valid split")
    from rnnlab.generate.forms import FORM_NAMES, form_of

    form_token = config.form_token and corpus.format != "text"       # running text has no poems, so no forms
    # each kept poem whole, before the cut: its form is judged on it, and whether the cut shortened it
    needs_whole = corpus.format != "text" and (form_token or not config.cut_end or bool(config.train_seq_len))
    whole = clean.clean_poems(texts, config.min_len, float("inf"))[0] if needs_whole else kept
    forms = [form_of(poem) for poem in whole] if form_token else [None] * len(kept)
    if vocab is None:
        vocab = Vocab.build((kept[i] for i in train_idx), config.min_count, tuple(FORM_NAMES) if form_token else ())
    if form_token and not vocab.form_ids:        # (a vocabulary with form tokens serves data without them)
        raise RnnlabError("--form-token: the vocabulary has no form tokens")
    # --train-seq-len: the same poems, cut longer for training only (running text has no poems to cut longer)
    cut_longer = config.train_seq_len and corpus.format != "text"
    train_kept = [poem[:config.train_seq_len - 1] for poem in whole] if cut_longer else kept

    def encode(i, poems):
        if corpus.format == "text":
            return vocab.encode(poems[i])
        ids = vocab.poem(poems[i], forms[i])
        cut = len(poems[i]) < len(whole[i])
        return ids[:-1] if cut and not config.cut_end else ids    # --no-cut-end: a cut poem has no <eos>

    train = Split.from_lists([encode(i, train_kept) for i in train_idx])
    valid = Split.from_lists([encode(i, kept) for i in valid_idx])
    stats.update(
        corpus=str(corpus.path), format=corpus.format, t2s=t2s,
        characters=sum(len(train_kept[i]) for i in train_idx) + sum(len(kept[i]) for i in valid_idx),   # as encoded
        vocab_size=len(vocab),
        train=len(train), valid=len(valid),
        unknown=int((train.tokens == vocab.unk).sum() + (valid.tokens == vocab.unk).sum()),
    )
    result = Prepared(train, valid, vocab, stats)
    if use_cache:
        _save_cache(key, result)
    return result


def to_simplified(texts):
    import opencc
    converter = opencc.OpenCC("t2s")
    return [converter.convert(t) for t in texts]


def _describe(stats):
    dropped = ", ".join(f"{n} {why}" for why, n in stats["dropped"].items()) or "none"
    return f"read {stats['read']}, dropped {dropped}"


def _source_signature(path):
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]


def _cache_key(corpus, config, t2s, vocab):
    blob = json.dumps({
        "version": CACHE_VERSION, "config": asdict(config), "t2s": t2s, "format": corpus.format,
        "files": _source_signature(corpus.path),
        "vocab": None if vocab is None else hashlib.sha256(vocab.to_json().encode()).hexdigest(),
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cache_paths(key):
    folder = sources.cache_dir() / "datasets"
    return folder / f"{key}.npz", folder / f"{key}.json"


def _save_cache(key, p):
    arrays_path, meta_path = _cache_paths(key)
    arrays_path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, train_tokens=p.train.tokens, train_offsets=p.train.offsets,
             valid_tokens=p.valid.tokens, valid_offsets=p.valid.offsets)
    atomic_write_bytes(arrays_path, buf.getvalue())
    atomic_write_text(meta_path, json.dumps({"stats": p.stats, "vocab": json.loads(p.vocab.to_json())}, ensure_ascii=False))


def _load_cache(key, vocab):
    arrays_path, meta_path = _cache_paths(key)
    if not (arrays_path.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        with np.load(arrays_path, allow_pickle=False) as z:
            train = Split(z["train_tokens"], z["train_offsets"])
            valid = Split(z["valid_tokens"], z["valid_offsets"])
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache entry is rebuilt
    return Prepared(train, valid, vocab or Vocab(meta["vocab"]["itos"]), dict(meta["stats"], cached=True))
