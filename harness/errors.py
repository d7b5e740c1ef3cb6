"""Errors a user can cause, each with its exit code."""

from __future__ import annotations


class HarnessError(Exception):
    """A user-facing error: printed as one line, never as a traceback."""

    exit_code = 1


class ConfigError(HarnessError):
    """``templates.toml`` or the command line is wrong."""

    exit_code = 2


class UsageError(HarnessError):
    """The command line asks for something that cannot be done."""

    exit_code = 2


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
