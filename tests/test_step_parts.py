"""benchmarks/step_parts.py: tiny shapes give a row per part."""
from benchmarks.step_parts import main


def test_tiny_shapes_time_each_part_both_ways(capsys):
    main(["--batch", "4", "--steps", "5", "--units", "8", "--repeats", "2"])
    table = capsys.readouterr().out
    assert "| dropout |" in table and "| rows with a target |" in table
    assert "| prosody embeddings |" in table and "'cpu':" in table
