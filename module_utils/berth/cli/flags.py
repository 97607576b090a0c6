"""The argument parser every verb but create/run uses (those parse from the option table).

Docker's conventions: an error prints the message and ``See 'berth VERB --help'.``
and exits 1; ``--help`` prints the usage with every flag and its description.
"""
import argparse
import sys


class _Formatter(argparse.HelpFormatter):
    """A fixed width: argparse's default asks shutil (and so imports bz2, lzma) on every run."""

    def __init__(self, prog):
        argparse.HelpFormatter.__init__(self, prog, width=100, max_help_position=36)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write("%s\nSee '%s --help'.\n" % (message, self.prog))
        raise SystemExit(1)


def parser(verb, usage, description):
    """A parser for ``berth VERB``; ``usage`` is the part after ``berth``."""
    return Parser(prog="berth " + verb, usage="berth " + usage, description=description,
                  formatter_class=_Formatter)


def containers_parser(verb, description, several=True):
    """The common shape: ``berth VERB [OPTIONS] CONTAINER [CONTAINER...]``."""
    usage = "%s [OPTIONS] CONTAINER%s" % (verb, " [CONTAINER...]" if several else "")
    result = parser(verb, usage, description)
    if several:
        result.add_argument("containers", nargs="+", metavar="CONTAINER")
    else:
        result.add_argument("container", metavar="CONTAINER")
    return result
