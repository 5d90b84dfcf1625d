"""Errors of the store. Each says what is wrong with which file and what to do; none is raised after
anything has been written to a file the store could not validate."""

from __future__ import annotations


class StoreError(Exception):
    """A store problem that is not damage or a version mismatch (missing file, locked, bad use)."""


class StoreCorruptError(StoreError):
    """The file is not a risk-manager database, or it is damaged. The file was left untouched."""


class StoreVersionError(StoreError):
    """The database was written by a newer program (or needs an upgrade a reader cannot do)."""


class StoreLockedError(StoreError):
    """Another process has the database open for writing."""
