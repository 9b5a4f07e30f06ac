"""Look inside a trained LSTM: its gates and cells over a poem (trace.py), the cells that track the
poem's structure and how saturated the gates are (structure.py), the model's own choices at each
position and where a constraint overruled them (choices.py), and the command's pictures (report.py)."""
