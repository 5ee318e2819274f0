"""The error of an input that cannot be read or processed; `monitor.files.read` exports it as before."""

from __future__ import annotations


class LoadError(Exception):
    """A load that cannot be processed (unreadable file, missing required column); one-line message."""
