"""Headless Chromium for the report tests: the DOM after the page's script ran, and screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
# .ci/run sets this after installing Chromium: there a missing browser fails the browser tests instead of
# skipping them, so CI cannot go green without having looked at the page
REQUIRED = os.environ.get("CXRGEN_REQUIRE_BROWSER") == "1"


def need_browser() -> None:
    """Skip the calling test without Chromium, or fail it when CI requires the browser."""
    import pytest
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("chromium is missing but CXRGEN_REQUIRE_BROWSER=1: install it (apt-get install chromium)")
        pytest.skip("needs chromium (.ci/run installs it: apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", "--virtual-time-budget=10000"]


def dump_dom(page: Path, fragment: str = "") -> str:
    """The serialised DOM of ``page`` (file://, plus ``#fragment``) after load and script execution."""
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    p = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and "<html" in p.stdout, p.stderr[-2000:]
    return p.stdout


def screenshot(page: Path, out: Path, width: int = 1400, height: int = 2200) -> Path:
    p = subprocess.run([CHROMIUM, *FLAGS, f"--window-size={width},{height}", f"--screenshot={out}",
                        page.resolve().as_uri()], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and out.is_file() and out.stat().st_size > 10_000, p.stderr[-2000:]
    return out


class Dom(HTMLParser):
    """What the tests read from a page: study cards, highlighted chips, metric rows, element texts by id."""

    def __init__(self, html: str):
        super().__init__()
        self.cards: list[dict] = []
        self.metrics: dict[str, dict] = {}
        self.disagree_chips = 0
        self.text_by_id: dict[str, str] = {}
        self.external: list[str] = []
        self._stack: list[tuple[str, str | None]] = []
        self._metric: str | None = None
        self._cell = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        for k in ("src", "href"):
            if a.get(k) and not a[k].startswith(("data:", "#")):
                self.external.append(a[k])
        if tag == "article" and "study" in cls:
            self.cards.append({"id": a.get("data-id"), "hidden": "hidden" in cls,
                               "disagree": a.get("data-disagree", ""), "images": 0})
        if tag == "img" and self.cards:
            self.cards[-1]["images"] += 1
        if tag == "span" and "chip" in cls and "disagree" in cls:
            self.disagree_chips += 1
        if tag == "tr" and a.get("data-key"):
            self._metric, self._cell = a["data-key"], 0
            self.metrics[self._metric] = {"data_value": a.get("data-value"), "cells": []}
        if tag == "td" and self._metric:
            self._cell += 1
        if tag not in ("img", "br", "meta", "input", "link"):
            self._stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        if tag == "tr":
            self._metric = None
        while self._stack:
            t, _ = self._stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self._metric and self._stack and self._stack[-1][0] == "td":
            self.metrics[self._metric]["cells"].append(data.strip())
        for _, ident in self._stack:
            if ident:
                self.text_by_id[ident] = self.text_by_id.get(ident, "") + data
