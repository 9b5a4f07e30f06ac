"""The prosody ruler held against the poets: the regulated poems of the Tang corpus pass the classical
checks, the same poems with each line's characters shuffled do not."""
import json
import random

import pytest

from rnnlab.cli import main
from rnnlab.generate.poets import poets_rates
from rnnlab.generate.ruler import read_poems, score, shuffle_lines
from tests.conftest import POEMS, needs_data

TONES_AT_LEAST = {"wujue": 0.65, "qijue": 0.80, "wulv": 0.65, "qilv": 0.80}


@needs_data("chinese-poetry", "quantangshi")     # about the full corpus: 57,607 poems
def test_the_tang_poets_pass_and_shuffled_lines_fail():
    poems = read_poems("tang")
    real, shuffled = score(poems), score(poems, shuffled=True)
    for form, r in real["forms"].items():
        assert r["poems"] > 3000
        assert r["rhyme"] >= 0.90 and r["tones"] >= TONES_AT_LEAST[form], (form, r)
        assert shuffled["forms"][form]["tones"] <= r["tones"] / 3, (form, shuffled["forms"][form])
    modern = score(poems, "modern")
    assert all(modern["forms"][f]["tones"] < real["forms"][f]["tones"] / 2 for f in real["forms"])
    for prosody, result in (("classical", real), ("modern", modern)):       # the figures eval-gen prints beside
        for form, r in result["forms"].items():
            assert poets_rates(form, prosody) == pytest.approx({"rhyme": r["rhyme"], "tones": r["tones"]}, abs=5e-5)


def test_shuffling_keeps_each_line_end_and_its_characters():
    poem = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
    out = shuffle_lines(poem, random.Random(1))
    assert out != poem and sorted(out) == sorted(poem)
    assert [out[i] for i in (4, 5, 10, 11, 16, 17, 22, 23)] == list("尽，流。目，楼。")


def test_prosody_command_prints_json_per_form(capsys):
    assert main(["prosody", POEMS, "--json"]) == 0          # 唐诗三百首
    result = json.loads(capsys.readouterr().out)
    assert list(result["forms"]) == ["wujue", "qijue", "wulv", "qilv"]
    assert all(set(r) >= {"poems", "rhyme", "tones"} and r["poems"] > 20 for r in result["forms"].values())
    assert result["forms"]["qijue"]["tones"] >= 0.8


def test_prosody_command_on_a_missing_file(capsys, tmp_path):
    assert main(["prosody", str(tmp_path / "none.txt")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("system", ["classical", "modern"])
def test_prosody_command_table(capsys, tmp_path, system):
    corpus = tmp_path / "four.txt"
    corpus.write_text("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。\n\n床前明月光，疑是地上霜。举头望明月，低头思故乡。\n",
                      encoding="utf-8")
    assert main(["prosody", str(corpus), "--prosody", system]) == 0
    table = capsys.readouterr().out
    assert "| 五言绝句 | 2 | 100.0% |" in table
