"""The learning rate over a run, as a function of the step alone, so a resumed run repeats it exactly:
a linear warm-up over the first `warmup` steps, then constant, or a cosine decay that reaches zero at
the run's horizon (Loshchilov & Hutter 2017, SGDR without restarts).

The horizon is max_steps, or all the epochs' steps; a run with a time budget fits it to the steps that
the rest of the budget will hold, after its warm-up and again at each validation (budget.py), and keeps
it in its state.
"""
import math

SCHEDULES = ("constant", "cosine")


def lr_factor(schedule, step, warmup, horizon):
    """The multiple of the base learning rate for step `step` (0-based); horizon None: not known yet."""
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    if schedule == "constant" or horizon is None:
        return warm
    return warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / horizon)))


def fit_horizon(step, seconds_left, seconds_per_step):
    """The step at which the decay should end so that it ends with the budget."""
    return step + max(1, int(seconds_left / seconds_per_step))
