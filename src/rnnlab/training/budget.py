"""A run's time budget, and the horizon at which its cosine schedule ends (schedule.py).

A run with a time budget cannot know at its start how many steps the budget holds. After its warm-up (at
least 20 steps) it measures itself: the cost of a step and of one validation on the subset. From these
it keeps time for the final full-split validation (the reserve) and fits the horizon to the budget left.
The first steps are slower than the rest, so that first fit falls short; at every later validation the
reserve is measured again (the median cost of the validations so far) and the horizon fitted again from
the pace since the calibration (validations included), so that the decay ends when the budget does and
no step is spent at a learning rate of zero. The figures are averaged
over torchrun's processes so that all agree; horizon and reserve are kept in the training state.
A run that will finish its epochs (or --max-steps) before its budget ends has its horizon there instead:
a cosine fitted to the clock alone would leave it at a high learning rate when the epochs run out.
"""
import statistics
import time

from rnnlab.training.schedule import fit_horizon

CALIBRATION_STEP = 20


class Budget:
    def __init__(self, cfg, progress, dist, full_valid_share, last_step):
        self.cfg, self.progress, self.dist = cfg, progress, dist
        self.last_step = last_step                         # where the epochs or --max-steps end the run
        self.full_valid_share = full_valid_share          # full-split validation cost / subset validation cost
        self.fits_horizon = bool(cfg.time_budget) and cfg.schedule == "cosine"
        self.started = self.deadline = self.mark = None
        self.eval_costs = []                               # seconds of each validation on the subset

    def start(self):
        """The budget runs from here (a resumed run gets the budget afresh, less the reserve)."""
        p = self.progress
        self.started, self.first_step = time.perf_counter(), p.step
        self.deadline = self.started + self.cfg.time_budget * 60 - p.reserve if self.cfg.time_budget else None
        if p.step >= self.calibrates_at():                 # resumed after its calibration: measure from here
            self.mark = (self.started, p.step)

    def seconds_left(self):
        return self.deadline - time.perf_counter()

    def out_of_time(self):
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def calibrates_at(self):
        return max(self.cfg.warmup, CALIBRATION_STEP)

    def due(self, step):
        """Whether this step must validate so that the run can measure itself."""
        return self.deadline is not None and self.mark is None and step == self.calibrates_at() and \
            (bool(self.cfg.valid_subset) or self.fits_horizon)

    def after_validation(self, seconds):
        """Calibrate (the first time) or fit the horizon again; returns a line to print, or None."""
        if self.deadline is None:
            return None
        self.eval_costs.append(seconds)
        if self.mark is None:
            return self.calibrate(seconds) if self.due(self.progress.step) else None
        return self.refit()

    def calibrate(self, per_eval):
        cfg, p, now = self.cfg, self.progress, time.perf_counter()
        reserve = per_eval * self.full_valid_share if cfg.valid_subset else 0.0
        per_step = (now - self.started - per_eval) / (p.step - self.first_step) + per_eval / cfg.eval_every
        horizon, reserve = self.dist.all_sum([fit_horizon(p.step, self.deadline - now - reserve, per_step), reserve])
        p.reserve = reserve / self.dist.world
        self.deadline -= p.reserve
        self.mark = (time.perf_counter(), p.step)
        if self.fits_horizon:
            p.horizon = min(int(horizon / self.dist.world), self.last_step)
            return f"step {p.step:>6}  cosine schedule fitted to the time budget: it ends at step {p.horizon}"
        return None

    def refit(self):
        p, now = self.progress, time.perf_counter()
        if self.cfg.valid_subset:
            reserve = self.dist.all_sum([statistics.median(self.eval_costs) * self.full_valid_share])[0] / self.dist.world
            self.deadline, p.reserve = self.deadline + p.reserve - reserve, reserve
        if not self.fits_horizon or p.step == self.mark[1]:
            return None
        per_step = (now - self.mark[0]) / (p.step - self.mark[1])
        horizon = self.dist.all_sum([fit_horizon(p.step, self.deadline - now, per_step)])[0] / self.dist.world
        p.horizon = min(int(horizon), self.last_step)
        return None

    def expected_steps(self):
        """The step the run will stop at, at the pace so far (at most the last step its epochs allow)."""
        p, now = self.progress, time.perf_counter()
        mark = self.mark or (self.started, self.first_step)
        if self.deadline is None or p.step == mark[1]:
            return self.last_step
        per_step = (now - mark[0]) / (p.step - mark[1])
        return min(self.last_step, p.step + max(0, int((self.deadline - now) / per_step)))
