"""Corpus readers: one function per file format, each returning a list of raw texts.

A "poem" reader returns one string per poem (lines joined, no newlines); the plain-text
reader returns the whole file as one string, to be cut into windows by the caller.
"""
import json
from pathlib import Path

from rnnlab.errors import RnnlabError

MAX_LINE = 1_000_000      # characters; a longer line is not a poem or running text (a dump, a binary file?)


_PIPES = {}     # a pipe (`rnnlab prosody /dev/stdin`) reads once: its bytes, kept for the reader after the format guess


def read_text_file(path):
    path = Path(path)
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            data = _PIPES.setdefault(str(path), path.read_bytes())
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise RnnlabError(f"{path}: no such file") from None
    except OSError as e:
        raise RnnlabError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RnnlabError(f"{path}: not UTF-8 text (bad byte at offset {e.start})") from None


def read_json_poems(path):
    """chinese-poetry JSON, a list of {"title", "author", "paragraphs": [line, ...]}, or what
    `rnnlab generate --json` prints, {"poems": [poem, ...], ...}; a plain list of poems is read too.

    `path` is one file or a directory; a directory is read as its `poet.*.json` files
    (or every `*.json` if there are none), in numeric order of the number in the name.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("poet.*.json")) or sorted(path.glob("*.json"))
        if not files:
            raise RnnlabError(f"{path}: directory holds no .json files")
        files.sort(key=_numeric_key)
    else:
        files = [path]
    poems = []
    for f in files:
        try:
            items = json.loads(read_text_file(f))
        except json.JSONDecodeError as e:
            raise RnnlabError(f"{f}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        if isinstance(items, dict) and isinstance(items.get("poems"), list):
            items = items["poems"]
        if not isinstance(items, list) or not all(isinstance(p, str) or isinstance(p, dict) and "paragraphs" in p
                                                  for p in items):
            raise RnnlabError(f"{f}: expected a JSON list of poems with a 'paragraphs' field, "
                              "or the {\"poems\": [...]} of `rnnlab generate --json`")
        for p in items:
            lines = p if isinstance(p, str) else p["paragraphs"]
            poems.append("".join(lines) if isinstance(lines, list) else str(lines))
    return poems


def _numeric_key(f):
    digits = "".join(ch for ch in f.stem if ch.isdigit())
    return (int(digits) if digits else -1, f.name)


def read_corpus_text(path):
    """A text corpus file; RnnlabError if a line is over MAX_LINE characters."""
    text = read_text_file(path)
    if len(text) > MAX_LINE:
        for number, line in enumerate(text.splitlines(), 1):
            if len(line) > MAX_LINE:
                raise RnnlabError(f"{path}: line {number} has {len(line):,} characters (limit {MAX_LINE:,}); "
                                  "not a text corpus?")
    return text


def read_title_colon_poems(path):
    """One poem per line, `title:content` (the poems.txt format); the title is dropped."""
    poems = []
    for line in read_corpus_text(path).splitlines():
        line = line.strip()
        if not line:
            continue
        for sep in (":", "："):
            if sep in line:
                line = line.split(sep, 1)[1]
                break
        poems.append(line.replace(" ", ""))
    return poems


def read_blank_line_poems(path):
    """Poems separated by blank lines; the lines of one poem are joined."""
    poems, lines = [], []
    for line in read_corpus_text(path).splitlines() + [""]:
        line = line.strip()
        if line:
            lines.append(line)
        elif lines:
            poems.append("".join(lines))
            lines = []
    return poems


def read_poem_lines(path):
    """One poem per line, as `rnnlab generate` prints them."""
    return [line.strip() for line in read_corpus_text(path).splitlines() if line.strip()]


def read_plain_text(path):
    """Running text (e.g. tinyshakespeare), kept whole as one character stream."""
    return [read_corpus_text(path)]


READERS = {
    "json": read_json_poems,
    "title-colon": read_title_colon_poems,
    "blank-line": read_blank_line_poems,
    "lines": read_poem_lines,
    "text": read_plain_text,
}
POEM_ENDS = "。！？」』"


def guess_format(path):
    """json for a directory, a .json file or text that opens with { or [; otherwise decided from the text:
    title-colon if most lines hold a colon, lines if no blank line parts the text and most lines end a
    sentence (whole poems, as `rnnlab generate` prints them), else blank-line."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".json":
        return "json"
    text = read_text_file(path)
    if text.lstrip()[:1] in ("{", "["):
        return "json"
    sample = text[:20000]
    han = sum(is_han(ch) for ch in sample)
    if han < 0.3 * max(1, len(sample.strip())):
        return "text"
    lines = [ln.strip() for ln in sample.strip().splitlines()]
    if lines and sum((":" in ln or "：" in ln) for ln in lines) > 0.8 * len(lines):
        return "title-colon"
    if len(lines) > 1 and all(lines) and sum(ln.endswith(tuple(POEM_ENDS)) for ln in lines) > 0.8 * len(lines):
        return "lines"
    return "blank-line"


def is_han(ch):
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
