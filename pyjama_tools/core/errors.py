"""Exception classes shared by the three packages.

Every user mistake (bad file, bad key, bad parameter, bad YAML) is raised as a
:class:`MirError` (or a subclass) whose message is one line naming the file,
key, entry index or YAML path at fault.  The command-line layers turn it into
that one line on stderr and exit code 1, with no traceback.
"""

from __future__ import annotations


class MirError(Exception):
    """A user mistake or bad input; ``str(error)`` is the one line shown to the user."""


class ValidationError(MirError):
    """A document (``.pyjama``, audio HDF5, config) breaks the rules of its format.

    Parameters
    ----------
    problems : list of str
        Every problem found, each naming its entry index / key / field / atom.
    source : str
        The file (or object) that was validated.
    """

    def __init__(self, problems: list[str], source: str = "document"):
        self.problems = list(problems)
        self.source = source
        first = self.problems[0] if self.problems else "invalid"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{source}: {first}{more}")


class ParameterError(MirError):
    """A parameter value is not allowed; the message names parameter, value and what is allowed."""
