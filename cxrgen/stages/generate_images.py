"""``generate --images``: reports for X-rays that were never prepared or embedded, with a trained run.

The images are read and embedded exactly as ``embed`` does (the same ``ImageDataset``/``DataLoader``
code, the run's encoder with the weights recorded in its embed manifest or ``--encoder-weights``, the
embed artifact's storage dtype) into a temporary feature cache, which the run's recipe then reads
through the same ``FeatureStore`` as a prepared split; decoding is ``generate``'s own
``generate_batch``. So the reports equal ``embed`` + ``generate`` on the same images (a test checks
this to the token with the tiny models).

Studies: ``--study-by folder`` makes one study of the images in each folder, ``file`` one study per
image. Views: a DICOM's ViewPosition when it has one, else ``--views`` by position within the study
(default ``frontal,lateral``: the first image frontal, the next lateral). Images whose view the
training data set left out (``prepare --views``, AP/PA by default) are left out of the study, as
``prepare`` would have done, and the output says so; so are images that cannot be read. A study left
with no image is skipped and named (a row with ``prediction: null`` and ``skipped``: the reason), so one
lateral-only or broken study does not cost the others their reports; only when every study is skipped
is it an error. Nothing is written to the workspace.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

from cxrgen.config.schema import EmbedConfig, GenerateConfig
from cxrgen.errors import ConfigError, InputError
from cxrgen.workspace.layout import Workspace

log = logging.getLogger("cxrgen")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".dic", ".tif", ".tiff")
VIEW_WORDS = {"frontal": "PA", "lateral": "LATERAL", "pa": "PA", "ap": "AP", "lateral-left": "LL", "ll": "LL"}


@dataclass
class Study:
    id: str
    files: list[Path]
    views: list[str]
    left_out: list[str]
    skipped: str = ""   # why the study gets no report (every image left out), "" when it gets one


def find_files(images: Sequence[str], images_dir: Optional[str]) -> list[Path]:
    """The image files given (``--images``) plus every image file under ``--images-dir``, sorted, unique."""
    files = [Path(p).expanduser().absolute() for p in images]
    if images_dir:
        d = Path(images_dir).expanduser().absolute()
        if not d.is_dir():
            raise InputError(f"{d}: --images-dir is not a folder")
        files += sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise InputError(f"{missing[0]}: image file not found ({len(missing)} missing); check the --images paths")
    if not files:
        raise ConfigError("no images: give --images FILE … or --images-dir DIR (png, jpg, dcm)")
    return list(dict.fromkeys(files))


def _dicom_view(path: Path) -> str:
    from cxrgen.data.images import is_dicom
    if not is_dicom(path):
        return ""
    import pydicom
    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True).get("ViewPosition", "") or "").strip().upper()
    except Exception:  # noqa: BLE001 - the pixel reader will name a broken file; here only the tag is optional
        return ""


def group(files: list[Path], study_by: str, views: Sequence[str], kept: Sequence[str],
          unreadable: Optional[dict[Path, str]] = None) -> list[Study]:
    """Studies named by their folder (``folder``) or file (``file``) path relative to the common root.

    A file in ``unreadable`` (path → one-line reason) or of a view not in ``kept`` is left out of its
    study; a study left with no file gets ``skipped`` set to the reason.
    """
    unreadable = unreadable or {}
    import os
    if study_by not in ("folder", "file"):
        raise ConfigError(f"--study-by {study_by!r}: choose folder or file")
    words = [VIEW_WORDS.get(v.strip().lower(), v.strip().upper()) for v in views]
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    groups: dict[str, list[Path]] = {}
    for f in files:
        key = f.parent if study_by == "folder" else f.with_suffix("")
        groups.setdefault(key.relative_to(root).as_posix() if key != root else key.name, []).append(f)
    out = []
    for sid, members in groups.items():
        st = Study(sid, [], [], [])
        for i, f in enumerate(members):
            if f in unreadable:
                st.left_out.append(f"{f.name} (unreadable)")
                continue
            tagged = _dicom_view(f)
            view = tagged or (words[i] if i < len(words) else words[-1])
            if kept and view not in kept:
                st.left_out.append(f"{f.name} ({view}{', its DICOM ViewPosition' if tagged else ''})")
                continue
            st.files.append(f)
            st.views.append(view)
        if not st.files:
            st.skipped = _why_skipped(members, unreadable, tagged_only=all(_dicom_view(f) for f in members), kept=kept)
        out.append(st)
    return out


def _why_skipped(members: list[Path], unreadable: dict[Path, str], tagged_only: bool, kept: Sequence[str]) -> str:
    """One line: why no image of a study is usable, and what to do about it."""
    bad = [unreadable[f] for f in members if f in unreadable]
    if len(bad) == len(members):
        return bad[0]
    hint = ("" if tagged_only else "; if the files are frontal views, say so with --views (e.g. --views frontal)")
    return f"no image of a view the run was trained on ({','.join(kept)}){hint}"


def _unreadable(files: list[Path]) -> dict[Path, str]:
    """Files ``embed``'s reader cannot read, with its one-line reason (decoded once more later: few files)."""
    from cxrgen.data.images import read_xray
    out = {}
    for f in files:
        try:
            read_xray(f)
        except InputError as e:
            out[f] = str(e)
    return out


def _embed(ecfg: EmbedConfig, enc: Any, files: list[Path], folder: Path):
    """features.h5 of ``files`` in ``folder`` through embed's own shard code; returns a FeatureStore."""
    import json

    from cxrgen.data.features import FeatureStore, read_shard, write_feature_cache
    from cxrgen.stages import embed
    items = [embed.Item(str(i), str(f)) for i, f in enumerate(files)]
    embed._embed_shards(ecfg, enc, items, folder, 0, 1)
    shards = [read_shard(folder / embed.shard_name(*s)) for s in embed.shard_ranges(len(items), ecfg.batch_size, ecfg.shard_size)]
    errors = [str(e) for d in shards for e in d["errors"]]
    if errors:
        raise InputError(errors[0])
    ids = [items[int(i)].image_id for d in shards for i in d["index"]]
    out = folder / "features.h5"
    write_feature_cache(out, ids, shards, dtype=ecfg.dtype, row_shape=enc.output_shape, n_scores=len(enc.score_labels),
                        attrs={"encoder": ecfg.encoder, "score_labels": json.dumps(list(enc.score_labels))})
    return FeatureStore(out)


def _encoder(ws: Workspace, dataset: str, name: str, weights_override: str, device: str):
    """(EmbedConfig of the run's embed artifact, encoder with the same weights); refuses other weights."""
    from cxrgen.config.base import load_config
    from cxrgen.models.encoders import load_encoder
    from cxrgen.workspace.artifact import upstream
    _, em = upstream(ws, "embed", dataset, name)
    ecfg = load_config(EmbedConfig, em.config)
    enc = load_encoder(name, weights_override or ecfg.encoder_weights)
    sha, want = enc.weights_sha256(), em.extra.get("weights_sha256")
    if want and sha != want:
        raise InputError(f"encoder {name}: weights sha256 {sha[:12]} differ from the ones embed/{dataset}/{name} used "
                         f"({want[:12]}, {ecfg.encoder_weights or 'the registry default'}); pass those with --encoder-weights")
    return replace(ecfg, workers=0, device=device, batch_size=min(ecfg.batch_size, 32)), enc


def run(cfg: GenerateConfig, *, ws: Workspace, images: Sequence[str] = (), images_dir: Optional[str] = None,
        views: Sequence[str] = ("frontal", "lateral"), study_by: str = "folder", encoder_weights: str = "") -> list[dict]:
    """One row per study: ``{"id", "images", "views", "left_out", "prediction"}`` (nothing written); a
    skipped study has ``prediction`` None and ``skipped`` (the reason). Raises InputError when every
    study is skipped, ConfigError for bad options."""
    from cxrgen.data.records import ImageRef, Record
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.runtime import resolve_device
    from cxrgen.stages.generate import default_run, generate_batch, validate
    from cxrgen.stages.train import load_run
    from cxrgen.workspace.artifact import upstream
    validate(cfg)
    cfg = cfg if cfg.run else replace(cfg, run=default_run(ws))
    device = resolve_device(cfg.device)
    recipe, tcfg, _, _ = load_run(ws, cfg.run, cfg.checkpoint, device=device)
    _, pm = upstream(ws, "prepare", tcfg.dataset)
    found = find_files(images, images_dir)
    everything = group(found, study_by, views, tuple(pm.config.get("views") or ()), _unreadable(found))
    studies = [s for s in everything if not s.skipped]
    if not studies:
        first = everything[0]
        n = len(everything) - 1
        more = f" (and {n} other {'study' if n == 1 else 'studies'}, none usable)" if n else ""
        raise InputError(f"study {first.id!r}{more}: {first.skipped}")
    for s in everything:
        if s.skipped:
            log.warning("study %r skipped: %s", s.id, s.skipped)
    files = [f for s in studies for f in s.files]
    root = Path(__import__("os").path.commonpath([str(f.parent) for f in files]))
    index = {f: str(i) for i, f in enumerate(files)}
    records = [Record(id=s.id, patient_id="", split="new", report="",
                      images=[ImageRef(f.relative_to(root).as_posix(), v, index[f]) for f, v in zip(s.files, s.views)])
               for s in studies]
    encoder = type(recipe).encoder_name(tcfg)
    with tempfile.TemporaryDirectory(prefix="cxrgen-images-") as tmp:
        store = None
        if encoder:
            ecfg, enc = _encoder(ws, tcfg.dataset, encoder, encoder_weights, str(device))
            store = _embed(ecfg, enc, files, Path(tmp))
        ctx = DataContext(tokenizer=recipe.llm.tokenizer, max_len=tcfg.max_len, store=store, image_root=root)
        exs = [recipe.example(r, ctx, with_targets=False) for r in records]
        preds: list[str] = []
        for b0 in range(0, len(exs), cfg.batch_size):
            preds += generate_batch(recipe, recipe.collate(exs[b0:b0 + cfg.batch_size], with_targets=False), cfg, device)
        if store is not None:
            store.close()
    by_id = {s.id: p for s, p in zip(studies, preds)}
    return [{"id": s.id, "images": [str(f) for f in s.files], "views": s.views, "left_out": s.left_out,
             "prediction": by_id.get(s.id), **({"skipped": s.skipped} if s.skipped else {})} for s in everything]
