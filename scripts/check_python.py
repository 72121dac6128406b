"""Say in one sentence what to do when the Python at hand cannot run Brigade: the Makefile runs
this before it builds or uses .venv. Two cases: a Python older than 3.11, and a .venv built with
another Python (upgraded, removed, or another PYTHON=...).

Written so that even an old Python runs it (no f-strings, no annotations): the point is to
answer with the sentence, not with a SyntaxError.
"""

import os
import sys

VENV = sys.argv[1] if len(sys.argv) > 1 else ".venv"
NEEDED = (3, 11)


def fail(sentence):
    """Print the sentence and stop make."""
    sys.stderr.write(sentence + "\n")
    sys.exit(1)


def venv_version(venv):
    """The Python version `venv` was built with, from its pyvenv.cfg (None if unreadable)."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg")) as cfg:
            for line in cfg:
                key, _, value = line.partition("=")
                if key.strip() in ("version", "version_info"):
                    return tuple(int(part) for part in value.strip().split(".")[:2])
    except (OSError, ValueError):
        return None
    return None


here = tuple(sys.version_info[:2])
if here < NEEDED:
    fail(
        "Brigade needs Python 3.11 or newer and %s is %d.%d: install a newer Python, then run "  # noqa: UP031
        "make again with PYTHON=python3.11 (or newer)." % (sys.executable, here[0], here[1])
    )
built_with = venv_version(VENV)
if os.path.isdir(VENV) and not os.access(os.path.join(VENV, "bin", "python"), os.X_OK):
    fail(
        "The Python %s was built with is gone (removed or moved): run `make clean`, then make "  # noqa: UP031
        "again to rebuild it." % VENV
    )
if os.path.isdir(VENV) and built_with != here:
    fail(
        "%s was built with another Python (%s) than %s (%d.%d): run `make clean`, then make "  # noqa: UP031
        "again to rebuild it."
        % (
            VENV,
            "unknown" if built_with is None else "%d.%d" % built_with,  # noqa: UP031
            sys.executable,
            here[0],
            here[1],
        )
    )
