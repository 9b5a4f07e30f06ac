"""Which cells track a poem's structure, and how the gates are used (Karpathy, Johnson and Fei-Fei 2015,
"Visualizing and Understanding Recurrent Networks", §4.2 and §4.3).

Structure, at each step t of a poem (after reading token t; t = 0 is <bos>):
    position in line   characters of the current line read so far (0 after a punctuation mark)
    line index         punctuation marks read so far
    rhyme next         1 where the next character ends an even line (the rhyme position), else 0
    distance to end    characters still to come

A unit's score for a property is the Pearson correlation of its activation (c or h) with it over every
step of every poem. The best unit is chosen on the first half of the poems and scored on the second, so
that picking the best of many units does not inflate its figure; beside it:
    shuffled           the same unit on the same poems with each line's characters shuffled (the marks
                       stay): a cell that counts structure keeps its correlation, one that followed the
                       characters that happen to stand at some positions loses it;
    chance             the best |r| of any unit with the property's values permuted: what selection
                       among this many units finds in noise.
"""
import numpy as np

from rnnlab.generate.forms import PUNCTUATION

PROPERTIES = ("position in line", "line index", "rhyme next", "distance to end")
SATURATED = (0.1, 0.9)          # a gate below the first or above the second is saturated (the paper's figure)


def structure(text):
    """{property: array (len(text) + 1,)} for the steps <bos>, text[0], ..., text[-1]."""
    col, line, cols, lines = 0, 0, [0], [0]
    for ch in text:
        if ch in PUNCTUATION:
            col, line = 0, line + 1
        else:
            col += 1
        cols.append(col)
        lines.append(line)
    ends_even_line = np.zeros(len(text) + 1)
    for t in range(len(text) - 1):                 # step t predicts text[t], of line lines[t] (0-based)
        if text[t + 1] in PUNCTUATION and text[t] not in PUNCTUATION and lines[t] % 2 == 1:
            ends_even_line[t] = 1
    return {"position in line": np.array(cols, float), "line index": np.array(lines, float),
            "rhyme next": ends_even_line, "distance to end": np.arange(len(text), -1, -1, dtype=float)}


def shuffle_within_lines(text, rng):
    """Each line's characters in a random order; the punctuation marks stay where they are."""
    out, line = [], []
    for ch in text + "\0":
        if ch in PUNCTUATION or ch == "\0":
            out += [line[i] for i in rng.permutation(len(line))] + ([ch] if ch != "\0" else [])
            line = []
        else:
            line.append(ch)
    return "".join(out)


def activations(traces):
    """(steps, units) of every c and h unit of every layer over the poems' traces, and each column's
    (layer, kind, unit)."""
    columns = [(layer, kind, unit) for layer, values in enumerate(traces[0]) for kind in ("c", "h")
               for unit in range(values[kind].shape[1])]
    rows = np.concatenate([np.concatenate([layer[k] for layer in trace for k in ("c", "h")], axis=1)
                           for trace in traces])
    return rows, columns


def correlations(x, y):
    """Pearson r of each column of x (steps, units) with y (steps,); 0 for a constant column."""
    xc, yc = x - x.mean(0), y - y.mean()
    norm = np.sqrt((xc ** 2).sum(0) * (yc ** 2).sum())
    return np.divide(xc.T @ yc, norm, out=np.zeros(x.shape[1]), where=norm > 0)


def structural_cells(traces, shuffled_traces, texts, shuffled_texts, seed=0):
    """For each property: the unit found on the first half of the poems and its r there, on the second
    half, on the shuffled second half, and the chance level (see the module's docstring)."""
    half = max(1, len(texts) // 2)
    fit, fit_cols = activations(traces[:half])
    test, cols = activations(traces[half:] or traces[:half])
    shuffled, _ = activations(shuffled_traces[half:] or shuffled_traces[:half])
    found = {}
    rng = np.random.default_rng(seed)
    for name in PROPERTIES:
        target = lambda group: np.concatenate([structure(t)[name] for t in group])  # noqa: E731
        y_fit = target(texts[:half])
        y_test, y_shuffled = target(texts[half:] or texts[:half]), target(shuffled_texts[half:] or shuffled_texts[:half])
        r_fit = correlations(fit, y_fit)
        best = int(np.abs(r_fit).argmax())
        layer, kind, unit = cols[best]
        found[name] = {"layer": layer, "kind": kind, "unit": unit, "r_found": float(r_fit[best]),
                       "r_held_out": float(correlations(test[:, [best]], y_test)[0]),
                       "r_shuffled": float(correlations(shuffled[:, [best]], y_shuffled)[0]),
                       "chance": float(np.abs(correlations(test, rng.permutation(y_test))).max())}
    return found


def saturation(traces):
    """Per layer and gate (i, f, o): each unit's share of steps below 0.1 and above 0.9."""
    low, high = SATURATED
    per_layer = []
    for layer in range(len(traces[0])):
        gates = {}
        for g in ("i", "f", "o"):
            values = np.concatenate([trace[layer][g] for trace in traces])
            gates[g] = {"left": (values < low).mean(0), "right": (values > high).mean(0)}
        per_layer.append(gates)
    return per_layer
