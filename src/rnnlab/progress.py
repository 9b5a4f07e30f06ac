"""Progress for long work: a tqdm bar when stderr is a terminal; on a log file or in CI no bar is drawn
(it would redraw into the log) and a line is written as each unit of work ends instead."""
import sys
import time

from tqdm import tqdm


def on_terminal():
    return sys.stderr.isatty()


def clock(seconds):
    """1:05:09 or 7:31."""
    minutes, s = divmod(int(round(seconds)), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def tracked(items, total, what):
    """Yield `items` with progress: a bar on a terminal, else one stderr line per item done."""
    bar = tqdm(total=total, desc=what, disable=not on_terminal(), dynamic_ncols=True)
    started = time.perf_counter()
    for done, item in enumerate(items, 1):
        yield item
        bar.update()
        if bar.disable:
            print(f"{what}: {done}/{total} done, {clock(time.perf_counter() - started)} so far", file=sys.stderr, flush=True)
    bar.close()
