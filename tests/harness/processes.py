"""Child Python processes on the session's database, synchronised through files and polling with deadlines."""

import os
import subprocess
import sys
import textwrap
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEADLINE = 120.0

# Prepended to every child's code: signal files, written atomically and awaited with a deadline.
PRELUDE = f"""
import os, sys, time
def write_file(path, text=""):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
def wait_file(path, timeout={DEADLINE}):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit(f"timed out waiting for {{path}}")
        time.sleep(0.05)
"""


def spawn(code, **env):
    """Starts ``python -c code`` (dedented, after ``PRELUDE``) with the repository importable and the session's
    environment (``FIFTYONE_DATABASE_URI`` included) plus ``env``."""
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.path.join(REPO, "tests")]), **env}
    return subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], env=environ)


def wait_for(predicate, what, timeout=DEADLINE, interval=0.05):
    """Polls ``predicate`` until it returns something truthy, which it returns; fails after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def read_when_written(path, child, timeout=DEADLINE):
    """The text of ``path`` once ``child`` has written it with ``write_file``; fails if the child exits first."""

    def written():
        assert os.path.exists(path) or child.poll() is None, f"child exited ({child.returncode}) before writing {path}"
        return os.path.exists(path)

    wait_for(written, f"{path} to be written", timeout)
    with open(path) as f:
        return f.read()


def finish(child, timeout=DEADLINE):
    """Waits for ``child`` and checks that it succeeded."""
    assert child.wait(timeout=timeout) == 0, f"child process exited with {child.returncode}"
