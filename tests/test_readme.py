"""The README's Python examples run as written (in a scratch folder that holds the test fixtures)."""
import re

from tests.conftest import REPO


def python_blocks(section):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    text = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_python_examples_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixtures").symlink_to(REPO / "tests" / "fixtures")
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks("From Python")
    assert len(blocks) == 2
    scope = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), scope)
    out = capsys.readouterr().out
    assert "after 月:" in out and (tmp_path / "runs" / "api-demo" / "best" / "model.safetensors").exists()
