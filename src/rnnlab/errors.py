"""The one exception type for mistakes a user can fix (bad file, bad argument, bad checkpoint).

The CLI turns it into a one-line message and exit code 2, the web API into a 422 naming `field` (the
request option at fault, where there is one); any other exception is a bug.
"""


class RnnlabError(Exception):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field
