"""Errors a user can cause. The CLI prints their message without a traceback."""

from __future__ import annotations


class RubiconError(Exception):
    """Root of every error rubicon raises on purpose (bad input, missing setup)."""


class TaskError(RubiconError):
    """A task directory or task.toml is invalid: the message names file, key, found, allowed."""


class ProposalError(RubiconError):
    """A proposal cannot be applied (edit outside editable files, search text not found, ...)."""


class StoreError(RubiconError):
    """The store is missing, of an unknown schema version, or lacks the requested record."""


class ConfigError(RubiconError):
    """A command-line flag, environment variable or option has an invalid value."""


class AnalyticsError(RubiconError):
    """Run records or analysis options are unusable: the message names file, field and fix."""
