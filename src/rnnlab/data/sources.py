"""Where corpora live: named corpora in the data folder, fetching the Tang corpus, hash checks.

The data folder is $RNNLAB_DATA if set (CI points it at ../shared/data), else the user's data
directory. Its layout is that of shared/data:
    chinese-poetry/quantangshi/poet.tang.*.json   tangshi.txt   tinyshakespeare/input.txt
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rnnlab.errors import RnnlabError

TANG_NPM_PACKAGE = "chinese-poetry@2.0.1"  # its dist/quantangshi matches tang.sha256 file for file


@dataclass(frozen=True)
class Corpus:
    name: str
    path: Path
    format: str      # a key of readers.READERS
    chinese: bool    # convert traditional -> simplified by default


NAMED = {
    "tang": ("chinese-poetry/quantangshi", "json", True),
    "tangshi": ("tangshi.txt", "blank-line", True),
    "shakespeare": ("tinyshakespeare/input.txt", "text", False),
}


def data_dir():
    if os.environ.get("RNNLAB_DATA"):
        return Path(os.environ["RNNLAB_DATA"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "rnnlab"


def cache_dir():
    if os.environ.get("RNNLAB_CACHE"):
        return Path(os.environ["RNNLAB_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnlab"


def resolve(corpus, fetch_missing=False):
    """A corpus name (tang, tangshi, shakespeare) or a path -> Corpus."""
    from rnnlab.data.readers import guess_format, is_han, read_text_file

    if corpus in NAMED:
        rel, fmt, chinese = NAMED[corpus]
        path = data_dir() / rel
        if not path.exists():
            if corpus == "tang" and fetch_missing:
                fetch_tang()
            else:
                hint = "run `rnnlab data fetch tang`" if corpus == "tang" else "point RNNLAB_DATA at a folder holding it"
                raise RnnlabError(f"corpus '{corpus}' not found at {path}; {hint}")
        return Corpus(corpus, path, fmt, chinese)
    path = Path(corpus).expanduser()
    if not path.exists():
        raise RnnlabError(f"{corpus}: no such file or corpus (named corpora: {', '.join(NAMED)})")
    fmt = guess_format(path)
    chinese = fmt != "text" or any(is_han(ch) for ch in read_text_file(path)[:2000])
    return Corpus(path.name, path, fmt, chinese)


def expected_tang_hashes():
    text = resources.files("rnnlab.data").joinpath("tang.sha256").read_text(encoding="utf-8")
    return dict(reversed(line.split()) for line in text.splitlines() if line.strip())


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(root, hashes):
    """Raise unless every file named in `hashes` (relative to root) exists with that SHA-256."""
    bad = [rel for rel, digest in hashes.items() if not (root / rel).is_file() or sha256(root / rel) != digest]
    if bad:
        raise RnnlabError(f"{len(bad)} of {len(hashes)} files missing or with a wrong SHA-256 under {root} (first: {bad[0]})")


def fetch_tang(dest=None, hashes=None, package=TANG_NPM_PACKAGE):
    """Get the complete Tang poems from the chinese-poetry npm package, verify, and install them.

    Files are checked in a temporary folder and moved into `dest` only when all hashes match,
    so a failed fetch leaves nothing behind. Returns the corpus folder.
    """
    dest = Path(dest) if dest else data_dir() / "chinese-poetry"
    hashes = hashes or expected_tang_hashes()
    target = dest / "quantangshi"
    if target.exists():
        verify(dest, hashes)
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RnnlabError("fetching the Tang corpus needs npm (Node.js); or set RNNLAB_DATA to a folder holding chinese-poetry/quantangshi")
    print(f"fetching the Tang corpus: npm pack {package} (about 85 MB) ...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        done = subprocess.run([npm, "pack", package, "--silent", "--pack-destination", str(tmp)],
                              capture_output=True, text=True)
        tarballs = list(tmp.glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            said = (done.stderr or done.stdout or "").strip().splitlines()
            raise RnnlabError(f"npm pack {package} failed: {said[-1] if said else f'exit code {done.returncode}'}")
        staged = tmp / "staged"
        with tarfile.open(tarballs[0]) as tar:
            for rel in list(hashes) + ["LICENSE"]:
                member = f"package/{rel}" if rel == "LICENSE" else f"package/dist/{rel}"
                try:
                    data = tar.extractfile(member).read()
                except (KeyError, AttributeError):
                    raise RnnlabError(f"{package} does not contain {member}") from None
                (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                (staged / rel).write_bytes(data)
        verify(staged, hashes)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(staged / "LICENSE", dest / "LICENSE")
        partial = dest / ".quantangshi.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(staged / "quantangshi", partial)
        partial.rename(target)
    return target
