"""`cxrgen embed`: every image of a prepared data set through one encoder, into features.h5.

Plan: the images of ``prepare/<dataset>/records.jsonl`` in record order (an image id listed twice is
embedded once) are cut into shards of ``shard_size`` images (rounded up to whole batches, so every
batch holds the same images whatever the number of processes). Under torchrun each rank takes a
contiguous run of shards (``utils.dist.shard``); each finished shard is written to the artifact's work
folder (``shard-<start>-<stop>.npz``), so a killed run continues with the shards it lacks and the final
file is the same as an uninterrupted run's. Rank 0 merges the shards into ``features.h5`` (format in
:mod:`cxrgen.data.features`) and commits the manifest. DataLoader workers read and preprocess images
in parallel with the model.

Unreadable images stop the run with one line naming the file (``on_error=fail``) or are counted,
left out of the cache and listed in the manifest (``on_error=skip``).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cxrgen.config.schema import EmbedConfig
from cxrgen.errors import InputError
from cxrgen.models.runtime import resolve_device
from cxrgen.utils import dist, faults
from cxrgen.workspace.artifact import ArtifactBuild, upstream
from cxrgen.workspace.layout import FILES, Workspace
from cxrgen.workspace.manifest import Manifest, package_versions
from cxrgen.workspace.yields import check_yield

log = logging.getLogger("cxrgen")
MAX_LISTED_ERRORS = 1000


@dataclass(frozen=True)
class Item:
    image_id: str
    path: str


# --- inputs and plan ---------------------------------------------------------------------------
def image_root(prep: Manifest, records_path: Path) -> Path:
    """Where the records' relative image paths start: the prepare manifest's recorded root."""
    for value in (prep.extra.get("root"), prep.extra.get("image_root"), prep.config.get("images"),
                  prep.config.get("root")):
        if value:
            return Path(value)
    raise InputError(f"{records_path.parent / 'manifest.json'}: no image root recorded; "
                     "re-run `cxrgen prepare` with --root/--images")


def list_images(ws: Workspace, dataset: str, prep: Manifest) -> list[Item]:
    from cxrgen.data.records import read_records
    from cxrgen.utils.io import safe_join
    path = ws.records_path(dataset)
    root = image_root(prep, path)
    seen: set[str] = set()
    items: list[Item] = []
    for rec in read_records(path):
        for img in rec.images:
            if img.image_id in seen:
                continue
            seen.add(img.image_id)
            items.append(Item(img.image_id, str(safe_join(root, img.path, what=f"image {img.image_id}"))))
    return items


def shard_ranges(n: int, batch_size: int, shard_size: int, world: int = 1, rank: int | None = None
                 ) -> list[tuple[int, int]]:
    """Global shards [start, stop) of whole batches; with ``rank``, only that rank's contiguous run."""
    size = max(1, math.ceil(max(1, shard_size) / batch_size)) * batch_size
    shards = [(s, min(s + size, n)) for s in range(0, n, size)]
    if rank is None:
        return shards
    mine = dist.shard(len(shards), rank, world)
    return shards[mine.start:mine.stop]


def shard_name(start: int, stop: int) -> str:
    return f"shard-{start:09d}-{stop:09d}.npz"


# --- the data pipeline (runs in DataLoader workers) -------------------------------------------
class ImageDataset:
    """Map-style dataset: position → (position, tensor | None, error message)."""

    def __init__(self, items: list[Item], preprocess: Callable):
        self.items, self.preprocess = items, preprocess

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        from cxrgen.data.images import read_xray
        try:
            return i, self.preprocess(read_xray(self.items[i].path)), ""
        except InputError as e:
            return i, None, str(e)
        except Exception as e:  # a preprocessing failure on a strange image: same policy as unreadable
            return i, None, f"{self.items[i].path}: cannot preprocess ({type(e).__name__}: {e})"


def collate(batch):
    import torch
    ok = [(i, x) for i, x, _ in batch if x is not None]
    bad = [(i, err) for i, x, err in batch if x is None]
    pixels = torch.stack([x for _, x in ok]) if ok else None
    return [i for i, _ in ok], pixels, bad


def decode_loader(items: list[Item], preprocess: Callable, batches: list[list[int]], workers: int):
    from torch.utils.data import DataLoader
    return DataLoader(ImageDataset(items, preprocess), batch_sampler=batches, num_workers=workers,
                      collate_fn=collate, persistent_workers=False,
                      prefetch_factor=4 if workers > 0 else None)


# --- the stage -----------------------------------------------------------------------------------
def plan(cfg: EmbedConfig, ws: Workspace) -> dict:
    """What a run would do, without computing anything (``--dry-run``)."""
    from cxrgen.models.encoders import load_encoder
    _, prep = upstream(ws, "prepare", cfg.dataset)
    items = list_images(ws, cfg.dataset, prep)
    if cfg.encoder_weights:
        from cxrgen.models.encoders.base import weight_kind
        weight_kind(cfg.encoder_weights)  # a missing file or folder is reported now, not after the plan
    enc = load_encoder(cfg.encoder, cfg.encoder_weights, load_weights=False)
    world = dist.world_size()
    shards = shard_ranges(len(items), cfg.batch_size, cfg.shard_size)
    work = ws.partial_dir("embed", cfg.dataset, cfg.encoder)
    done = sum(1 for s in shards if (work / shard_name(*s)).is_file())
    row = int(np.prod(enc.output_shape)) * np.dtype(cfg.dtype).itemsize + (4 * len(enc.score_labels))
    return {"encoder": cfg.encoder, "weights": cfg.encoder_weights or "random-init", "params": enc.param_count(), "output_shape": list(enc.output_shape),
            "dtype": cfg.dtype, "scores": len(enc.score_labels), "images": len(items), "dataset": cfg.dataset,
            "cache_bytes": row * len(items), "world_size": world, "shards": len(shards),
            "shard_images": shards[0][1] - shards[0][0] if shards else 0, "shards_done": done,
            "batch_size": cfg.batch_size, "workers": cfg.workers, "device": str(resolve_device(cfg.device)),
            "preprocessing": enc.preprocess.describe(), "output": str(ws.features_path(cfg.dataset, cfg.encoder))}


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def render_plan(p: dict) -> str:
    shape = "×".join(map(str, p["output_shape"]))
    scores = f" + {p['scores']} pathology scores" if p["scores"] else ""
    return "\n".join([
        f"encoder     {p['encoder']}  (weights: {p['weights']})",
        f"parameters  {p['params']:,}",
        f"output      {shape} {p['dtype']} per image{scores} → features {p['images']}×{shape}",
        f"images      {p['images']} (prepare/{p['dataset']})",
        f"cache size  ~{_size(p['cache_bytes'])} before compression → {p['output']}",
        f"plan        {p['shards']} shard(s) of ≤{p['shard_images']} images ({p['shards_done']} already done), "
        f"world size {p['world_size']}, batch {p['batch_size']}, {p['workers']} decode worker(s), device {p['device']}",
        f"preprocess  {' → '.join(p['preprocessing']['steps'])}",
    ])


def run(cfg: EmbedConfig, *, ws: Workspace, force: bool = False, dry_run: bool = False,
        strict: bool = False) -> Manifest | dict | None:
    """Embed every image; returns the Manifest (None on ranks > 0), or with ``dry_run`` the :func:`plan`."""
    if dry_run:
        return plan(cfg, ws)
    from cxrgen.models.encoders import load_encoder
    dist.init()
    rank, world = dist.rank(), dist.world_size()
    rec_entry, prep = upstream(ws, "prepare", cfg.dataset)
    items = list_images(ws, cfg.dataset, prep)
    if not items:
        check_yield(f"embed/{cfg.dataset}/{cfg.encoder}", 0, {}, unit="images",
                    default_fix=f"prepare/{cfg.dataset} lists no image; re-run `cxrgen prepare` with the images")
    enc = load_encoder(cfg.encoder, cfg.encoder_weights, allow_random=cfg.allow_random_weights)
    weights_sha = enc.weights_sha256()
    inputs = [rec_entry, {"kind": "value", "name": "weights", "sha256": weights_sha}]
    build = ArtifactBuild(ws, "embed", (cfg.dataset, cfg.encoder), cfg, inputs, force=force, rank=rank)
    if (m := build.up_to_date()) is not None:
        log.info("embed/%s/%s is up to date", cfg.dataset, cfg.encoder)
        return m
    manifest = None
    with build:
        dist.barrier()  # rank 0 has made (or kept, to resume) the work folder
        _embed_shards(cfg, enc, items, build.work_dir, rank, world)
        dist.barrier()
        if rank == 0:
            manifest = _merge(cfg, enc, items, build, weights_sha, strict)
        dist.barrier()
    if manifest is None:
        from cxrgen.workspace.manifest import read_manifest
        manifest = read_manifest(build.final_dir)
    return manifest


def _embed_shards(cfg: EmbedConfig, enc, items: list[Item], work: Path, rank: int, world: int) -> None:
    import torch

    from cxrgen.data.features import write_shard
    from cxrgen.utils.progress import progress
    mine = shard_ranges(len(items), cfg.batch_size, cfg.shard_size, world, rank)
    todo = [s for s in mine if not (work / shard_name(*s)).is_file()]
    total = sum(b - a for a, b in mine)
    done = total - sum(b - a for a, b in todo)
    if done:
        log.info("resuming: %d of %d images already embedded", done, total)
    if not todo:
        return
    device = resolve_device(cfg.device)   # the same rules as train and generate (cxrgen.models.runtime)
    model = enc.model.to(device).eval()
    batches = [list(range(s, min(s + cfg.batch_size, b))) for a, b in todo for s in range(a, b, cfg.batch_size)]
    loader = decode_loader(items, enc.preprocess, batches, cfg.workers)
    dtype = np.dtype(cfg.dtype)
    pending = {s: {"index": [], "features": [], "scores": [], "skipped": [], "errors": []} for s in todo}
    bounds = iter(todo)
    current = next(bounds)
    with progress(f"embed {cfg.encoder}", total=total, unit="img", completed=done) as bar, torch.inference_mode():
        for idx, pixels, bad in loader:
            if bad and cfg.on_error == "fail":
                raise InputError(f"{bad[0][1]} (use --on-error skip to leave such images out)")
            while not (current[0] <= (idx or [b[0] for b in bad])[0] < current[1]):
                current = next(bounds)
            acc = pending[current]
            if idx:
                out = model(pixels.to(device, non_blocking=True))
                acc["index"].extend(idx)
                acc["features"].append(out["features"].float().cpu().numpy().astype(dtype))
                if "scores" in out:
                    acc["scores"].append(out["scores"].float().cpu().numpy().astype(np.float32))
            for i, err in bad:
                log.warning("skipping %s: %s", items[i].image_id, err)
                acc["skipped"].append(i)
                acc["errors"].append(err)
            bar.advance(len(idx) + len(bad))
            last = max(idx + [i for i, _ in bad])
            if last == current[1] - 1:
                _flush(work, current, acc, enc, dtype, write_shard)
                faults.reached("embed.shard")
                del pending[current]


def _flush(work: Path, bounds: tuple[int, int], acc: dict, enc, dtype, write_shard) -> None:
    row_shape = enc.output_shape
    feats = np.concatenate(acc["features"]) if acc["features"] else np.zeros((0,) + row_shape, dtype)
    scores = None
    if enc.score_labels:
        scores = (np.concatenate(acc["scores"]) if acc["scores"]
                  else np.zeros((0, len(enc.score_labels)), np.float32))
    write_shard(work / shard_name(*bounds), np.asarray(acc["index"]), feats, scores,
                np.asarray(acc["skipped"]), acc["errors"])


def _merge(cfg: EmbedConfig, enc, items: list[Item], build: ArtifactBuild, weights_sha: str,
           strict: bool = False) -> Manifest:
    from cxrgen.data.features import read_shard, write_feature_cache
    work = build.work_dir
    shards_ = shard_ranges(len(items), cfg.batch_size, cfg.shard_size)
    missing = [shard_name(*s) for s in shards_ if not (work / shard_name(*s)).is_file()]
    if missing:
        raise InputError(f"{work}: shards missing after all ranks finished ({', '.join(missing[:3])}); "
                         "re-run the same command to resume")
    data = [read_shard(work / shard_name(*s)) for s in shards_]
    ids = [items[int(i)].image_id for d in data for i in d["index"]]
    skipped = [{"id": items[int(i)].image_id, "error": str(e)} for d in data for i, e in zip(d["skipped"], d["errors"])]
    check_yield(f"embed/{cfg.dataset}/{cfg.encoder}", len(ids), {"unreadable image": len(skipped)}, unit="images",
                default_fix=f"e.g. {skipped[0]['id']}: {skipped[0]['error']}" if skipped else "", strict=strict)
    versions = package_versions()
    attrs = {"encoder": cfg.encoder, "weights_sha256": weights_sha, "weights_source": enc.weights_source,
             "preprocessing": json.dumps(enc.preprocess.describe(), sort_keys=True), "dtype": cfg.dtype,
             "dim": enc.dim, "tokens": enc.tokens, "score_labels": json.dumps(list(enc.score_labels)),
             "cxrgen_version": versions.get("cxrgen", ""), "versions": json.dumps(versions, sort_keys=True)}
    out = work / FILES["features"]
    write_feature_cache(out, ids, data, dtype=cfg.dtype, attrs=attrs, row_shape=enc.output_shape,
                        n_scores=len(enc.score_labels))
    for s in shards_:
        (work / shard_name(*s)).unlink()
    if skipped:
        log.warning("%d image(s) skipped (listed in the manifest)", len(skipped))
    return build.commit([FILES["features"]],
                        counts={"images": len(items), "embedded": len(ids), "skipped": len(skipped)},
                        extra={"encoder": enc.describe(), "weights_sha256": weights_sha,
                               "skipped": skipped[:MAX_LISTED_ERRORS], "world_size": dist.world_size()})
