"""Logging: INFO for progress and counts, never report text (it can hold patient data)."""

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
        from rich.logging import RichHandler
        handler: logging.Handler = RichHandler(show_path=False, show_time=False, markup=False)
    except ImportError:
        handler = logging.StreamHandler()
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
