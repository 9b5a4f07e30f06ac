"""HTTP downloads that survive a flaky network: a timeout, a few retries, resume, a hash check.

Only the standard library (urllib). The file grows as `NAME.part` beside its destination; a retry,
or the next run after an interruption, asks for the missing bytes with a Range request (RFC 9110
§14), and the finished file is renamed into place, so a complete `NAME` is always a whole download.
"""
import base64
import hashlib
import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from rnnlab.errors import RnnlabError

CHUNK = 1 << 16
RETRIABLE_HTTP = {408, 429, 500, 502, 503, 504}


class DownloadError(RnnlabError):
    """The network or the server failed us (as opposed to a file with the wrong hash)."""


class Truncated(Exception):
    def __init__(self, have, total):
        super().__init__(f"connection closed after {have:,} of {total:,} bytes")


def download(url, dest, timeout=30.0, retries=3, backoff=1.0, progress=None):
    """Fetch `url` into `dest` and return it; `retries` more tries after the first, waiting
    backoff * 2**k seconds before the k-th. A `dest` already there is taken as it is."""
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    reason = None
    for attempt in range(retries + 1):
        if attempt:
            print(f"rnnlab: {reason}; retrying ({attempt}/{retries})", file=sys.stderr)
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _fetch_into(url, part, timeout, progress)
            os.replace(part, dest)
            return dest
        except urllib.error.HTTPError as e:
            if e.code == 416:                        # our partial file is longer than the server's: start over
                part.unlink(missing_ok=True)
            elif e.code not in RETRIABLE_HTTP:
                raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
            reason = f"HTTP {e.code} {e.reason}"
        except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError,
                http.client.HTTPException, Truncated) as e:
            reason = describe(e)
    kept = f"; {part.stat().st_size:,} bytes kept to resume from" if part.exists() and part.stat().st_size else ""
    tries = "1 try" if retries == 0 else f"{retries + 1} tries"
    raise DownloadError(f"download of {url} failed after {tries}: {reason}{kept}")


def _fetch_into(url, part, timeout, progress):
    """One request: append to `part` from where it ends (206), or rewrite it (200)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "rnnlab", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
        if response.status != 206:                   # the server sends the whole file: start from zero
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(part, "ab" if have else "wb") as f, \
                tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                     desc=part.name.removesuffix(".part"), disable=progress_off(progress)) as bar:
            while block := response.read(CHUNK):
                f.write(block)
                have += len(block)
                bar.update(len(block))
    if total is not None and have < total:
        raise Truncated(have, total)


def progress_off(progress):
    """tqdm's `disable`: None lets tqdm decide (a bar only on a terminal)."""
    return None if progress is None else not progress


def describe(e):
    if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
        e = e.reason
    if isinstance(e, (TimeoutError, socket.timeout)):
        return "timed out"
    return str(e) or type(e).__name__


def parse_sha256sums(text):
    """{file name: hex digest} of a `sha256sum` listing ("DIGEST  NAME" a line)."""
    return dict(reversed(line.split(maxsplit=1)) for line in text.splitlines() if line.strip())


def file_digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h


def check_integrity(path, integrity, name=None):
    """Raise unless `path` matches a Subresource-Integrity string such as npm's `sha512-<base64>`;
    `name` (the source's URL, say) is what the message calls the file."""
    algorithm, _, expected = integrity.partition("-")
    got = base64.b64encode(file_digest(path, algorithm).digest()).decode()
    if got != expected:
        raise RnnlabError(f"{name or path}: {algorithm} is {got[:16]}..., expected {expected[:16]}...; not installed")


def check_sha256(path, expected, name=None):
    got = file_digest(path, "sha256").hexdigest()
    if got != expected:
        raise RnnlabError(f"{name or path}: SHA-256 is {got[:16]}..., expected {expected[:16]}...; not installed")
