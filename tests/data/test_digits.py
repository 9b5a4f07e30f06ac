import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.data import digits
from rnnlab.errors import RnnlabError


@pytest.mark.parametrize("length", [5, 20])
def test_construction(length):
    data = digits.generate(length, seed=0)
    assert {k: len(v[1]) for k, v in data.items()} == {"train": 300, "dev": 100, "test": 100}
    for name, (x, y) in data.items():
        copies = len(y) // 100
        assert x.shape == (len(y), length)
        assert np.array_equal(y, x[:, 0] + x[:, 1])
        bases = np.repeat([[n1, n2] for n1 in range(10) for n2 in range(10)], copies, axis=0)
        assert np.array_equal(x[:, :2], bases)                       # 100 bases in order, `copies` each
        assert np.all((x[:, 2:] != 0).sum(axis=1) <= 1)             # at most one changed position, from index 2
    changed = (data["train"][0][:, 2:] != 0).sum()
    assert changed > 250                                              # a random digit is 0 one time in ten


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a, b, c = (digits.write(tmp_path / name, lengths=[10], seed=seed)[0] for name, seed in (("a", 1), ("b", 1), ("c", 2)))
    for split in ("train.txt", "dev.txt", "test.txt"):
        assert (a / split).read_bytes() == (b / split).read_bytes()
    assert (a / "train.txt").read_bytes() != (c / "train.txt").read_bytes()
    x, y = digits.load(a / "dev.txt")
    assert np.array_equal(x, digits.generate(10, seed=1)["dev"][0]) and np.array_equal(y, x[:, 0] + x[:, 1])
    assert (a / "train.txt").read_text().splitlines()[0].count("\t") == 1


def test_loader_refuses_malformed_lines(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("1 2 0 0\t3\n1 2 x 0\t3\n")
    with pytest.raises(RnnlabError, match="bad.txt:2"):
        digits.load(f)
    f.write_text("1 2 0 0\t3\n1 2 0\t3\n")
    with pytest.raises(RnnlabError, match="bad.txt:2"):
        digits.load(f)


def test_cli_writes_every_length(tmp_path, capsys):
    assert main(["data", "digits", "--out", str(tmp_path), "--lengths", "5", "35", "--seed", "3"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["35", "5"]
    assert digits.load(tmp_path / "35" / "test.txt")[0].shape == (100, 35)


def test_cli_refuses_a_too_short_length_and_writes_nothing(tmp_path, capsys):
    assert main(["data", "digits", "--out", str(tmp_path / "d"), "--lengths", "10", "2"]) == 2
    assert "at least 3" in capsys.readouterr().err and not (tmp_path / "d").exists()
