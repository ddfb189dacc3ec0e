"""One-GPU measurements of the real architectures with random weights (nothing is downloaded).

    bash benchmarks/gpu.sh            # on a machine with one CUDA GPU, < 8 min → benchmarks/results/gpu.md
    bash benchmarks/gpu.sh --smoke    # the same code path with tiny twins on CPU (~1 min), for CI

Sections (each reports its peak memory: CUDA allocator peak, or max RSS on CPU):

1. prefix training: Qwen1.5-0.5B-shaped LLM (frozen, bf16) + ClipCap transformer mapper, through
   ``cxrgen.models.trainer.Trainer`` on a pooled 512-d cache; tokens/s and MFU.
2. shallow training: Llama-2-7B-shaped LLM (frozen, bf16) + R2GenGPT projector on Swin-B grids
   (49×1024); tokens/s and MFU.
3. generation: ``--reports`` studies (3,403 by default) with beam 3, max 100 new tokens, through
   ``cxrgen.stages.generate.generate_batch``, for both models; seconds.
4. embed: ``cxrgen embed`` (MedCLIP-ViT, random weights) on synthetic images; images/s. Plus JPEG
   decode on the GPU (``torchvision.io.decode_jpeg(device="cuda")``) vs PIL on one CPU core, where
   torchvision has it (cxrgen's embed decodes on CPU workers today).

MFU = achieved FLOP/s ÷ the GPU's dense bf16 peak (``PEAK_BF16``, from the vendors' datasheets).
Training FLOPs per token: 2·N_frozen·2 (forward, and backward through the activations only) +
6·N_trainable — the usual 6N rule (Kaplan et al. 2020) split by what receives weight gradients.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# dense bf16 tensor-core peak FLOP/s (NVIDIA datasheets; SXM parts)
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12,
             "RTX 4090": 165e12, "V100": 125e12}


class RandomGridStore:
    """A feature store of random (tokens, dim) grids, the same for an id every time (no HDF5 needed)."""

    def __init__(self, dim: int, tokens: int):
        self.dim, self.tokens, self.path, self.shape = dim, tokens, Path("<random>"), (0, tokens, dim)

    def study(self, image_ids):
        import numpy as np
        seed = sum(ord(c) for c in image_ids[0])
        return np.random.default_rng(seed).standard_normal((self.tokens, self.dim)).astype(np.float32)


def random_llm(arch: str, tiny: str, smoke: bool, device, dtype):
    """An LLM of ``arch``'s shape (``ARCH_CONFIGS``) with random weights; the tiny twin with ``--smoke``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from cxrgen.models.llms import ARCH_CONFIGS, LLM, load_llm, tiny_tokenizer
    if smoke:
        return load_llm(tiny, device=device)
    tok = tiny_tokenizer()  # ids of a small vocabulary: a subset of the real one
    kw = dict(ARCH_CONFIGS[arch])
    cfg = AutoConfig.for_model(kw.pop("model_type"), **{**kw, "bos_token_id": tok.bos_token_id,
                                                         "eos_token_id": tok.eos_token_id,
                                                         "pad_token_id": tok.pad_token_id})
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    return LLM(arch, model.eval(), tok, "random-init")


def peak(rt) -> float:
    import torch
    if rt.device.type == "cuda":
        return torch.cuda.max_memory_allocated(rt.device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def reset_peak(rt) -> None:
    import torch
    if rt.device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(rt.device)


def gpu_peak_flops(rt) -> float | None:
    import torch
    if rt.device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(rt.device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def train_section(title, mode, arch, tiny, recipe_cls, store, records, a, rt, tmp):
    """Build ``mode`` on a random ``arch``, train ``a.steps`` steps with the Trainer; returns (row, recipe)."""
    import torch

    from cxrgen.config.base import from_dict
    from cxrgen.config.schema import TrainConfig
    from cxrgen.models.llms import count_params
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.trainer import RecordDataset, Trainer, seed_everything
    reset_peak(rt)
    seed_everything(0)
    dtype = torch.bfloat16 if rt.device.type == "cuda" else None
    cfg = from_dict(TrainConfig, {"mode": mode, "llm": arch, "run": mode, "max_len": 100, "device": str(rt.device),
                                  "optim": {"max_steps": a.steps, "batch_size": a.batch_size, "lr": 1e-4},
                                  "log_every": a.steps, "save_every": 10**9, "workers": a.workers})
    t0 = time.perf_counter()
    llm = random_llm(arch, tiny, a.smoke, rt.device, dtype)
    recipe = recipe_cls(cfg, llm, feature_dim=store.dim).to(rt.device)
    build_s = time.perf_counter() - t0
    total, trainable = count_params(recipe)
    ctx = DataContext(tokenizer=llm.tokenizer, max_len=cfg.max_len, store=store)
    work = tmp / f"train-{mode}"
    work.mkdir()
    trainer = Trainer(cfg, recipe, rt, work, RecordDataset(records[: a.steps * a.batch_size], recipe, ctx),
                      RecordDataset([], recipe, ctx))
    trainer.restore(None)
    t0 = time.perf_counter()
    trainer.fit()
    if rt.device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    import json
    row = json.loads((work / "metrics.jsonl").read_text().splitlines()[-1])
    tokens_s = row["tokens_per_s"]
    flops_tok = 4 * (total - trainable) + 6 * trainable
    peak_f = gpu_peak_flops(rt)
    mfu = f"{tokens_s * flops_tok / peak_f:.1%}" if peak_f else "n/a"
    return (f"| {title} | {total:,} / {trainable:,} | {a.steps} × {a.batch_size} | "
            f"{tokens_s:,.0f} | {mfu} | {dt:.1f} s (build {build_s:.1f} s) | {peak(rt):.2f} GiB |"), recipe


def generate_section(title, recipe, store, records, a, rt):
    """Decode ``a.reports`` studies with beam 3 in batches of ``a.gen_batch``; returns a table row."""
    import torch

    from cxrgen.config.base import from_dict
    from cxrgen.config.schema import GenerateConfig
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.stages.generate import generate_batch
    reset_peak(rt)
    recipe.eval()
    g = from_dict(GenerateConfig, {"beams": 3, "max_new_tokens": a.new_tokens, "batch_size": a.gen_batch})
    ctx = DataContext(tokenizer=recipe.llm.tokenizer, max_len=100, store=store)
    todo = [records[i % len(records)] for i in range(a.reports)]
    t0 = time.perf_counter()
    n = 0
    for b0 in range(0, len(todo), a.gen_batch):
        exs = [recipe.example(r, ctx, with_targets=False) for r in todo[b0:b0 + a.gen_batch]]
        n += len(generate_batch(recipe, recipe.collate(exs, with_targets=False), g, rt.device))
    if rt.device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return f"| {title} | {n:,} | 3 | {a.new_tokens} | {a.gen_batch} | {dt:,.1f} s | {n / dt:,.1f} | {peak(rt):.2f} GiB |"


def embed_section(a, rt, tmp) -> list[str]:
    """`cxrgen embed` (random MedCLIP-ViT) on synthetic images, and GPU vs CPU JPEG decode."""
    from cxrgen.cli.app import main
    ws = tmp / "ws-embed"
    encoder = "tiny-medclip-vit" if a.smoke else "medclip-vit"
    assert main(["--workspace", str(ws), "prepare", "synthetic", "--n", str(a.images), "--views", "all"]) == 0
    reset_peak(rt)
    t0 = time.perf_counter()
    args = ["--workspace", str(ws), "embed", "--dataset", "synthetic", "--encoder", encoder, "--device", str(rt.device),
            "--batch-size", "64", "--workers", str(a.workers)]
    assert main(args + ([] if a.smoke else ["--allow-random-weights"])) == 0
    dt = time.perf_counter() - t0
    import json
    m = json.loads((ws / "embed" / "synthetic" / encoder / "manifest.json").read_text())
    n = m["counts"]["embedded"]
    rows = [f"| `cxrgen embed --encoder {encoder}` ({a.workers} decode workers) | {n:,} | {n / dt:,.1f} | "
            f"{peak(rt):.2f} GiB |"]
    rows.append(jpeg_decode_row(a, rt))
    return rows


def jpeg_decode_row(a, rt) -> str:
    import io

    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(64):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (512, 512), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
        blobs.append(buf.getvalue())
    t0 = time.perf_counter()
    for b in blobs:
        np.asarray(Image.open(io.BytesIO(b)).convert("L"))
    cpu = len(blobs) / (time.perf_counter() - t0)
    if rt.device.type != "cuda":
        return f"| JPEG decode 512×512: PIL on 1 CPU core | {len(blobs)} | {cpu:,.0f} | (no GPU: nvJPEG not measured) |"
    try:
        import torch
        from torchvision.io import decode_jpeg
        data = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
        decode_jpeg(data[:2], device="cuda")
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        decode_jpeg(data, device="cuda")
        torch.cuda.synchronize()
        gpu = len(blobs) / (time.perf_counter() - t0)
        return f"| JPEG decode 512×512: nvJPEG (torchvision) vs PIL 1 core | {len(blobs)} | {gpu:,.0f} vs {cpu:,.0f} | |"
    except Exception as e:  # torchvision without nvJPEG: say so rather than fail the whole run
        return f"| JPEG decode 512×512: PIL on 1 CPU core | {len(blobs)} | {cpu:,.0f} | nvJPEG unavailable ({type(e).__name__}) |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny twins on CPU: checks the script, measures nothing")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--reports", type=int, default=None, help="studies to generate (default 3,403)")
    ap.add_argument("--gen-batch", type=int, default=None)
    ap.add_argument("--new-tokens", type=int, default=None)
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu.md"))
    a = ap.parse_args()
    defaults = (dict(steps=3, batch_size=2, reports=6, gen_batch=3, new_tokens=4, images=8, workers=0) if a.smoke
                else dict(steps=30, batch_size=16, reports=3403, gen_batch=64, new_tokens=100, images=2048,
                          workers=min(8, os.cpu_count() or 1)))
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    run(a)


def run(a) -> None:
    import torch

    from cxrgen.models.recipes.prefix import PrefixRecipe
    from cxrgen.models.recipes.r2gengpt import ShallowRecipe
    from cxrgen.models.runtime import Runtime
    from tests.train.fixtures import make_workspace
    if not a.smoke and not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py: no CUDA GPU here; use --smoke to check the script on CPU")
    rt = Runtime.create("cpu" if a.smoke else "cuda", "fp32" if a.smoke else "auto")
    t_all = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="cxrgen-gpu-"))
    ws = make_workspace(tmp / "ws", n_train=a.steps * a.batch_size, n_val=0, n_test=8)
    from cxrgen.data.features import FeatureStore
    from cxrgen.data.records import load_records
    records = load_records(ws.records_path("synthetic"))
    pooled = FeatureStore(ws.features_path("synthetic", "medclip-vit"))
    grid = RandomGridStore(64 if a.smoke else 1024, 49)
    train_rows, gen_rows = [], []
    for title, mode, arch, tiny, cls, store in (
            ("prefix: Qwen1.5-0.5B + ClipCap mapper", "prefix", "qwen1.5-0.5b", "tiny-qwen2", PrefixRecipe, pooled),
            ("shallow: Llama-2-7B + projector (Swin-B grids)", "shallow", "llama2-7b-chat", "tiny-llama",
             ShallowRecipe, grid)):
        row, recipe = train_section(title, mode, arch, tiny, cls, store, records, a, rt, tmp)
        train_rows.append(row)
        gen_rows.append(generate_section(title, recipe, store, records, a, rt))
        del recipe
    embed_rows = embed_section(a, rt, tmp)
    total = time.perf_counter() - t_all
    dev = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    text = f"""# benchmarks/gpu.py{' --smoke (tiny twins on CPU: checks the script; these numbers measure nothing)' if a.smoke else ''}

Real architectures with random weights (nothing downloaded), one device: **{dev}**, torch {torch.__version__},
precision {rt.precision}; whole run {total:,.0f} s.

## Training (cxrgen's Trainer, frozen LLM in {'bf16' if rt.device.type == 'cuda' else 'fp32'})

| model | parameters total / trainable | steps × batch | tokens/s | MFU | time | peak memory |
|---|---|---|---|---|---|---|
{chr(10).join(train_rows)}

## Generation (`generate_batch`, beam 3)

| model | reports | beams | max new tokens | batch | time | reports/s | peak memory |
|---|---|---|---|---|---|---|---|
{chr(10).join(gen_rows)}

## Embedding

| what | images | images/s | peak memory |
|---|---|---|---|
{chr(10).join(embed_rows)}

Machine: {platform.platform()}; random weights never produce EOS, so every report runs to the token limit.
"""
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
