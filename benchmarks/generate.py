"""Batched beam search (cxrgen generate's path) vs one-study-at-a-time generate, same model and inputs.

    python benchmarks/generate.py [--n 48] [--batch-size 16]  →  benchmarks/results/generate.md

Both sides call ``cxrgen.stages.generate.generate_batch`` on a prefix recipe (ClipCap mapper +
tiny GPT-2, random weights) with the same studies: batched (``--batch-size`` studies per call, KV
cache, left padding) and one study per call. Greedy outputs must be identical; beam search (3 beams,
repetition and length penalty 2.0 as R2GenGPT) is timed both ways. Target: ≥ 5× faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generate.md"))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared CPU host)")
    a = ap.parse_args()

    import numpy as np
    import torch
    torch.set_num_threads(a.threads)

    from cxrgen.config.base import from_dict
    from cxrgen.config.schema import GenerateConfig, TrainConfig
    from cxrgen.models.recipes.prefix import PrefixRecipe
    from cxrgen.stages.generate import generate_batch

    torch.manual_seed(0)
    rec = PrefixRecipe.create(from_dict(TrainConfig, {"llm": "tiny-gpt2"})).eval()
    cpu = torch.device("cpu")
    exs = [{"id": f"s{i}", "reference": "", "features": np.random.default_rng(i).standard_normal(512).astype(np.float32)}
           for i in range(a.n)]

    def timed(cfg, batch_size):
        t = time.perf_counter()
        out = []
        for i in range(0, len(exs), batch_size):
            out += generate_batch(rec, rec.collate(exs[i:i + batch_size], with_targets=False), cfg, cpu)
        return out, time.perf_counter() - t

    fixed = {"max_new_tokens": a.new_tokens, "min_new_tokens": a.new_tokens}
    greedy = from_dict(GenerateConfig, fixed)
    beam = from_dict(GenerateConfig, {**fixed, "beams": 3, "repetition_penalty": 2.0, "length_penalty": 2.0})
    g_batched, tg_b = timed(greedy, a.batch_size)
    g_single, tg_s = timed(greedy, 1)
    b_batched, tb_b = timed(beam, a.batch_size)
    b_single, tb_s = timed(beam, 1)
    same_greedy = g_batched == g_single
    same_beam = b_batched == b_single
    speed = tb_s / tb_b
    text = f"""# benchmarks/generate.py

Batched generation (`cxrgen generate`: {a.batch_size} studies per call, KV cache, left padding) vs one study
per call, same recipe (ClipCap mapper + tiny-gpt2, random weights) and the same {a.n} studies,
{a.new_tokens} new tokens each (min = max, so both sides decode the same number of steps).

- device: **CPU only** ({platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}); no GPU was available to this session
- beam search (3 beams, repetition penalty 2.0, length penalty 2.0): batched {tb_b:.2f} s, one at a time {tb_s:.2f} s → **{speed:.1f}× faster** (target ≥ 5×: {"met" if speed >= 5 else "NOT met"})
- greedy: batched {tg_b:.2f} s, one at a time {tg_s:.2f} s → {tg_s / tg_b:.1f}×
- greedy outputs identical batched vs one at a time: **{same_greedy}**; beam outputs identical: {same_beam}

Machine load during the run (1-min load average): {os.getloadavg()[0]:.1f}; the host is shared, the
ratios are taken within one run.
"""
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)
    if not same_greedy:
        raise SystemExit("greedy outputs differ between batched and one-at-a-time generation")


if __name__ == "__main__":
    main()
