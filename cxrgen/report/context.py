"""Everything the report page shows, gathered from the workspace into one template context (a dict).

No free text is logged; the only output is the context handed to the template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from cxrgen.metrics.chexpert import CLASSES
from cxrgen.report import findings as fnd
from cxrgen.report import media

SORT_KEYS = (("ce_f1", "report CE F1 (worst first)"), ("rouge_l", "ROUGE-L (worst first)"),
             ("bleu_4", "BLEU-4 (worst first)"), ("meteor", "METEOR (worst first)"), ("cider", "CIDEr (worst first)"),
             ("copy", "nearest-training BLEU-4 (copies first)"), ("order", "record order"))


@dataclass
class Sources:
    """The artifacts one page is built from (paths and manifests, all already checked to exist)."""
    ws: Any
    run: str
    split: str
    scores: dict
    per_sample: list[dict]
    preds: list[dict]
    records: dict[str, dict]
    records_path: Path
    image_root: Optional[Path]
    dataset: str
    gen_manifest: Any
    score_manifest: Any
    train_manifest: Any = None


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.4f}"


def _metric_order(key: str) -> tuple:
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr, then CE F1 before precision/recall, 14 classes before 5."""
    nlg = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")
    if key in nlg:
        return (0, nlg.index(key))
    parts = key.split("_")
    stat = next((i for i, s in enumerate(("f1", "precision", "recall")) if s in parts), 3)
    avg = next((i for i, s in enumerate(("micro", "macro", "example")) if s in parts), 3)
    return (1, parts[-1] != "14", stat, avg, key)


def metric_rows(scores: dict, compare: Optional[dict]) -> list[dict]:
    rows = []
    for k, v in sorted(scores["metrics"].items(), key=lambda kv: _metric_order(kv[0])):
        row = {"key": k, "value": v, "value_repr": repr(float(v)), "ci": scores.get("ci95", {}).get(k)}
        if compare:
            pb = compare["paired_bootstrap"]["results"].get(k, {})
            n = compare["paired_bootstrap"].get("resamples") or 1
            p = pb.get("p")  # 0 of n resamples reverse the sign: the p value is below 1/n, not 0
            row.update(other=_fmt(compare["other_metrics"].get(k)), delta=f"{compare['delta'].get(k, 0.0):+.4f}",
                       p=f"< {1 / n:.4f}" if p == 0 else _fmt(p))
        rows.append(row)
    return rows


def error_rows(scores: dict) -> Optional[dict]:
    ea = scores.get("error_analysis") or {}
    if "copying" not in ea:
        return None
    pri, cop = ea["hallucinated_priors"], ea["copying"]
    pct = (lambda x: "n/a" if x is None else f"{x:.1%}")
    near = cop["nearest_train_bleu4"]
    q = near.get("quantiles") or {}
    counts, edges = near["histogram"]["counts"], near["histogram"]["edges"]
    top = max(counts) or 1
    return {"prior_rate": f"{pct(pri['rate'])} ({pri['hallucinated']} of {pri['without_prior']})",
            "prior_ref_rate": pct(pri["reference_rate"]),
            "prior_counts": f"{pri['without_prior']} / {pri['with_prior']} / {pri['unknown']}",
            "copied": f"{pct(cop['identical_share'])} ({cop['identical_to_training']} of {cop['reports']})",
            "distinct": f"{cop['distinct_predictions']} of {cop['reports']}",
            "nearest": f"{q.get('p50', 0):.3f} ({q.get('p10', 0):.3f}–{q.get('p90', 0):.3f})" if q else "–",
            "histogram": [(f"{edges[i]:.1f}", f"{edges[i + 1]:.1f}", n, round(240 * n / top)) for i, n in enumerate(counts)]}


def provenance(src: Sources) -> list[tuple[str, str]]:
    g, s = src.gen_manifest, src.score_manifest
    model = g.extra.get("model", {})
    rows = [("run", src.run), ("split", src.split), ("mode", model.get("mode", "–")), ("LLM", model.get("llm_source") or model.get("llm", "–"))]
    if src.train_manifest is not None:
        t = src.train_manifest
        rows += [("encoder", str(t.config.get("encoder") or t.extra.get("encoder") or "–")),
                 ("trainable parameters", f"{t.extra.get('trainable_params', '–'):,}" if isinstance(t.extra.get("trainable_params"), int) else "–"),
                 ("final train / val loss", " / ".join(f"{t.extra[k]:.4f}" if isinstance(t.extra.get(k), float) else "–"
                                                       for k in ("final_loss", "val_loss"))),
                 ("train fingerprint", t.fingerprint[:16])]
    if "baseline" in g.extra:
        rows.append(("baseline", str(g.extra["baseline"])))
    ck = g.extra.get("checkpoint") or {}
    rows += [("data set", src.dataset), ("checkpoint", f"{ck.get('folder', '–')} sha256 {str(ck.get('sha256', ''))[:16]}"),
             ("decoding", json.dumps(g.extra.get("decoding", {}), sort_keys=True)),
             ("generate fingerprint", g.fingerprint[:16]), ("score fingerprint", s.fingerprint[:16]),
             ("reference fingerprint", str(src.scores.get("reference_fingerprint", ""))[:16]),
             ("score settings", ", ".join(f"{k}={src.scores['settings'][k]}" for k in ("tokenize", "uncertain", "bootstrap", "seed"))),
             ("reference labels", str(src.scores["settings"].get("reference_labels", ""))),
             ("labeler", str(src.scores["settings"].get("labeler", ""))),
             ("packages", ", ".join(f"{k} {v}" for k, v in sorted(s.packages.items()) if k in ("cxrgen", "torch", "transformers", "python")))]
    return rows


def _redacted(labels: list[dict], side: str) -> str:
    pos = [lab["finding"] for lab in labels if lab[side] == "positive"]
    return "[redacted] positive findings: " + (", ".join(pos) if pos else "none")


def study_cards(src: Sources, cfg: Any, uncertain: str) -> list[dict]:
    per = {r["id"]: r for r in src.per_sample}
    cards = []
    for order, p in enumerate(src.preds):
        row, rec = per.get(p["id"], {}), src.records.get(p["id"], {})
        labels, f1 = fnd.study_labels(row, CLASSES, uncertain)
        flags = (["copy of a training report"] if row.get("copied") else []) + \
                (["refers to a prior that does not exist"] if row.get("mentions_prior") and row.get("has_prior") is False else [])
        sort = {"ce_f1": f1, "order": order, "copy": -float(row.get("nearest_train_bleu4", 0.0))}
        sort.update({k: row[k] for k in ("rouge_l", "bleu_4", "meteor", "cider") if k in row})
        scores = [("CE F1", f"{f1:.2f}")] + [(k, f"{row[k]:.3f}") for k in ("bleu_4", "meteor", "rouge_l", "cider") if k in row]
        if "nearest_train_bleu4" in row:
            scores.append(("nearest-train BLEU-4", f"{row['nearest_train_bleu4']:.2f}"))
        cards.append({"id": p["id"], "patient": rec.get("patient_id", "–"), "labels": labels, "flags": flags,
                      "disagree_findings": [lab["finding"] for lab in labels if lab["disagree"]],
                      "prediction": _redacted(labels, "generated") if cfg.redact else p["prediction"],
                      "reference": _redacted(labels, "reference") if cfg.redact else p["reference"],
                      "scores": scores, "sort": sorted((k, repr(float(v))) for k, v in sort.items()),
                      "_key": (f1, row.get("rouge_l", 0.0), order), "_images": rec.get("images", [])})
    cards.sort(key=lambda c: c["_key"])
    cards = cards[: cfg.max_studies]
    for c in cards:
        c["images"] = _images(src, c.pop("_images"), cfg.thumbnail_size)
        del c["_key"]
    return cards


def _images(src: Sources, images: list[dict], size: int) -> list[dict]:
    from cxrgen.utils.io import safe_join
    out = []
    for im in images if size else []:
        if src.image_root is None:
            out.append({"src": "", "error": "no image root recorded", "view": im.get("view", "")})
            continue
        uri, err = media.safe_thumbnail(safe_join(src.image_root, im["path"], what="image"), size)
        out.append({"src": uri, "error": err, "view": im.get("view", "")})
    return out


def build(src: Sources, cfg: Any, compare: Optional[dict], compare_name: str) -> dict:
    """The template context of one page."""
    from cxrgen import __version__
    st = src.scores["settings"]
    uncertain = st.get("uncertain", "pos")
    curves = media.read_curves(src.ws.artifact_dir("train", src.run) / "metrics.jsonl") \
        if src.train_manifest is not None else {}
    cards = study_cards(src, cfg, uncertain)
    return {
        "version": __version__, "run": src.run, "split": src.split, "redact": cfg.redact,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n_studies": len(cards), "n_total": len(src.preds), "workspace": str(src.ws.root),
        "preds_path": str(src.ws.preds_path(src.run, src.split)), "records_path": str(src.records_path),
        "dataset": src.dataset, "image_root": str(src.image_root or "–"),
        "metrics": metric_rows(src.scores, compare), "compare": {"name": compare_name, "labeler": compare.get("labeler")} if compare else None,
        "provenance": provenance(src), "errors": error_rows(src.scores),
        "errors_skipped": (src.scores.get("error_analysis") or {}).get("skipped", "not computed (re-run score)"),
        "loss_svg": media.loss_svg(curves, f"{src.run}: loss per optimizer step") if curves else "",
        "findings": fnd.finding_table(src.per_sample, CLASSES, uncertain, int(st.get("bootstrap") or 0), int(st.get("seed", 0))),
        "uncertain": "positive" if uncertain == "pos" else "negative",
        "sort_keys": SORT_KEYS, "studies": cards,
    }
