"""Command line: argument parsing only (args.py); every command calls one library function (commands.py).

User errors (RnnlabError) become one line on stderr and exit code 2."""
import os
import sys

from rnnlab.cli.args import build_parser
from rnnlab.cli.commands import COMMANDS
from rnnlab.errors import Interrupted, RnnlabError


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
    except RnnlabError as e:
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        if os.environ.get("RANK", "0") == "0":
            print(f"rnnlab: {e}", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                 # e.g. `rnnlab generate ... | head -1`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code or 0
