"""Logging: INFO for progress and counts, never report text (it can hold patient data).

Stages report through this logger and return data; cli/ renders the data on stdout. The handler
writes to stderr, so stdout carries only a command's output (pure JSON under --json) and logs
can be silenced or redirected without losing it.
"""

from __future__ import annotations

import logging
import os

from cxrgen.utils import dist

log = logging.getLogger("cxrgen")


def setup(verbosity: int = 0) -> None:
    if verbosity <= 0:  # library chatter (weight-loading bars, config advisories) only with -v
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    if not dist.is_main() and verbosity <= 0:
        level = logging.WARNING
    if os.environ.get("CXRGEN_LOGLEVEL"):
        level = getattr(logging, os.environ["CXRGEN_LOGLEVEL"].upper(), level)
    try:
        from rich.console import Console
        from rich.logging import RichHandler
        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False, show_time=False,
                                               markup=False)
    except ImportError:
        handler = logging.StreamHandler()  # stderr
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = True  # our handler prints; root normally has none (and pytest caplog can listen)
