"""--train-window: long poems read in windows, the state carried from one step to the next. Every target is
read once, in order, on one row; a poem read in windows scores as one read whole; windows longer than every
poem train exactly as whole poems do."""
import numpy as np
import pytest
import torch

from rnnlab.data.batches import packed_window_batches, shuffled_batches, window_batches, window_count
from rnnlab.data.dataset import Split, prepare
from rnnlab.data.vocab import Vocab
from rnnlab.nn.configs import PROSODY_INPUTS, ModelConfig
from rnnlab.nn.lm import LanguageModel
from rnnlab.nn.prosody_inputs import prosody_tables
from rnnlab.training.config import build_config
from rnnlab.training.loop import train
from tests.conftest import POEMS

PAD = 0


def poems(n, seed=0):
    """n sequences of 2..40 tokens whose ids say where they are: poem i's token j is 1000 * (i + 1) + j."""
    lengths = np.random.default_rng(seed).integers(2, 41, size=n)
    return Split.from_lists([[1000 * (i + 1) + j for j in range(length)] for i, length in enumerate(lengths)])


def test_every_target_is_read_once_in_order_on_one_row_and_only_a_poems_first_window_is_fresh():
    split, window, batch_size = poems(200), 7, 16
    order = np.random.default_rng(1).permutation(len(split))
    batches = window_batches(split, order, batch_size, window, PAD)
    read = {}                                    # poem -> its targets in the order read, and the rows they came on
    for step, (inputs, targets, fresh) in enumerate(batches):
        assert inputs.shape == targets.shape and inputs.shape[1] <= window
        for row in range(batch_size):
            kept = targets[row] != PAD
            assert kept.tolist() == sorted(kept.tolist(), reverse=True)          # padding only at the end
            if not kept.any():
                assert fresh[row] and not inputs[row].any()                      # an empty row starts nothing
                continue
            poem = targets[row, 0] // 1000 - 1
            assert (targets[row, kept] // 1000 - 1 == poem).all()                  # one poem a row
            assert np.array_equal(inputs[row, kept] + 1, targets[row, kept])       # targets follow their inputs
            assert fresh[row] == (inputs[row, 0] % 1000 == 0)                      # fresh: the poem's first window
            if not fresh[row]:                                                     # ... else it goes on where the
                assert read[poem]["last"] == (step - 1, row)                       # same row left it a step before
            entry = read.setdefault(poem, {"targets": []})
            entry["targets"] += targets[row, kept].tolist()
            entry["last"] = (step, row)
    assert sorted(read) == list(range(len(split)))                                 # every poem begun ...
    cut_short = [i for i in read if read[i]["targets"] != split[i][1:].tolist()]
    assert all(read[i]["targets"] == split[i][1:len(read[i]["targets"]) + 1].tolist() for i in read)   # ... in order
    assert set(cut_short) <= set(order[-batch_size:].tolist()) and len(cut_short) < batch_size / 2   # the drain's few
    assert len(cut_short) > 0                                                      # (this order has some)
    windows_read = sum(int((t != PAD).any(axis=1).sum()) for _, t, _ in batches)
    assert windows_read <= window_count(split, window)
    assert len(batches) == pytest.approx(window_count(split, window) / batch_size, abs=window)


def test_windows_as_long_as_the_poems_are_the_shuffled_batches():
    split = poems(200)                                      # 200 = 12 * 16 + 8: no tail to fold
    order_rng, shuffle_rng = np.random.default_rng(3), np.random.default_rng(3)
    batches = window_batches(split, order_rng.permutation(len(split)), 16, 40, PAD)
    expected = shuffled_batches(len(split), 16, shuffle_rng)
    assert len(batches) == len(expected)
    for (inputs, targets, fresh), idx in zip(batches, expected):
        assert fresh.all()
        rows = [split[i] for i in idx]
        assert [t[t != PAD].tolist() for t in targets[:len(rows)]] == [r[1:].tolist() for r in rows]


BOS, EOS = 1, 2


def framed_poems(n, seed=0):
    """n poems <bos> 1000 * (i + 1) + j ... <eos>, of 1..40 characters."""
    lengths = np.random.default_rng(seed).integers(1, 41, size=n)
    return Split.from_lists([[BOS, *(1000 * (i + 1) + j for j in range(length)), EOS] for i, length in enumerate(lengths)])


def test_packed_rows_read_their_poems_back_to_back_without_padding_and_leave_out_the_bos_targets():
    split, window, batch_size = framed_poems(300), 7, 8
    order = np.random.default_rng(2).permutation(len(split))
    batches = packed_window_batches(split, order, batch_size, window, PAD, skip=BOS)
    assert [fresh.all() for _, _, fresh in batches] == [True] + [False] * (len(batches) - 1)
    rows = [np.concatenate([inputs[row] for inputs, _, _ in batches]) for row in range(batch_size)]
    for row, stream in enumerate(rows):
        targets = np.concatenate([t[row] for _, t, _ in batches])
        assert np.array_equal(targets[:-1][stream[1:] != BOS], stream[1:][stream[1:] != BOS])   # each the next input
        assert (targets[:-1][stream[1:] == BOS] == PAD).all() and PAD not in stream        # <bos> left out, no padding
        assert stream[0] == BOS                                         # a row's run begins with a poem
        starts = np.flatnonzero(stream == BOS)
        poems = [stream[a:b] for a, b in zip(starts, [*starts[1:], len(stream)])]
        at = list(order).index(poems[0][1] // 1000 - 1)                # a row reads a run of the order, in order
        for k, poem in enumerate(poems):
            assert np.array_equal(poem, split[order[at + k]][:len(poem)])
    read = sum(len(stream) for stream in rows)                         # every window full; left out: the runs' ends
    assert split.tokens.size - batch_size * (window + 42) <= read < split.tokens.size


def test_packed_rows_of_a_corpus_shorter_than_a_window_pad_one_step():
    split = framed_poems(3)
    batches = packed_window_batches(split, np.arange(3), 8, 200, PAD, skip=BOS)
    assert len(batches) == 1 and batches[0][2].all()
    _, targets, _ = batches[0]
    assert int((targets != PAD).sum()) == split.tokens.size - 3           # all but the three <bos>


POEM = "<七绝>朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"


@pytest.mark.parametrize("inputs", [(), PROSODY_INPUTS])
def test_a_poem_read_in_windows_with_its_state_carried_scores_as_read_whole(inputs):
    text = POEM.removeprefix("<七绝>")
    vocab = Vocab.build([text], min_count=1)
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=len(vocab), embed_size=6, hidden_size=5, prosody_inputs=inputs, prosody_loss=0.5,
                         softmax="adaptive", cutoffs=(8,), tied=True)
    model = LanguageModel(config, prosody_tables(vocab)).double().eval()
    other = torch.tensor(vocab.poem("千里江陵一日还。"))        # the second row: another poem, started fresh mid-way
    seq = torch.tensor(vocab.poem(text))
    whole = model.objective(seq[None, :-1], seq[None, 1:], vocab.pad)
    total, state = 0.0, None
    for start in range(0, len(seq) - 1, 9):
        piece = seq[start:start + 10]
        rows = torch.full((2, len(piece)), vocab.pad)
        rows[0] = piece
        rows[1, :len(other)] = other[:len(piece)]
        fresh = torch.tensor([start == 0, True])
        state = None if state is None else model.restart(state, fresh)
        objective, _, _, state = model.objective(rows[:, :-1], rows[:, 1:], vocab.pad, state)
        alone = model.objective(rows[1:, :-1], rows[1:, 1:], vocab.pad)           # row 1 from a zero state
        total += objective - alone[0]
    torch.testing.assert_close(total, whole[0], rtol=1e-12, atol=0)


def test_windows_longer_than_every_poem_train_as_whole_poems(tmp_path):
    common = {"corpus": POEMS, "embed_size": 16, "hidden_size": 24, "batch_size": 16, "max_steps": 5, "eval_every": 5,
              "time_budget": 0, "device": "cpu", "warmup": 2, "valid_subset": 10}
    whole = build_config("cpu-fast-v6", **common)               # the default before windows: poems cut at 48
    data = prepare(whole.data)
    longest = int(np.diff(data.train.offsets).max())
    windows = build_config("cpu-fast-v6", **common, train_window=longest)
    runs = [train(cfg, data, tmp_path / name, progress=False) for name, cfg in (("whole", whole), ("windows", windows))]
    a, b = (r.checkpoint.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    split_in_two = build_config("cpu-fast-v6", **common, train_window=longest // 2)
    c = train(split_in_two, data, tmp_path / "halves", progress=False).checkpoint.model.state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)
