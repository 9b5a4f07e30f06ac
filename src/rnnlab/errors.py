"""The one exception type for mistakes a user can fix (bad file, bad argument, bad checkpoint).

The CLI turns it into a one-line message and exit code 2; any other exception is a bug.
"""


class RnnlabError(Exception):
    pass
