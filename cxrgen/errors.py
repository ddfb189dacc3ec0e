"""The error hierarchy. The CLI prints a CxrgenError as one line and exits with its code.

Every message names the thing at fault (file, key, value), the problem and the fix, e.g.
``records.jsonl line 12: missing field 'id' (re-run `cxrgen prepare …`)``.
"""

from __future__ import annotations


class CxrgenError(Exception):
    """A user-facing error: printed without traceback, exit code ``exit_code``."""

    exit_code = 2


class ConfigError(CxrgenError, ValueError):
    """A bad config key, value or combination of options."""


class InputError(CxrgenError, ValueError):
    """Bad input data: a malformed file, a missing column, a path escaping its root, …"""


class MissingArtifactError(CxrgenError, FileNotFoundError):
    """An upstream artifact is missing, partial or stale; the message names the command to run."""


class WorkspaceLockedError(CxrgenError):
    """Another process is writing the same stage directory."""


class CheckpointError(CxrgenError):
    """A checkpoint that cannot be loaded safely (wrong mode, pickled code, missing files)."""


class DependencyError(CxrgenError, ImportError):
    """An optional dependency or external program (java, bitsandbytes) is missing."""


class WorkspaceWriteError(CxrgenError, OSError):
    """The workspace cannot be written (disk full, read-only); previous artifacts are untouched."""


class DivergedError(CxrgenError):
    """Training produced a non-finite loss; nothing was committed, the last good checkpoint is kept."""


class EmptyResultError(InputError):
    """A stage would write an artifact with nothing in it (0 records, 0 images, 0 predictions), or one
    drop reason removed most of the input under ``--strict``."""
