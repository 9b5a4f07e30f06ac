"""benchmarks/train_memory.py: a tiny run reports each setting."""
import json

from benchmarks.train_memory import SETTINGS, main

from tests.conftest import POEMS


def test_a_tiny_run_reports_each_setting(tmp_path, capsys):
    out = tmp_path / "memory.json"
    main(["--preset", "seed-small", "--corpus", POEMS, "--steps", "12", "--rounds", "1", "--out", str(out)])
    runs = json.loads(out.read_text())["runs"]
    assert set(runs) == set(SETTINGS)
    assert all(r["peak_gb"] > 0 and r["s_per_step"] > 0 and "10" in r["rss_gb"] for rs in runs.values() for r in rs)
    table = capsys.readouterr().out
    assert "| rows rounded (rnnlab) |" in table and "RSS after 10 steps" in table
