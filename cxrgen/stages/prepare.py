"""prepare: a data set's reports and image lists → ``prepare/<name>/records.jsonl`` + ``stats.json``.

The reader (``cxrgen.data.<dataset>:read``, from the DATASETS registry) describes its raw inputs
(CSV/zip/tgz hashed by content, report folders by their signature) so the fingerprint is known before
anything is parsed; an up-to-date artifact is reused. Records are streamed into the artifact's work
folder; any error removes it, so nothing half-written is left and the previous artifact stays.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from cxrgen.data.source import Source, Stats
from cxrgen.errors import ConfigError, InputError
from cxrgen.utils.io import atomic_write_json
from cxrgen.utils.log import log
from cxrgen.utils.progress import progress
from cxrgen.workspace.artifact import ArtifactBuild
from cxrgen.workspace.layout import FILES, Workspace, check_name
from cxrgen.workspace.manifest import Manifest


def validate(cfg) -> None:
    """Collect every problem with the option combination and raise once."""
    issues = []
    if cfg.dataset == "mimic":
        if not cfg.root and not cfg.annotation:
            issues.append("`cxrgen prepare mimic` needs --root (the MIMIC-CXR-JPG folder) or --annotation "
                          "(R2Gen's mimic_cxr/annotation.json)")
        if cfg.images and not cfg.annotation:
            issues.append("--images is only used with --annotation (R2Gen's mimic_cxr copy); MIMIC-CXR-JPG images "
                          "are found under --root")
        if cfg.split not in ("official", "r2gen") or (cfg.split == "r2gen" and not cfg.annotation):
            issues.append("MIMIC-CXR uses its official split (or R2Gen's, with --annotation); drop --split")
    if cfg.dataset == "iu":
        if not cfg.reports and not cfg.annotation:
            issues.append("`cxrgen prepare iu` needs --reports (NLMCXR_reports.tgz, an XML folder or indiana_reports.csv) "
                          "or --annotation (R2Gen's iu_xray/annotation.json)")
        if not cfg.reports and cfg.annotation and cfg.split != "r2gen":
            issues.append("with --annotation alone the split is R2Gen's: drop --split")
        if cfg.split == "official":
            issues.append("IU X-ray has no official split: use --split random [--seed N] or --split r2gen --annotation annotation.json")
        if cfg.split == "r2gen" and not cfg.annotation:
            issues.append("--split r2gen needs --annotation annotation.json (R2Gen's iu_xray annotation)")
    if cfg.annotation and cfg.split != "r2gen":
        issues.append("--annotation is only used with --split r2gen")
    if cfg.dataset == "synthetic":
        if not 256 <= cfg.image_size <= 512:
            issues.append(f"image_size={cfg.image_size}: synthetic images are 256–512 px")
        if cfg.n < 1:
            issues.append(f"--n {cfg.n}: make at least 1 synthetic study")
    if issues:
        raise ConfigError("; ".join(issues))


def _source(cfg, ws: Workspace, name: str, dry_run: bool) -> Source | None:
    from cxrgen.models.catalog import DATASETS
    reader = DATASETS.get(cfg.dataset).load()
    if cfg.dataset == "synthetic":
        return reader(cfg, ws=ws, name=name, dry_run=dry_run)
    return reader(cfg)


def _consume(source: Source, stats: Stats, out: Path | None, remove_priors: bool = False) -> dict:
    """Stream the records to ``out`` (or only count them), checking ids are unique."""
    from cxrgen.data.priors_rewrite import rewrite
    splits: Counter = Counter()
    images: Counter = Counter()
    ids: set[str] = set()
    f = open(out, "w", encoding="utf-8") if out else None
    try:
        with progress(f"prepare {source.dataset}", unit="rec") as bar:
            for r in (rewrite(source.records(stats), stats) if remove_priors else source.records(stats)):
                if r.id in ids:
                    raise InputError(f"{r.source.get('file', source.dataset)}: duplicate record id {r.id!r}")
                ids.add(r.id)
                splits[r.split] += 1
                for im in r.images:
                    images[(r.split, im.view or "?")] += 1
                if f:
                    f.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
                bar.advance()
    finally:
        if f:
            f.close()
    return {"records": len(ids), "images": sum(images.values()), "splits": dict(sorted(splits.items())),
            "images_by_split_view": {f"{s}/{v}": n for (s, v), n in sorted(images.items())}}


def _stats_doc(summary: dict, stats: Stats) -> dict:
    info = {k: dict(v.most_common()) if isinstance(v, Counter) else v for k, v in stats.info.items()}
    return dict(summary, dropped=dict(stats.dropped.most_common()), notes=dict(stats.notes.most_common()),
                examples=stats.examples, **{k: v for k, v in info.items() if v})


def _check(name: str, source: Source, doc: dict, strict: bool) -> None:
    """Refuse an empty artifact; warn (``--strict``: refuse) when one drop reason removed most studies."""
    from cxrgen.workspace.yields import check_yield
    hints = source.hints() if hasattr(source, "hints") else {}
    check_yield(f"prepare/{name}", doc["records"], doc["dropped"], unit="studies", fixes=hints,
                default_fix="see stats.json examples and `cxrgen prepare --help`", strict=strict)
    if getattr(source, "root", "") is None and doc["records"]:   # a reader that can have images, given none
        log.warning("prepare/%s: no images given (--images): the records hold report text only, so `embed`, "
                    "the image modes of `train` and `report` thumbnails cannot use them; re-run with --images DIR",
                    name)
    unmatched = doc.get("unmatched_annotation_ids")
    if unmatched:
        n = doc["notes"].get("annotation.json ids without a matching report", len(unmatched))
        log.warning("prepare/%s: %d annotation.json id(s) have no matching report (e.g. %s)", name, n,
                    ", ".join(unmatched))


def plan(cfg, ws: Workspace, *, strict: bool = False) -> dict:
    """The dry run as data: read and count everything, write nothing. ``{"name", "status", "stats"}``
    (``stats``: what stats.json would hold; for synthetic data not generated yet, ``None`` and ``would_generate``)."""
    validate(cfg)
    name = check_name(cfg.name or cfg.dataset, "--name")
    source = _source(cfg, ws, name, True)
    if source is None:  # synthetic: nothing generated yet, nothing to read
        root = Path(cfg.root).expanduser().absolute() if cfg.root else ws.root / "data" / name
        return {"name": name, "status": "dry run, nothing written", "stats": None,
                "would_generate": {"studies": cfg.n, "layout": cfg.layout, "image_size": cfg.image_size,
                                   "seed": cfg.seed, "root": str(root)}}
    stats = _new_stats(cfg)
    doc = _stats_doc(_consume(source, stats, None, cfg.remove_priors), stats)
    _check(name, source, doc, strict)
    return {"name": name, "status": "dry run, nothing written", "stats": doc}


def summary(ws: Workspace, m: Manifest) -> dict:
    """``{"name", "status", "stats"}`` of a built prepare artifact (stats.json), as :func:`plan` gives it."""
    stats_path = ws.artifact_dir("prepare", *m.key) / FILES["stats"]
    doc = json.loads(stats_path.read_text()) if stats_path.is_file() else None
    return {"name": m.key[0], "status": "ready", "stats": doc}


def _new_stats(cfg) -> Stats:
    from cxrgen.data.cleaning import resolve_cleaner  # readers that clean say which rules they used
    stats = Stats()
    stats.info["clean"] = resolve_cleaner(cfg.clean, "iu" if cfg.dataset == "iu" else "mimic")
    return stats


def run(cfg, *, ws: Workspace, force: bool = False, dry_run: bool = False, strict: bool = False) -> Manifest | dict:
    """Build (or reuse) ``prepare/<name>``; returns its manifest, or with ``dry_run`` the :func:`plan`."""
    if dry_run:
        return plan(cfg, ws, strict=strict)
    validate(cfg)
    name = check_name(cfg.name or cfg.dataset, "--name")
    source = _source(cfg, ws, name, False)
    build = ArtifactBuild(ws, "prepare", (name,), cfg, source.inputs(), force=force)
    if (m := build.up_to_date()) is not None:
        log.info("prepare/%s is up to date (%s records); --force rebuilds it", name, m.counts.get("records"))
        return m
    stats = _new_stats(cfg)
    with build:
        try:
            doc = _stats_doc(_consume(source, stats, build.work_dir / FILES["records"], cfg.remove_priors), stats)
            _check(name, source, doc, strict)
            atomic_write_json(build.work_dir / FILES["stats"], doc)
            m = build.commit([FILES["records"], FILES["stats"]],
                             counts={"records": doc["records"], "images": doc["images"], **doc["splits"]},
                             extra={"root": source.root, "dataset": cfg.dataset,
                                    "dropped": doc["dropped"]})
        except BaseException:
            shutil.rmtree(build.work_dir, ignore_errors=True)
            raise
    return m

