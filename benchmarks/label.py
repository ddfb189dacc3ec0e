"""Benchmark: rule-based CheXpert labeler throughput on one core (target ≥ 2,000 reports/s).

Labels the 3,955 real OpenI reports shipped in torchxrayvision (FINDINGS + IMPRESSION), 3 rounds.
Throughput is reported per CPU-second (``time.process_time``; the labeler is single-threaded, so this is
one core and is not distorted by other load on the machine) and per wall-second. The baseline of the
same run is one plain regex scan of every report (``re.finditer(r"\\w+")``), to put the number in context.

Run: python benchmarks/label.py  → benchmarks/results/label.md
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from cxrgen.metrics.chexpert import Labeler
    from cxrgen.metrics.validate import read_openi
    texts = [r.text for r in read_openi()]
    chars = sum(map(len, texts)) / len(texts)
    t0 = time.process_time()
    lab = Labeler()
    compile_s = time.process_time() - t0
    words = re.compile(r"\w+")
    base_cpu = []
    for _ in range(3):
        t = time.process_time()
        for x in texts:
            for _m in words.finditer(x.lower()):
                pass
        base_cpu.append(time.process_time() - t)
    cpu, wall = [], []
    for _ in range(3):
        t, w = time.process_time(), time.perf_counter()
        for x in texts:
            lab.label(x)
        cpu.append(time.process_time() - t)
        wall.append(time.perf_counter() - w)
    n = len(texts)
    long_texts = [a + " " + b for a, b in zip(texts, texts[1:] + texts[:1])]  # MIMIC-like length
    long_cpu = []
    for _ in range(3):
        t = time.process_time()
        for x in long_texts:
            lab.label(x)
        long_cpu.append(time.process_time() - t)
    best_cpu, best_wall, best_base = min(cpu), min(wall), min(base_cpu)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Labeler throughput",
        "",
        f"{n} OpenI reports (mean {chars:.0f} characters), Python {platform.python_version()}, one process, "
        f"load average {load:.1f}. Best of 3 rounds. Compiling the rules: {compile_s * 1000:.0f} ms (once).",
        "",
        "| what | reports / CPU-second | reports / wall-second |",
        "|---|---:|---:|",
        f"| cxrgen rule-based labeler | **{n / best_cpu:,.0f}** | {n / best_wall:,.0f} |",
        f"| same labeler, two reports joined (mean {2 * chars:.0f} characters, MIMIC-like length) | "
        f"{n / min(long_cpu):,.0f} | – |",
        f"| baseline: one `\\w+` scan per report | {n / best_base:,.0f} | – |",
        "",
        f"The labeler costs {best_cpu / best_base:.1f}× a single word scan. Target: ≥ 2,000 reports/s on one core "
        f"({'met' if n / best_cpu >= 2000 else 'NOT met'}).",
        "",
        "Regenerate: `python benchmarks/label.py`.",
    ]
    out = Path(__file__).resolve().parent / "results" / "label.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
