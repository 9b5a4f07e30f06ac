import json

import pytest

from rnnlab.data import readers
from rnnlab.errors import RnnlabError


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_json_file_joins_paragraphs(tmp_path):
    f = write(tmp_path / "poet.tang.0.json", json.dumps([
        {"title": "t", "author": "a", "paragraphs": ["床前明月光，", "疑是地上霜。"]},
        {"title": "u", "paragraphs": ["一二三四五，"]}], ensure_ascii=False))
    assert readers.read_json_poems(f) == ["床前明月光，疑是地上霜。", "一二三四五，"]


def test_json_directory_reads_files_in_numeric_order(tmp_path):
    for n, text in [(1000, "千"), (0, "零"), (2000, "两千")]:
        write(tmp_path / f"poet.tang.{n}.json", json.dumps([{"paragraphs": [text]}], ensure_ascii=False))
    write(tmp_path / "authors.tang.json", "[]")
    assert readers.read_json_poems(tmp_path) == ["零", "千", "两千"]


def test_json_any_list_with_paragraphs(tmp_path):
    f = write(tmp_path / "唐诗三百首.json", json.dumps([{"paragraphs": ["甲", "乙"], "tags": []}], ensure_ascii=False))
    assert readers.read_json_poems(f) == ["甲乙"]


def test_malformed_json_names_file_and_line(tmp_path):
    f = write(tmp_path / "bad.json", '[{"paragraphs": ["x"]},\n  oops]')
    with pytest.raises(RnnlabError, match=r"bad.json: malformed JSON at line 2"):
        readers.read_json_poems(f)


def test_json_without_paragraphs_is_refused(tmp_path):
    f = write(tmp_path / "other.json", '{"a": 1}')
    with pytest.raises(RnnlabError, match="paragraphs"):
        readers.read_json_poems(f)


def test_title_colon_lines(tmp_path):
    f = write(tmp_path / "poems.txt", "静夜思:床前明月光，疑是地上霜。\n\n春晓：春眠不觉晓，处处闻啼鸟。\n")
    assert readers.read_title_colon_poems(f) == ["床前明月光，疑是地上霜。", "春眠不觉晓，处处闻啼鸟。"]


def test_blank_line_poems(tmp_path):
    f = write(tmp_path / "t.txt", "一行，\n二行。\n\n\n三行，\n四行。\n")
    assert readers.read_blank_line_poems(f) == ["一行，二行。", "三行，四行。"]


def test_plain_text_is_one_stream(tmp_path):
    f = write(tmp_path / "s.txt", "First Citizen:\nSpeak.\n\nAll:\nSpeak.\n")
    assert readers.read_plain_text(f) == ["First Citizen:\nSpeak.\n\nAll:\nSpeak.\n"]


def test_guess_format(tmp_path):
    assert readers.guess_format(tmp_path) == "json"
    assert readers.guess_format(write(tmp_path / "a.txt", "静夜思:床前明月光\n春晓:春眠不觉晓\n")) == "title-colon"
    assert readers.guess_format(write(tmp_path / "b.txt", "床前明月光，\n\n春眠不觉晓。\n")) == "blank-line"
    assert readers.guess_format(write(tmp_path / "c.txt", "To be, or not to be:\nthat is the question.\n")) == "text"


def test_non_utf8_is_refused(tmp_path):
    f = write(tmp_path / "gbk.txt", "床前明月光", encoding="gbk")
    with pytest.raises(RnnlabError, match="not UTF-8"):
        readers.read_text_file(f)


def test_missing_file(tmp_path):
    with pytest.raises(RnnlabError, match="no such file"):
        readers.read_text_file(tmp_path / "nope.txt")


def test_unreadable_path(tmp_path):
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(RnnlabError, match="folder.txt: cannot read"):
        readers.read_text_file(tmp_path / "folder.txt")
