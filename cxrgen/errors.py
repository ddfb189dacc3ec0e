"""The error hierarchy. The CLI prints a CxrgenError as one line and exits with its kind's code.

Every message names the thing at fault (file, key, value), the problem and the fix, e.g.
``records.jsonl line 12: missing field 'id' (re-run `cxrgen prepare …`)``.

Exit codes (also in the README), so scripts and SLURM jobs can tell the kinds apart:

==  =====================================================================================
0   success
1   a check that found problems (``status --quiet``, ``audit --strict``); or an unexpected error
    (a bug: a traceback is printed)
2   usage or config: unknown option/key, bad value (:class:`ConfigError`); a training loss that
    became nan/inf (:class:`DivergedError`: lower the learning rate)
3   bad input data or checkpoint (:class:`InputError`, :class:`EmptyResultError`,
    :class:`CheckpointError`)
4   a missing, partial or stale upstream artifact (:class:`MissingArtifactError`)
5   a missing optional dependency or program (:class:`DependencyError`)
6   out of room: the workspace cannot be written, disk full or read-only (:class:`WorkspaceWriteError`),
    or the machine ran out of memory (:class:`OutOfMemory`)
75  another process holds the artifact's lock: retry later (:class:`WorkspaceLockedError`;
    75 is ``EX_TEMPFAIL`` of sysexits.h, so a SLURM script can requeue on it)
130 interrupted (Ctrl-C, or ``CXRGEN_FAIL_AT``); the work folder is kept for resume
==  =====================================================================================
"""

from __future__ import annotations


class CxrgenError(Exception):
    """A user-facing error: printed without traceback, exit code ``exit_code``."""

    exit_code = 2


class ConfigError(CxrgenError, ValueError):
    """A bad config key, value or combination of options."""


class InputError(CxrgenError, ValueError):
    """Bad input data: a malformed file, a missing column, a path escaping its root, …"""

    exit_code = 3


class MissingArtifactError(CxrgenError, FileNotFoundError):
    """An upstream artifact is missing, partial or stale; the message names the command to run."""

    exit_code = 4


class WorkspaceLockedError(CxrgenError):
    """Another process is writing the same stage directory (retryable)."""

    exit_code = 75


class CheckpointError(CxrgenError):
    """A checkpoint that cannot be loaded safely (wrong mode, pickled code, missing files)."""

    exit_code = 3


class DependencyError(CxrgenError, ImportError):
    """An optional dependency or external program (java, bitsandbytes) is missing."""

    exit_code = 5


class WorkspaceWriteError(CxrgenError, OSError):
    """The workspace cannot be written (disk full, read-only); previous artifacts are untouched."""

    exit_code = 6


class DivergedError(CxrgenError):
    """Training produced a non-finite loss; nothing was committed, the last good checkpoint is kept."""


class EmptyResultError(InputError):
    """A stage would write an artifact with nothing in it (0 records, 0 images, 0 predictions), or one
    drop reason removed most of the input under ``--strict``."""


class OutOfMemory(CxrgenError):
    """An allocation failed (CPU or GPU): a size setting, the batch size or the machine is too large/small."""

    exit_code = 6


def out_of_memory(e: BaseException) -> "OutOfMemory | None":
    """:class:`OutOfMemory` for an allocator failure (MemoryError, torch's CPU/CUDA out-of-memory), else None.

    One line naming the allocation and the settings that size it, so a typo such as ``prefix_len=100000000``
    (51 GB) ends as an error and not a traceback; the work folder stays for a resume with smaller settings."""
    text = " ".join(str(e).split())
    if not (isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError"
            or (isinstance(e, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text))):
        return None
    import re
    asked = re.search(r"tried to allocate (\d+) bytes", text, re.I)
    what = (f"tried to allocate {int(asked.group(1)) / 2**30:.1f} GiB" if asked
            else (re.search(r"tried to allocate [^(;]+", text, re.I) or [text[:200] or type(e).__name__])[0].strip())
    return OutOfMemory(f"out of memory ({what}); lower --batch-size or the settings that size the model "
                       "(max_len, prefix_len, mapper.layers, lora.r, dual.*_layers), or use a larger machine")

