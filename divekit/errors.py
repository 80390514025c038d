"""The one exception type the CLI turns into a single line on stderr."""


class DivekitError(Exception):
    """A problem with the user's input or environment, explained in one line; never a bug."""
