import pytest

from rnnlab.data.clean import BAD_CHARS, clean_poems, text_windows

POEM = "床前明月光，疑是地上霜。"


@pytest.mark.parametrize("bad", list(BAD_CHARS))
def test_each_bad_char_drops_the_poem(bad):
    kept, stats = clean_poems([POEM, POEM[:3] + bad + POEM[3:]], min_len=5, max_len=48)
    assert kept == [POEM]
    assert stats.dropped == {"bad_char": 1}


def test_reference_marks_are_bad():
    assert set("（(《[_□{") <= set(BAD_CHARS)


def test_short_poems_are_dropped_and_counted():
    kept, stats = clean_poems(["一二三", "一二三四五六"], min_len=5, max_len=48)
    assert kept == ["一二三四五六"]
    assert stats.dropped == {"too_short": 1}


def test_long_poems_are_truncated():
    kept, stats = clean_poems([POEM * 3], min_len=5, max_len=10)
    assert kept == [POEM[:10]]
    assert stats.truncated == 1 and stats.kept == 1


def test_whitespace_is_removed_and_empty_poems_counted():
    kept, stats = clean_poems([" 床前 明月光，\n疑是地上霜。", "  \n"], min_len=5, max_len=48)
    assert kept == [POEM]
    assert stats.as_dict() == {"read": 2, "dropped": {"empty": 1}, "truncated": 0, "kept": 1}


def test_text_windows_drop_the_partial_tail():
    assert text_windows("abcdefgh", 3) == ["abc", "def"]
