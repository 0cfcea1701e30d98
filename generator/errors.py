"""Errors that reach users: each carries a one-line message naming the file or field."""


class AtlasError(ValueError):
    """Bad input (a shape, a value, a file, a flag). The CLI turns it into exit code 2."""


class ShapeError(AtlasError):
    """An array has the wrong shape; the message states what was expected and what arrived."""


class ResourceUnavailable(AtlasError):
    """Something a page needs cannot be obtained here (no network, say).

    The build still succeeds: the page says plainly what is missing and why.
    """
