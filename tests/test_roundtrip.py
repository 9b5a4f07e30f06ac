"""What one command writes, the others read: generate's text and JSON are read back by prosody, eval and
eval-gen --poems, by format detection or by --format."""
import json
import subprocess
import sys

import pytest

from rnnlab.cli import main
from rnnlab.data import readers

FORMS = ["wujue", "qijue", "wulv", "qilv"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", ["txt", "json"])
def test_prosody_counts_every_generated_poem(capsys, tiny_run, tmp_path, form, kind):
    extra = ["--json"] if kind == "json" else []
    out = run(capsys, "generate", "--checkpoint", tiny_run.run_dir, "--form", form, "--num", "20", "--seed", "0", *extra)
    path = tmp_path / f"poems.{kind}"
    path.write_text(out, encoding="utf-8")
    assert readers.guess_format(path) == ("json" if kind == "json" else "lines")
    result = json.loads(run(capsys, "prosody", path, "--json"))
    assert result["forms"][form]["poems"] + result["forms"][form]["ze_rhymed"] == 20
    assert sum(r["poems"] + r["ze_rhymed"] for r in result["forms"].values()) == 20
    scored = json.loads(run(capsys, "eval-gen", "--checkpoint", tiny_run.run_dir, "--poems", path, "--form", form, "--json"))
    assert scored["poems"] == 20 and scored["form_valid"] == 1.0
    report = json.loads(run(capsys, "eval", "--checkpoint", tiny_run.run_dir, "--corpus", path, "--split", "all", "--json"))
    poems = json.loads(out)["poems"] if kind == "json" else out.splitlines()
    data = tiny_run.checkpoint.data_config               # a longer poem is cut, as in training: its seq_len - 1
    cut = data.seq_len if data.cut_end else data.seq_len - 1      # characters, and <eos> only with cut_end
    assert report["sequences"] == 20
    assert report["tokens"] == sum(len(p) + 1 if len(p) + 1 <= data.seq_len else cut for p in poems)


def test_an_explicit_format_overrides_the_guess(capsys, tiny_run, tmp_path):
    out = run(capsys, "generate", "--checkpoint", tiny_run.run_dir, "--form", "qijue", "--num", "4", "--seed", "0")
    path = tmp_path / "poems.txt"
    path.write_text(out, encoding="utf-8")
    as_one = json.loads(run(capsys, "prosody", path, "--format", "blank-line", "--json"))
    assert sum(r["poems"] + r["ze_rhymed"] for r in as_one["forms"].values()) == 0       # one 112-character "poem"
    with pytest.raises(SystemExit) as stop:
        main(["prosody", str(path), "--format", "yaml"])
    assert stop.value.code == 2 and "invalid choice: 'yaml'" in capsys.readouterr().err


def test_a_shell_pipe_from_generate_to_prosody(tiny_run):
    rnnlab = [sys.executable, "-m", "rnnlab"]
    gen = subprocess.run(rnnlab + ["generate", "--checkpoint", str(tiny_run.run_dir), "--form", "wulv", "--num", "5"],
                         capture_output=True, text=True, check=True)
    result = subprocess.run(rnnlab + ["prosody", "/dev/stdin", "--json"], input=gen.stdout, capture_output=True,
                            text=True, check=True)
    forms = json.loads(result.stdout)["forms"]
    assert forms["wulv"]["poems"] + forms["wulv"]["ze_rhymed"] == 5


def test_an_unreadable_generated_file_is_one_line(capsys, tiny_run, tmp_path):
    out = run(capsys, "generate", "--checkpoint", tiny_run.run_dir, "--form", "wujue", "--num", "3", "--json")
    cut = tmp_path / "cut.json"
    cut.write_text(out[: len(out) // 2], encoding="utf-8")                  # a download or a pipe cut short
    for argv in (["prosody", cut], ["eval-gen", "--checkpoint", tiny_run.run_dir, "--poems", cut],
                 ["eval", "--checkpoint", tiny_run.run_dir, "--corpus", cut]):
        assert main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "malformed JSON" in err and "Traceback" not in err
