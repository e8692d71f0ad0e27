"""streamkeeper: concurrency monitoring, viewer experience and media platform in one server."""

__version__ = "0.1.0"
