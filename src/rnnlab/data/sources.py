"""Where corpora live: named corpora in the data folder, fetching them, hash checks.

The data folder is $RNNLAB_DATA if set (CI points it at ../shared/data), else the user's data
directory. Its layout is that of shared/data:
    chinese-poetry/quantangshi/poet.tang.*.json   tangshi.txt   tinyshakespeare/input.txt

`fetch` downloads a corpus in Python (download.py), checks the download's own hash and then every
file's SHA-256, and only then installs it, so a failed fetch leaves nothing half-installed. A source
(a URL of a mirror, a local file, or `npm`) can replace the upstream one: `--source` or
$RNNLAB_TANG_SOURCE / $RNNLAB_SHAKESPEARE_SOURCE.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rnnlab.data.download import DownloadError, check_integrity, check_sha256, download, file_digest, parse_sha256sums
from rnnlab.errors import RnnlabError

# chinese-poetry 2.0.1 on the npm registry: its dist/quantangshi matches tang.sha256 file for file.
TANG_NPM_PACKAGE = "chinese-poetry@2.0.1"
TANG_TARBALL = "https://registry.npmjs.org/chinese-poetry/-/chinese-poetry-2.0.1.tgz"
TANG_INTEGRITY = "sha512-KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/EQ3lfJ//25K8p3uHNg=="
# Karpathy's char-rnn data file, the usual tiny Shakespeare (1,115,394 bytes).
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
FETCHABLE = ("tang", "shakespeare")    # tangshi, the handout corpus, has no public upstream


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


def resolve(corpus, fetch_missing=False, format=None):
    """A corpus name (tang, tangshi, shakespeare) or a path -> Corpus; a path's format is `format`, else guessed."""
    from rnnlab.data.readers import READERS, guess_format, is_han, read_text_file

    if format is not None and format not in READERS:
        raise RnnlabError(f"--format {format}: not a corpus format (one of {', '.join(READERS)})")
    if corpus in NAMED:
        rel, fmt, chinese = NAMED[corpus]
        path = data_dir() / rel
        if not path.exists():
            if corpus in FETCHABLE and fetch_missing:
                fetch(corpus)
            else:
                hint = (f"run `rnnlab data fetch {corpus}`" if corpus in FETCHABLE
                        else "it has no public upstream; point RNNLAB_DATA at a folder holding it")
                raise RnnlabError(f"corpus '{corpus}' not found at {path}; {hint}")
        return Corpus(corpus, path, fmt, chinese)
    path = Path(corpus).expanduser()
    if not path.exists():
        raise RnnlabError(f"{corpus}: no such file or corpus (named corpora: {', '.join(NAMED)})")
    fmt = format or guess_format(path)
    chinese = fmt != "text" or any(is_han(ch) for ch in read_text_file(path)[:2000])
    return Corpus(path.name, path, fmt, chinese)


def expected_tang_hashes():
    return parse_sha256sums(resources.files("rnnlab.data").joinpath("tang.sha256").read_text(encoding="utf-8"))


def verify(root, hashes):
    """Raise unless every file named in `hashes` (relative to root) exists with that SHA-256."""
    bad = [rel for rel, digest in hashes.items()
           if not (root / rel).is_file() or file_digest(root / rel, "sha256").hexdigest() != digest]
    if bad:
        raise RnnlabError(f"{len(bad)} of {len(hashes)} files missing or with a wrong SHA-256 under {root} (first: {bad[0]})")


def fetch(name, source=None, timeout=30.0, retries=3, progress=None):
    """Install a named corpus into the data folder (if it is not there yet) and return its path."""
    source = source or os.environ.get(f"RNNLAB_{name.upper()}_SOURCE") or None
    fetcher = {"tang": fetch_tang, "shakespeare": fetch_shakespeare}[name]
    return fetcher(source=source, timeout=timeout, retries=retries, progress=progress)


@contextmanager
def fetched(source, cache_name, check, **net):
    """The file `source` names, passed through `check(path, source)`: a URL is downloaded into the cache
    and removed after use (or when it fails the check); a local path is used as it is."""
    if not source.startswith(("http://", "https://")):
        path = Path(source).expanduser()
        if not path.is_file():
            raise RnnlabError(f"{source}: no such file (a source is an http(s) URL, a local file or npm)")
        check(path, source)
        yield path
        return
    print(f"rnnlab: downloading {source}", file=sys.stderr)
    url_key = hashlib.sha256(source.encode()).hexdigest()[:12]      # a partial file resumes from its own URL only
    path = download(source, cache_dir() / "downloads" / f"{url_key}-{cache_name}", **net)
    try:
        check(path, source)
        yield path
    finally:
        path.unlink(missing_ok=True)


def fetch_tang(dest=None, hashes=None, source=None, integrity=None, **net):
    """Get the complete Tang poems (the chinese-poetry package's tarball), verify, and install them.

    Default source: the npm registry's tarball over HTTPS; where that download fails and npm is on
    PATH, `npm pack` is tried. The tarball's hash is checked, then the files are checked in a
    temporary folder and moved into `dest` only when all hashes match. Returns the corpus folder.
    """
    dest = Path(dest) if dest else data_dir() / "chinese-poetry"
    hashes = hashes or expected_tang_hashes()
    target = dest / "quantangshi"
    if target.exists():
        verify(dest, hashes)
        return target
    check = lambda path, name: check_integrity(path, integrity or TANG_INTEGRITY, name)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if source == "npm":
            install_tang(npm_pack(tmp, check), dest, hashes, tmp)
            return target
        try:
            with fetched(source or TANG_TARBALL, "chinese-poetry-2.0.1.tgz", check, **net) as tarball:
                install_tang(tarball, dest, hashes, tmp)
        except DownloadError as e:
            if source or not shutil.which("npm"):
                raise
            print(f"rnnlab: {e}; trying npm pack", file=sys.stderr)
            install_tang(npm_pack(tmp, check), dest, hashes, tmp)
    return target


def npm_pack(folder, check, package=TANG_NPM_PACKAGE):
    npm = shutil.which("npm")
    if npm is None:
        raise RnnlabError("--source npm: npm (Node.js) is not on PATH")
    print(f"rnnlab: npm pack {package}", file=sys.stderr)
    done = subprocess.run([npm, "pack", package, "--silent", "--pack-destination", str(folder)],
                          capture_output=True, text=True)
    tarballs = list(Path(folder).glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        said = (done.stderr or done.stdout or "").strip().splitlines()
        raise RnnlabError(f"npm pack {package} failed: {said[-1] if said else f'exit code {done.returncode}'}")
    check(tarballs[0], f"npm pack {package}")
    return tarballs[0]


def install_tang(tarball, dest, hashes, tmp):
    """Take LICENSE and dist/quantangshi/* out of the package tarball, verify, move into dest/."""
    staged = tmp / "staged"
    try:
        with tarfile.open(tarball) as tar:
            for rel in list(hashes) + ["LICENSE"]:
                member = f"package/{rel}" if rel == "LICENSE" else f"package/dist/{rel}"
                try:
                    data = tar.extractfile(member).read()
                except (KeyError, AttributeError):
                    raise RnnlabError(f"{Path(tarball).name} does not contain {member}") from None
                (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                (staged / rel).write_bytes(data)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise RnnlabError(f"{Path(tarball).name}: not a readable tarball ({e})") from None
    verify(staged, hashes)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(staged / "LICENSE", dest / "LICENSE")
    partial = dest / ".quantangshi.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(staged / "quantangshi", partial)
    partial.rename(dest / "quantangshi")


def fetch_shakespeare(dest=None, source=None, sha256=None, **net):
    """Get tiny Shakespeare from char-rnn's repository (or `source`), check its SHA-256, install it."""
    dest = Path(dest) if dest else data_dir() / "tinyshakespeare" / "input.txt"
    check = lambda path, name: check_sha256(path, sha256 or SHAKESPEARE_SHA256, name)  # noqa: E731
    if dest.exists():
        check(dest, dest)
        return dest
    with fetched(source or SHAKESPEARE_URL, "tinyshakespeare-input.txt", check, **net) as text:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.partial")
        shutil.copyfile(text, partial)
        os.replace(partial, dest)
    return dest
