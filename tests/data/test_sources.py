import hashlib
import json
import os
import sys
import tarfile
import textwrap

import pytest

from rnnlab.data import sources
from rnnlab.errors import RnnlabError

POEMS = json.dumps([{"paragraphs": ["床前明月光，疑是地上霜。"]}], ensure_ascii=False).encode()


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """An `npm` on PATH whose `pack` writes a tarball shaped like chinese-poetry's."""
    src = tmp_path / "src"
    (src / "package" / "dist" / "quantangshi").mkdir(parents=True)
    (src / "package" / "dist" / "quantangshi" / "poet.tang.0.json").write_bytes(POEMS)
    (src / "package" / "dist" / "other.json").write_text("[]")
    (src / "package" / "LICENSE").write_text("MIT")
    tgz = tmp_path / "chinese-poetry-2.0.1.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src / "package", arcname="package")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import shutil, sys
        args = sys.argv[1:]
        assert args[0] == "pack"
        shutil.copy({str(tgz)!r}, args[args.index("--pack-destination") + 1])
        """))
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_fetch_verifies_and_installs(fake_npm, tmp_path):
    hashes = {"quantangshi/poet.tang.0.json": hashlib.sha256(POEMS).hexdigest()}
    target = sources.fetch_tang(tmp_path / "data" / "chinese-poetry", hashes=hashes)
    assert sorted(p.name for p in target.iterdir()) == ["poet.tang.0.json"]
    assert (target.parent / "LICENSE").read_text() == "MIT"
    # a second fetch finds the files and only re-verifies them
    assert sources.fetch_tang(tmp_path / "data" / "chinese-poetry", hashes=hashes) == target


def test_fetch_with_a_wrong_hash_leaves_nothing(fake_npm, tmp_path):
    dest = tmp_path / "data" / "chinese-poetry"
    with pytest.raises(RnnlabError, match="wrong SHA-256"):
        sources.fetch_tang(dest, hashes={"quantangshi/poet.tang.0.json": "0" * 64})
    assert not (dest / "quantangshi").exists()


def test_fetch_without_npm_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RnnlabError, match="needs npm.*RNNLAB_DATA"):
        sources.fetch_tang(tmp_path / "cp")


def test_bundled_hashes_name_every_tang_file():
    hashes = sources.expected_tang_hashes()
    assert len(hashes) == 59 and all(len(h) == 64 for h in hashes.values())
    assert "quantangshi/poet.tang.57000.json" in hashes


def test_named_corpus_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path))
    with pytest.raises(RnnlabError, match="corpus 'tang' not found.*rnnlab data fetch tang"):
        sources.resolve("tang")


def test_unknown_path(tmp_path):
    with pytest.raises(RnnlabError, match="no such file or corpus"):
        sources.resolve(str(tmp_path / "missing.txt"))
