"""`rnnlab experiment optimizers --quick` and `optimizer-paths --quick` write their files."""
import csv

from rnnlab.cli import main
from rnnlab.experiments.optimizer_paths import OPTIMIZERS, PROBLEMS
from rnnlab.experiments.optimizers import RUNS
from tests.conftest import POEMS


def test_optimizers_quick(tmp_path, capsys):
    assert main(["experiment", "optimizers", "--out", str(tmp_path), "--quick", "--corpus", POEMS,
                 "--steps", "6"]) == 0
    assert {"results.csv", "summary.md", "loss_curves.png"} <= {p.name for p in tmp_path.iterdir()}
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {r["optimizer"] for r in rows} == set(RUNS)
    for label in RUNS:
        steps = [int(r["step"]) for r in rows if r["optimizer"] == label and r["train_loss"]]
        assert steps == list(range(1, 7))
    summary = capsys.readouterr().out
    assert all(f"| {label} |" in summary for label in RUNS)


def test_same_start_same_batches_same_first_loss(tmp_path):
    """All optimizers see the same first batch with the same weights: their first train losses agree."""
    main(["experiment", "optimizers", "--out", str(tmp_path), "--quick", "--corpus", POEMS, "--steps", "2"])
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    first = {r["train_loss"] for r in rows if r["step"] == "1"}
    assert len(first) == 1


def test_optimizer_paths_quick(tmp_path, capsys):
    assert main(["experiment", "optimizer-paths", "--out", str(tmp_path), "--quick"]) == 0
    assert {"rosenbrock.png", "saddle.png", "rosenbrock.gif", "saddle.gif", "paths.csv", "summary.md"} <= {p.name for p in tmp_path.iterdir()}
    rows = list(csv.DictReader(open(tmp_path / "paths.csv")))
    assert {(r["function"], r["optimizer"]) for r in rows} == {(f, o) for f in PROBLEMS for o in OPTIMIZERS}
    assert "| rosenbrock | Adam |" in capsys.readouterr().out


def test_paths_descend_on_rosenbrock():
    from rnnlab.experiments.optimizer_paths import rosenbrock, trajectory
    fn, start, _, window, steps, lrs = PROBLEMS["rosenbrock"]
    for label, (cls, kwargs) in OPTIMIZERS.items():
        path = trajectory(fn, start, 200, cls, dict(lr=lrs[label], **kwargs), window)
        assert rosenbrock(*path[-1]) < rosenbrock(*start), label


def test_unknown_corpus_is_one_line_and_writes_nothing(tmp_path, capsys):
    assert main(["experiment", "optimizers", "--out", str(tmp_path / "out"), "--corpus", "nope", "--quick"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope" in err
    assert not (tmp_path / "out").exists()


def test_awd_ablation_quick(tmp_path, capsys):
    from rnnlab.experiments.awd_ablation import VARIANTS
    assert main(["experiment", "awd-ablation", "--out", str(tmp_path), "--quick", "--corpus", POEMS]) == 0
    assert {"results.csv", "summary.md", "curves.png"} <= {p.name for p in tmp_path.iterdir()}
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {r["variant"] for r in rows} == set(VARIANTS) and len(rows) == 2 * len(VARIANTS)
    summary = capsys.readouterr().out
    assert all(f"| {label} |" in summary for label in VARIANTS)
