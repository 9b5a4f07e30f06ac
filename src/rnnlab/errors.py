"""The one exception type for mistakes a user can fix (bad file, bad argument, bad checkpoint).

The CLI turns it into a one-line message and exit code 2, the web API into a 422 naming `field` (the
request option at fault, where there is one); any other exception is a bug.
"""


class RnnlabError(Exception):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class Interrupted(Exception):
    """Training got SIGINT or SIGTERM and saved its state first; the CLI exits with 128 + the signal."""

    def __init__(self, signum, step, run_dir):
        import signal
        super().__init__(f"{signal.Signals(signum).name} at step {step}: training state saved; continue with "
                         f"`rnnlab train --resume {run_dir}`")
        self.signum = signum
