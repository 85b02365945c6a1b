"""User-facing errors: one line that names the problem and the fix."""


class GankitError(Exception):
    """An error caused by the user's input or environment.

    The CLI prints its message on one line (no traceback) and exits with status 2.
    Messages should say what is wrong *and* what to do about it.
    """
