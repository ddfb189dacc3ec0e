"""report: one self-contained HTML page per scored split → ``report/<run>/<split>/index.html``.

Reads ``score/<run>/<split>/`` (scores.json, per_sample.jsonl), ``generate/<run>/<split>/preds.jsonl``,
the prepared records the predictions came from (images, patients) and, when the run was trained here,
``train/<run>/metrics.jsonl`` (loss curves). The page needs no server and fetches nothing: styles and
the small sorting/filtering script are inline, thumbnails are JPEG data URIs, the loss plot is inline
SVG. It states where its text comes from; ``--redact`` writes finding labels instead of report text.
It is written only inside the workspace, through :class:`ArtifactBuild` (manifest last, atomic).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from cxrgen.config.schema import ReportConfig, ScoreConfig
from cxrgen.errors import ConfigError, MissingArtifactError
from cxrgen.utils.log import log
from cxrgen.workspace.artifact import ArtifactBuild, upstream
from cxrgen.workspace.layout import FILES, Workspace, check_name
from cxrgen.workspace.manifest import Manifest

TEMPLATE = "page.html.j2"


def _split_spec(spec: str, default_split: str) -> tuple[str, str]:
    """``RUN`` or ``RUN/SPLIT`` of this workspace; a preds file (what ``score --compare`` takes) is refused
    with that difference named, since the page needs the other run's generate artifact, not only its text."""
    if spec.endswith(".jsonl") or spec.startswith(("/", "./", "~")) or spec.count("/") > 1:
        raise ConfigError(f"--compare {spec!r}: report compares with a run of this workspace, RUN or RUN/SPLIT "
                          "(e.g. demo-majority/test); a preds.jsonl file is for `cxrgen score --compare`")
    run, _, split = spec.partition("/")
    return check_name(run, "--compare run"), check_name(split or default_split, "--compare split")


def _records(ws: Workspace, gen_manifest: Manifest) -> tuple[dict, Path, Manifest]:
    from cxrgen.stages.score import _find_prepare
    prep = _find_prepare(ws, gen_manifest)
    if prep is None:
        raise MissingArtifactError(f"{ws.artifact_dir('generate', *gen_manifest.key)}: its manifest names no prepared "
                                   "data set; the report needs the records (images, references)")
    entry, pm = upstream(ws, "prepare", *prep["key"])
    return entry, ws.records_path(*prep["key"]), pm


def _upstreams(cfg: ReportConfig, ws: Workspace) -> tuple[list[dict], dict]:
    """The manifest inputs of a report (its fingerprint) and the upstream manifests and records path it
    reads; shared by :func:`run` and :func:`plan`, so a plan's "up to date" is the run's."""
    s_entry, sm = upstream(ws, "score", cfg.run, cfg.split)
    g_entry, gm = upstream(ws, "generate", cfg.run, cfg.split)
    p_entry, records_path, pm = _records(ws, gm)
    inputs = [s_entry, g_entry, p_entry]
    tm = None
    if (ws.artifact_dir("train", cfg.run) / "manifest.json").is_file():  # baselines have no training run
        t_entry, tm = upstream(ws, "train", cfg.run)
        inputs.append(t_entry)
    if cfg.compare:
        inputs.append(upstream(ws, "generate", *_split_spec(cfg.compare, cfg.split))[0])
    return inputs, {"score": sm, "generate": gm, "prepare": pm, "train": tm, "records": records_path}


def _sources(cfg: ReportConfig, ws: Workspace, up: dict) -> Any:
    from cxrgen.report.context import Sources
    from cxrgen.stages.embed import image_root
    from cxrgen.utils.io import read_jsonl
    pm, records_path = up["prepare"], up["records"]
    try:
        root: Optional[Path] = image_root(pm, records_path)
    except Exception:  # noqa: BLE001 - a data set without images still gets a page, without thumbnails
        root = None
    score_dir = ws.artifact_dir("score", cfg.run, cfg.split)
    src = Sources(ws=ws, run=cfg.run, split=cfg.split,
                  scores=json.loads((score_dir / FILES["scores"]).read_text(encoding="utf-8")),
                  per_sample=list(read_jsonl(score_dir / FILES["per_sample"], required=("id",))),
                  preds=list(read_jsonl(ws.preds_path(cfg.run, cfg.split), required=("id", "prediction", "reference"))),
                  records={r["id"]: r for r in read_jsonl(records_path, required=("id",))},
                  records_path=records_path, image_root=root, dataset=pm.key[0],
                  gen_manifest=up["generate"], score_manifest=up["score"], train_manifest=up["train"])
    return src


def _compare(cfg: ReportConfig, ws: Workspace, src: Any) -> tuple[Optional[dict], str]:
    """Paired comparison with another system through score's own code (same references required).

    Both sides are re-scored here under this run's score settings, so one labeler labels both (the other
    run's own scores.json is not read). The page's value column comes from this run's scores.json: a
    re-score whose labeler or reference fingerprint differs from it (CheXbert weights replaced since,
    a scores.json of an older labeler version) is refused rather than shown beside it."""
    if not cfg.compare:
        return None, ""
    from cxrgen.config.base import load_config
    from cxrgen.stages.score import comparable, score_file
    run, split = _split_spec(cfg.compare, cfg.split)
    scfg = load_config(ScoreConfig, src.score_manifest.config)
    preds = ws.preds_path(cfg.run, cfg.split)
    doc = score_file(scfg, preds, records=src.records_path, compare=ws.preds_path(run, split))
    comparable(src.scores, str(ws.artifact_dir("score", cfg.run, cfg.split) / FILES["scores"]),
               doc, f"{preds} re-scored for --compare {run}/{split}",
               fix=f"re-score with the same --labeler: `cxrgen score --run {cfg.run} --split {cfg.split} --force` "
                   "with the labeler options you want on the page")
    return doc["compare"], f"{run}/{split}"


def render(context: dict) -> str:
    import jinja2
    folder = Path(__file__).resolve().parent.parent / "report"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(**context)


def _resolved(cfg: ReportConfig, ws: Workspace) -> ReportConfig:
    """``cfg`` with its run filled in (the latest finished training run) and its names checked."""
    from dataclasses import replace

    from cxrgen.stages.generate import default_run
    if not cfg.run:
        cfg = replace(cfg, run=default_run(ws))
    check_name(cfg.run, "--run")
    check_name(cfg.split, "--split")
    return cfg


def plan(cfg: ReportConfig, ws: Workspace, *, force: bool = False) -> dict:
    """What :func:`run` would do (``--dry-run``): the upstream artifacts it reads, the page it writes and
    whether the existing page is up to date (the run's own fingerprint); nothing is read beyond the
    manifests, nothing rendered or written. A missing upstream is the run's one-line error."""
    cfg = _resolved(cfg, ws)
    inputs, up = _upstreams(cfg, ws)
    m, state = ArtifactBuild(ws, "report", (cfg.run, cfg.split), cfg, inputs, force=force, resume=False).check()
    return {"stage": "report", "run": cfg.run, "split": cfg.split,
            "inputs": [{"name": f"{i['stage']}/{'/'.join(i['key'])}", "present": True, "fingerprint": i["fingerprint"]}
                       for i in inputs],
            "records": str(up["records"]),
            "output": str(ws.artifact_dir("report", cfg.run, cfg.split) / FILES["report"]),
            "up_to_date": m is not None, "state": state,
            "settings": {"compare": cfg.compare or None, "redact": cfg.redact, "max_studies": cfg.max_studies,
                         "thumbnail_size": cfg.thumbnail_size}}


def render_plan(p: dict) -> str:
    """The plan as a few lines for ``--dry-run`` without ``--json``."""
    s = p["settings"]
    return "\n".join([
        f"report      {p['run']}/{p['split']}" + (f" compared with {s['compare']}" if s["compare"] else ""),
        f"inputs      {', '.join(i['name'] for i in p['inputs'])}",
        f"records     {p['records']}",
        f"settings    {'redacted (labels only)' if s['redact'] else 'report text'}, at most {s['max_studies']} "
        f"studies, thumbnails {s['thumbnail_size'] or 'off'}{' px' if s['thumbnail_size'] else ''}",
        f"output      {p['output']} " + ("(up to date: nothing to do)" if p["up_to_date"]
                                        else f"(would write: {p['state']})"),
    ])


def run(cfg: ReportConfig, *, ws: Workspace, force: bool = False) -> Manifest:
    """Build (or reuse) ``report/<run>/<split>/index.html``; returns its manifest."""
    from cxrgen.report.context import build
    cfg = _resolved(cfg, ws)
    inputs, up = _upstreams(cfg, ws)
    build_ = ArtifactBuild(ws, "report", (cfg.run, cfg.split), cfg, inputs, force=force, resume=False)
    if (m := build_.up_to_date()) is not None:
        log.info("report/%s/%s is up to date", cfg.run, cfg.split)
        return m
    src = _sources(cfg, ws, up)
    compare, compare_name = _compare(cfg, ws, src)
    context = build(src, cfg, compare, compare_name)
    html = render(context)
    with build_:
        (build_.work_dir / FILES["report"]).write_text(html, encoding="utf-8")
        return build_.commit([FILES["report"]],
                             counts={"studies": context["n_studies"], "reports": context["n_total"],
                                     "images": sum(len(c["images"]) for c in context["studies"])},
                             extra={"redacted": cfg.redact, "compare": compare_name or None,
                                    "text_from": [context["preds_path"], context["records_path"]]})
