"""score: preds.jsonl (``id``, ``prediction``, ``reference``) → scores.json + per_sample.jsonl.

Two ways in:

* a file: ``score_file(cfg, "preds.jsonl", out="dir")`` (any tool's predictions);
* the workspace: ``run(cfg, ws=ws, run_name=..., split=...)`` reads ``generate/<run>/<split>/preds.jsonl``
  and writes ``score/<run>/<split>/`` through :class:`ArtifactBuild`.

Nothing is written until every number is computed; bad input is one ``InputError`` line. Never uses the
network (pycocoevalcap scorers are instantiated directly; SPICE is never built).
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np

from cxrgen.config.schema import ScoreConfig
from cxrgen.errors import ConfigError, InputError
from cxrgen.workspace.hashing import file_sha256, json_hash

log = logging.getLogger("cxrgen.score")

GROUPS = ("bleu", "meteor", "rouge_l", "cider", "ce")
REFERENCE_LABELS = ("auto", "labeler", "dataset")


# --------------------------------------------------------------------------------- input
@dataclass
class Preds:
    path: Path
    ids: list[str]
    hyps: list[str]
    refs: list[str]

    @property
    def fingerprint(self) -> str:
        """Hash of the reference set: the (id, reference) pairs, independent of line order."""
        return json_hash(sorted(zip(self.ids, self.refs)))

    def labelled_fingerprint(self, labeler: Optional[str]) -> str:
        """The reference set plus the labeler that labels it: runs labelled differently do not compare."""
        return self.fingerprint if labeler is None else json_hash([self.fingerprint, labeler])


# default of ScoreConfig.max_report_chars: far above any real radiology report (a few thousand characters)
MAX_REPORT_CHARS = 100_000


def load_preds(path: str | Path, max_chars: int = MAX_REPORT_CHARS) -> Preds:
    """Predictions and references of a preds.jsonl. Every problem is an InputError naming the line:
    malformed JSON, missing fields, non-strings, lone surrogates, a report longer than ``max_chars``
    (scorers are quadratic in length: one 100 MB line took ROUGE-L to 7 GB), every reference empty."""
    from cxrgen.utils.io import iter_json_lines
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; give a preds.jsonl with id, prediction, reference per line")
    ids, hyps, refs, seen = [], [], [], {}
    # a line may hold two reports of max_chars (4 bytes per char in UTF-8 at worst, 6 as JSON escapes)
    for lineno, row in iter_json_lines(path, max_line_bytes=12 * max_chars + (1 << 16)):
        missing = [k for k in ("id", "prediction", "reference") if k not in row]
        if missing:
            raise InputError(f"{path} line {lineno}: missing field(s) {', '.join(map(repr, missing))} "
                             "(each line needs id, prediction, reference)")
        rid = row["id"]
        if not isinstance(rid, (str, int)) or isinstance(rid, bool) or str(rid) == "":
            raise InputError(f"{path} line {lineno}: field 'id' must be a non-empty string or integer")
        for k in ("prediction", "reference"):
            if not isinstance(row[k], str):
                raise InputError(f"{path} line {lineno}: field {k!r} must be a string, got {type(row[k]).__name__}")
            if len(row[k]) > max_chars:
                raise InputError(f"{path} line {lineno} (id {str(rid)[:60]!r}): {k} is {len(row[k])} characters, over "
                                 f"the limit of {max_chars}; shorten it or raise max_report_chars=N")
            try:
                row[k].encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"{path} line {lineno} (id {str(rid)[:60]!r}): {k} holds a lone surrogate "
                                 "escape (\\ud800-\\udfff), not text; fix the writer of this file") from None
        rid = str(rid)
        if rid in seen:
            raise InputError(f"{path} line {lineno}: duplicate id {rid!r} (first on line {seen[rid]}); ids must be unique")
        seen[rid] = lineno
        ids.append(rid)
        hyps.append(row["prediction"])
        refs.append(row["reference"])
    if not ids:
        raise InputError(f"{path}: no predictions (empty file)")
    if not any(r.strip() for r in refs):
        raise InputError(f"{path}: every reference is empty ({len(refs)} lines); the metrics compare against "
                         "reference text: fill the 'reference' field")
    return Preds(path, ids, hyps, refs)


def labels_from_records(records: Path, ids: list[str]) -> tuple[Optional[list[dict]], str]:
    """Reference labels from records.jsonl joined by id: (labels or None, note). Unknown ids are an error."""
    from cxrgen.utils.io import iter_json_lines
    by_id: dict[str, dict] = {}
    for lineno, row in iter_json_lines(records, required=("id",)):
        lab = row.get("labels") or {}
        if not isinstance(lab, dict):
            raise InputError(f"{records} line {lineno}: 'labels' must be an object of CheXpert labels, "
                             f"got {type(lab).__name__}")
        by_id[str(row["id"])] = lab
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise InputError(f"{len(missing)} of {len(ids)} prediction ids are not in {records} (first: {missing[0]!r}); "
                         "predictions and references must come from the same prepared data set")
    labels = [by_id[i] for i in ids]
    if not all(labels):
        n = sum(1 for x in labels if not x)
        return None, f"{n} of {len(ids)} records in {records} carry no labels"
    return [{k: _label(v, records, rid, k) for k, v in lab.items()} for rid, lab in zip(ids, labels)], ""


def _label(v: Any, records: Path, rid: str, key: str) -> Optional[int]:
    """A CheXpert label: 1, 0, -1 (uncertain) or None/NaN (not mentioned); anything else names the record."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    if not isinstance(v, bool) and isinstance(v, (int, float)) and v in (1, 0, -1):
        return int(v)
    raise InputError(f"{records}: record {rid!r} label {key!r} is {str(v)[:40]!r}; labels are 1, 0, -1 or null")


# --------------------------------------------------------------------------------- compute
@dataclass
class Scored:
    preds: Preds
    metrics: dict[str, float] = field(default_factory=dict)
    ce: dict[str, Any] = field(default_factory=dict)
    stats: Any = None
    per_sample: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)   # ids the convention left out (llama-xr: "XXXX")


def check_config(cfg: ScoreConfig, *, load_labeler: bool = True) -> list[str]:
    """The metric groups; every bad setting is a ConfigError before any work. ``load_labeler=False`` (a
    dry run) checks the labeler's files without loading CheXbert's weights."""
    groups = list(dict.fromkeys(cfg.metrics))
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        raise ConfigError(f"--metrics {','.join(cfg.metrics)}: unknown {', '.join(map(repr, bad)) or 'empty list'}; "
                          f"choose from {','.join(GROUPS)}")
    if cfg.bootstrap < 0 or cfg.permutations < 0:
        raise ConfigError("--bootstrap and --permutations must be >= 0")
    if cfg.reference_labels not in REFERENCE_LABELS:
        raise ConfigError(f"--reference-labels {cfg.reference_labels!r}: choose {' | '.join(REFERENCE_LABELS)}")
    from cxrgen.utils.device import require_available
    require_available(cfg.device)  # --device cuda without CUDA: one line before any work
    if "ce" in groups and (load_labeler or cfg.labeler != "chexbert"):
        labeler_for(cfg)  # unknown kind or missing weights: one line before any work
    elif "ce" in groups:
        from cxrgen.metrics.labelers import check_chexbert_files
        check_chexbert_files(cfg.labeler_weights, cfg.tokenizer)
    if cfg.truncate_references < 0:
        raise ConfigError(f"--truncate-references {cfg.truncate_references}: give a token count >= 1 (0: off)")
    coco_meteor = "meteor" in groups and cfg.convention == "coco"
    if cfg.convention == "llama-xr":
        from cxrgen.metrics.paper_nlg import require
        require(groups)  # missing nltk / rouge-score / WordNet: one line before any work
    if coco_meteor or cfg.tokenize == "ptb":
        from cxrgen.metrics.nlg import java_path
        java_path()  # DependencyError with install instructions before any work
    return groups


def labeler_for(cfg: ScoreConfig):
    """The configured labeler, built once per process (CheXbert weights load once for --compare too).

    The cache key holds the weight file's size and mtime: weights replaced under the same path (a
    notebook, the report re-scoring in the process that scored) load again and get their own name."""
    from cxrgen.metrics.labelers import LabelerSpec
    stamp = None
    if cfg.labeler == "chexbert" and cfg.labeler_weights:
        from cxrgen.metrics.chexbert import weight_file
        try:
            st = weight_file(cfg.labeler_weights).stat()
            stamp = (st.st_size, st.st_mtime_ns)
        except (ConfigError, OSError):
            pass  # make_labeler says what is missing, in its own order (tokenizer first)
    return _labeler(LabelerSpec(cfg.labeler, cfg.labeler_weights, cfg.tokenizer, device=cfg.device,
                                batch_size=cfg.batch_size), stamp)


@lru_cache(maxsize=2)
def _labeler(spec, stamp=None):  # noqa: ARG001 - stamp is part of the cache key only
    from cxrgen.metrics.labelers import make_labeler
    return make_labeler(spec)


def apply_convention(cfg: ScoreConfig, preds: Preds) -> tuple[Preds, list[str]]:
    """The pairs the convention scores and the ids it leaves out (llama-xr drops "XXXX" reports)."""
    if cfg.convention != "llama-xr":
        return preds, []
    from cxrgen.metrics.paper_nlg import keep
    k = keep(preds.hyps, preds.refs)
    if not any(k):
        raise InputError(f"{preds.path}: every report contains 'XXXX'; the llama-xr convention has nothing to score")
    pick = lambda xs: [x for x, ok in zip(xs, k) if ok]  # noqa: E731
    return Preds(preds.path, pick(preds.ids), pick(preds.hyps), pick(preds.refs)), \
        [i for i, ok in zip(preds.ids, k) if not ok]


def truncate(cfg: ScoreConfig, preds: Preds, tokenizer_name: str) -> tuple[Preds, dict]:
    """References cut to ``cfg.truncate_references`` tokens (R2GenGPT); the record for scores.json."""
    if not cfg.truncate_references:
        return preds, {}
    if not tokenizer_name:
        raise ConfigError("--truncate-references counts tokens of a tokenizer: add --reference-tokenizer LLM "
                          "(alias, HF id or folder), or score a workspace run with --run")
    from cxrgen.metrics.references import truncate_references
    from cxrgen.models.llms import load_tokenizer, resolve
    name, _, weights = tokenizer_name.partition("|")
    spec = resolve(name, weights)
    refs, cut = truncate_references(preds.refs, load_tokenizer(spec), cfg.truncate_references)
    return Preds(preds.path, preds.ids, preds.hyps, refs), \
        {"tokens": cfg.truncate_references, "tokenizer": spec.source, "truncated": cut,
         "rule": "tokenizer(text, truncation=True, max_length=N) incl. special tokens, decoded (R2GenGPT)"}


def _nlg(cfg: ScoreConfig, preds: Preds, groups: list[str], out: "Scored", blocks: dict, per: dict) -> None:
    """BLEU / METEOR / ROUGE-L / CIDEr into ``out.metrics``, bootstrap ``blocks`` and per-report ``per``."""
    from cxrgen.metrics.nlg import bleu_from_totals_vec, compute_nlg
    coco = groups
    if cfg.convention == "llama-xr":
        from cxrgen.metrics.paper_nlg import GROUPS, per_report
        t = time.perf_counter()
        vals = per_report(preds.hyps, preds.refs, [g for g in groups if g in GROUPS])
        for k, v in vals.items():
            out.metrics[k] = float(v.mean())
            blocks[f"mean:{k}"] = v[:, None]
        per.update(vals)
        out.timings["llama-xr"] = time.perf_counter() - t
        coco = [g for g in groups if g not in GROUPS]
    if not coco:
        return
    r = compute_nlg(preds.hyps, preds.refs, metrics=coco, tokenize=cfg.tokenize)
    out.metrics.update(r.scores)
    out.timings.update(r.timings)
    if r.bleu is not None:
        blocks["bleu"] = r.bleu
        per["bleu_4"] = bleu_from_totals_vec(r.bleu)[:, 3]
    if r.meteor is not None:
        blocks["meteor"] = r.meteor
    for k in ("rouge_l", "cider"):
        if k in r.per_sample:
            blocks[k] = r.per_sample[k][:, None]
    per.update(r.per_sample)


def compute(cfg: ScoreConfig, preds: Preds, ref_labels: Optional[list[dict]], ref_note: str = "") -> Scored:
    """All metric groups of ``cfg`` for ``preds``; ``ref_labels`` are the data set's labels (None: none,
    ``ref_note`` says why) — CE scores them beside the labeler's labels of the reference text."""
    from cxrgen.metrics import bootstrap as bs
    from cxrgen.stages import score_ce
    groups = check_config(cfg)
    full = preds
    preds, dropped = apply_convention(cfg, preds)
    if ref_labels is not None and dropped:
        keep_ids = set(preds.ids)
        ref_labels = [lab for rid, lab in zip(full.ids, ref_labels) if rid in keep_ids]
    out = Scored(preds, dropped=dropped)
    blocks: dict[str, np.ndarray] = {}
    per: dict[str, np.ndarray] = {}
    nlg_groups = [g for g in groups if g != "ce"]
    if nlg_groups:
        _nlg(cfg, preds, nlg_groups, out, blocks, per)
    ce = None
    if "ce" in groups:
        t = time.perf_counter()
        ce = score_ce.compute_ce(labeler_for(cfg), preds.hyps, preds.refs, ref_labels, setting=cfg.reference_labels,
                                 uncertain=cfg.uncertain, dataset_note=ref_note)
        out.metrics.update(ce.metrics)
        blocks.update(ce.blocks)
        out.ce = ce.doc
        out.timings["ce"] = time.perf_counter() - t
    out.stats = bs.Stats(blocks, len(preds.ids))
    for i, rid in enumerate(preds.ids):
        row: dict[str, Any] = {"id": rid}
        for k in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"):
            if k in per:
                row[k] = float(per[k][i])
        if ce is not None:
            row.update(score_ce.per_sample_labels(ce, i))
        out.per_sample.append(row)
    return out


_JAVA: Optional[str] = None


def java_version() -> Optional[str]:
    global _JAVA
    if _JAVA is None:
        import os
        import shutil
        java = shutil.which("java")
        release = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(java))), "release") if java else ""
        try:  # the JDK's release file says it without starting a JVM
            with open(release, encoding="utf-8") as f:
                for line in f:
                    if line.startswith("JAVA_VERSION="):
                        _JAVA = "java " + line.split("=", 1)[1].strip().strip('"')
                        return _JAVA
        except OSError:
            pass
        try:
            p = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
            _JAVA = (p.stderr or p.stdout).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            _JAVA = ""
    return _JAVA or None


def build_scores(cfg: ScoreConfig, scored: Scored, *, reference_labels: str, compare: Optional[dict] = None,
                 truncation: Optional[dict] = None) -> dict:
    from cxrgen.metrics import bootstrap as bs
    from cxrgen.workspace.manifest import package_versions
    t = time.perf_counter()
    ci = bs.bootstrap_ci(scored.stats, cfg.bootstrap, cfg.seed)
    scored.timings["bootstrap"] = time.perf_counter() - t
    n = len(scored.preds.ids)
    labeler = scored.ce["headline"]["labeler"] if scored.ce else None
    if scored.ce:
        from cxrgen.stages.score_ce import describe
        reference_labels = describe(scored.ce)
    doc = {
        "metrics": scored.metrics,
        "ci95": {k: ci[k]["ci95"] for k in scored.metrics if k in ci},
        "bootstrap": {k: {"mean": ci[k]["mean"], "stderr": ci[k]["stderr"]} for k in scored.metrics if k in ci},
        "ce": scored.ce,
        "counts": {"reports": n, "empty_predictions": sum(1 for h in scored.preds.hyps if not h.strip()),
                   "empty_references": sum(1 for r in scored.preds.refs if not r.strip()),
                   **({"dropped_by_convention": len(scored.dropped)} if cfg.convention != "coco" else {})},
        "settings": {
            "metrics": list(dict.fromkeys(cfg.metrics)), "tokenize": cfg.tokenize, "uncertain": cfg.uncertain,
            "bootstrap": cfg.bootstrap, "seed": cfg.seed, "reference_labels": reference_labels,
            "labeler": labeler, "convention": cfg.convention,
            "truncate_references": truncation or {"tokens": 0},
            "conventions": {
                "bleu": "corpus BLEU, closest reference length (pycocoevalcap Bleu(4))",
                "meteor": "corpus METEOR 1.5 (-l en -norm), jar EVAL over per-report SCORE statistics",
                "rouge_l": "mean of per-report ROUGE-L F (beta 1.2)",
                "cider": "CIDEr-D mean of per-report values; idf from this set's references (not comparable across subsets)",
                "ce": "labels 1/0/-1/blank; headline: ce.headline (reference source, uncertain convention, labeler); "
                      "keys ending @ref=<source> use the other reference source; example-based: empty-empty report "
                      "scores 0 (example_empty1: 1)",
                "ci95": "paired percentile bootstrap over reports (sufficient statistics, CIDEr idf frozen)",
            },
        },
        "reference_fingerprint": scored.preds.labelled_fingerprint(labeler),
        **({"dropped_ids": scored.dropped} if scored.dropped else {}),
        "predictions": {"path": str(scored.preds.path.resolve()), "sha256": file_sha256(scored.preds.path)},
        "packages": {**package_versions(), **({"java": java_version()} if java_version() else {})},
        "timings": {k: round(v, 3) for k, v in scored.timings.items()},
    }
    if cfg.convention == "llama-xr":
        from cxrgen.metrics.paper_nlg import describe
        doc["settings"]["conventions"].update(describe())
    if compare:
        doc["compare"] = compare
    return doc


def comparable(a: dict, a_name: str, b: dict, b_name: str, fix: str = "re-score both with the same --labeler") -> None:
    """InputError unless two scores.json documents (or the ``settings.labeler`` / ``reference_fingerprint``
    parts of them) were labelled by the same labeler on the same references.

    ``reference_fingerprint`` folds the labeler in (:meth:`Preds.labelled_fingerprint`): CE labels of two
    labelers (rules vs CheXbert, or CheXbert weights with another sha256) are not side by side (issue 13)."""
    la, lb = (a.get("settings") or {}).get("labeler"), (b.get("settings") or {}).get("labeler")
    if la != lb:
        raise InputError(f"refusing to compare {a_name} (labeler {la or 'none, no ce'}) with {b_name} (labeler "
                         f"{lb or 'none, no ce'}): their CE labels come from different labelers; {fix}")
    fa, fb = str(a.get("reference_fingerprint")), str(b.get("reference_fingerprint"))
    if fa != fb:
        raise InputError(f"refusing to compare {a_name} with {b_name} (both labeler {la or 'none, no ce'}): their "
                         f"reference fingerprints differ ({fa[:12]} vs {fb[:12]}); score both against the same "
                         f"ids and reference texts; {fix}")


def _identity(s: Scored) -> dict:
    """What :func:`comparable` checks, for a run scored in this process."""
    labeler = s.ce["headline"]["labeler"] if s.ce else None
    return {"settings": {"labeler": labeler}, "reference_fingerprint": s.preds.labelled_fingerprint(labeler)}


def compare_with(cfg: ScoreConfig, a: Scored, other: Path, ref_labels: Optional[list[dict]]) -> dict:
    """Score ``other`` with ``cfg`` (the same labeler: one instance per process) and pair it with ``a``."""
    from cxrgen.metrics import bootstrap as bs
    b_preds, _ = truncate(cfg, load_preds(other, cfg.max_report_chars), cfg.reference_tokenizer)
    if b_preds.fingerprint != a.preds.fingerprint:
        raise InputError(f"refusing to compare {a.preds.path} with {other}: their reference sets differ "
                         f"(fingerprints {a.preds.fingerprint[:12]} vs {b_preds.fingerprint[:12]}); "
                         "score both systems against the same ids and reference texts")
    order = {rid: i for i, rid in enumerate(b_preds.ids)}
    idx = [order[rid] for rid in a.preds.ids]
    b_preds = Preds(b_preds.path, [b_preds.ids[i] for i in idx], [b_preds.hyps[i] for i in idx],
                    [b_preds.refs[i] for i in idx])
    b = compute(cfg, b_preds, ref_labels)
    ida, idb = _identity(a), _identity(b)
    comparable(ida, str(a.preds.path), idb, str(other))  # both sides labelled here by one labeler: a guard
    n_boot = cfg.bootstrap or 1000
    t = time.perf_counter()
    pb = bs.paired_bootstrap(a.stats, b.stats, n_boot, cfg.seed)
    ar = bs.randomization_test(a.stats, b.stats, cfg.permutations, cfg.seed)
    return {"other": str(Path(other).resolve()), "labeler": idb["settings"]["labeler"],
            "reference_fingerprint": idb["reference_fingerprint"], "other_metrics": b.metrics,
            "delta": {k: a.metrics[k] - b.metrics[k] for k in a.metrics if k in b.metrics},
            "paired_bootstrap": {"resamples": n_boot, "seed": cfg.seed, "results": pb},
            "randomization": {"trials": cfg.permutations, "seed": cfg.seed, "results": ar},
            "seconds": round(time.perf_counter() - t, 3)}


def _reference_labels(cfg: ScoreConfig, preds: Preds, records: Optional[Path]) -> tuple[Optional[list[dict]], str]:
    """The data set's labels (or None) and a note: where they come from, or why there are none."""
    if "ce" not in cfg.metrics:
        return None, "not used (no ce)"
    if records is None:
        return None, "no prepared data set labels given"
    labels, why = labels_from_records(records, preds.ids)
    if labels is None:
        return None, why
    return labels, f"data set labels from {records}"


def _write(folder: Path, doc: dict, per_sample: list[dict]) -> None:
    from cxrgen.utils.io import atomic_write_json, write_jsonl
    from cxrgen.workspace.layout import FILES
    write_jsonl(folder / FILES["per_sample"], per_sample)
    atomic_write_json(folder / FILES["scores"], doc)  # last: its presence means the folder is complete


# --------------------------------------------------------------------------------- entry points
def score_file(cfg: ScoreConfig, preds_path: str | Path, *, out: Optional[str | Path] = None,
               records: Optional[str | Path] = None, compare: Optional[str | Path] = None) -> dict:
    check_config(cfg)
    if compare and cfg.convention != "coco":
        raise ConfigError("--compare needs --convention coco: the llama-xr convention drops reports by their "
                          "prediction text, so two systems would be scored on different reports")
    preds = load_preds(preds_path, cfg.max_report_chars)
    preds, truncation = truncate(cfg, preds, cfg.reference_tokenizer)
    ref_labels, source = _reference_labels(cfg, preds, Path(records) if records else None)
    scored = compute(cfg, preds, ref_labels, source)
    cmp = compare_with(cfg, scored, Path(compare), ref_labels) if compare else None
    doc = build_scores(cfg, scored, reference_labels=source, compare=cmp, truncation=truncation)
    from cxrgen.stages.score_analysis import add_error_analysis
    add_error_analysis(doc, scored, Path(records) if records else None)
    if out:
        _write(Path(out), doc, scored.per_sample)
    return doc


def _find_prepare(ws, manifest, depth: int = 0) -> Optional[dict]:
    """Follow artifact inputs upstream (generate → train → embed → prepare) to the prepare entry."""
    from cxrgen.workspace.manifest import read_manifest
    for entry in manifest.inputs:
        if entry.get("kind") != "artifact":
            continue
        if entry.get("stage") == "prepare":
            return entry
    if depth > 4:
        return None
    for entry in manifest.inputs:
        if entry.get("kind") == "artifact" and entry.get("stage") in ("train", "embed", "generate"):
            try:
                up = read_manifest(ws.artifact_dir(entry["stage"], *entry["key"]))
            except Exception:  # noqa: BLE001 - a broken upstream only means no data set labels
                continue
            found = _find_prepare(ws, up, depth + 1)
            if found:
                return found
    return None


def run_tokenizer(ws, gen_manifest) -> str:
    """"LLM|weights" of the training run behind a generate artifact (its tokenizer counts the tokens)."""
    from cxrgen.workspace.manifest import read_manifest
    for entry in gen_manifest.inputs:
        if entry.get("kind") == "artifact" and entry.get("stage") == "train":
            conf = read_manifest(ws.artifact_dir("train", *entry["key"])).config
            return f"{conf.get('llm', '')}|{conf.get('llm_weights', conf.get('weights', '')) or ''}"
    raise ConfigError("--truncate-references: the generate artifact names no training run; give --reference-tokenizer LLM")


def _inputs(cfg: ScoreConfig, ws, run_name: str, split: str, records: Optional[str | Path]):
    """What a workspace score reads, as manifest inputs (its fingerprint), with the generate manifest, the
    records file whose labels it uses and the one the error analysis reads (None: none). Shared by
    :func:`run` and :func:`plan`, so a plan's "up to date" is the run's."""
    from cxrgen.workspace.artifact import upstream
    from cxrgen.workspace.hashing import raw_input
    entry, gen_manifest = upstream(ws, "generate", run_name, split)
    inputs = [entry]
    rec_path: Optional[Path] = Path(records) if records else None
    if "ce" in cfg.metrics and cfg.labeler == "chexbert":  # new weights under the same path rescore
        from cxrgen.metrics.chexbert import weight_file
        inputs.append(raw_input(weight_file(cfg.labeler_weights)))
    if "ce" in cfg.metrics:  # both reference sources are scored whatever the headline
        if rec_path is not None:
            inputs.append(raw_input(rec_path))
        else:
            prep = _find_prepare(ws, gen_manifest)
            if prep is not None and ws.records_path(*prep["key"]).is_file():
                rec_path = ws.records_path(*prep["key"])
                upstream(ws, "prepare", *prep["key"])  # its labels are read: refuse a records file known bad
                inputs.append(prep)
    from cxrgen.stages.score_analysis import workspace_records
    err_records = workspace_records(ws, gen_manifest, inputs, rec_path)
    return inputs, gen_manifest, rec_path, err_records


def _settings(cfg: ScoreConfig) -> dict:
    """The settings a plan shows (the rest are in ``cxrgen score --help`` and the saved config)."""
    return {"metrics": list(dict.fromkeys(cfg.metrics)), "labeler": cfg.labeler if "ce" in cfg.metrics else None,
            "labeler_weights": cfg.labeler_weights or None, "bootstrap": cfg.bootstrap, "seed": cfg.seed,
            "convention": cfg.convention, "tokenize": cfg.tokenize, "uncertain": cfg.uncertain,
            "reference_labels": cfg.reference_labels, "truncate_references": cfg.truncate_references,
            "device": cfg.device, "batch_size": cfg.batch_size}


def _describe_input(i: dict) -> dict:
    """An upstream artifact or file of a plan: its name and what identifies its content (all are present:
    a missing one is the run's own error)."""
    if i.get("kind") == "artifact":
        return {"name": f"{i['stage']}/{'/'.join(i['key'])}", "present": True, "fingerprint": i["fingerprint"]}
    return {"name": i["path"], "present": True, "sha256": i.get("sha256") or i.get("signature")}


def plan(cfg: ScoreConfig, ws, *, run_name: str, split: str, force: bool = False,
         records: Optional[str | Path] = None) -> dict:
    """What ``run`` would do (``--dry-run``): its inputs, output folder, and whether the existing scores are
    up to date (the same fingerprint as :func:`run`); nothing is scored, loaded or written. A missing
    generate artifact is the same one-line error as the run's."""
    from cxrgen.workspace.artifact import ArtifactBuild
    check_config(cfg, load_labeler=False)
    inputs, _, rec_path, _ = _inputs(cfg, ws, run_name, split, records)
    m, state = ArtifactBuild(ws, "score", (run_name, split), cfg, inputs, force=force).check()
    return {"stage": "score", "mode": "workspace", "run": run_name, "split": split,
            "predictions": str(ws.preds_path(run_name, split)),
            "inputs": [_describe_input(i) for i in inputs if i.get("kind") != "value"],
            "dataset_labels": str(rec_path) if rec_path else None,
            "output": str(ws.artifact_dir("score", run_name, split)), "up_to_date": m is not None, "state": state,
            "settings": _settings(cfg)}


def plan_file(cfg: ScoreConfig, preds: str | Path, *, out: Optional[str | Path] = None,
              records: Optional[str | Path] = None, compare: Optional[str | Path] = None) -> dict:
    """What :func:`score_file` would do (``--dry-run``): the files it reads and writes (none without
    ``out``: the scores are printed only). Nothing is read beyond the files' existence."""
    check_config(cfg, load_labeler=False)
    if not Path(preds).is_file():
        raise InputError(f"{preds}: file not found; give a preds.jsonl with id, prediction, reference per line")
    for what, path in (("--records", records), ("--compare", compare)):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{what} {path}: file not found")
    return {"stage": "score", "mode": "file", "predictions": str(preds),
            "compare": str(compare) if compare else None, "dataset_labels": str(records) if records else None,
            "output": str(out) if out else None,
            "writes": [str(Path(out) / f) for f in ("scores.json", "per_sample.jsonl")] if out else [],
            "settings": _settings(cfg)}


def render_plan(p: dict) -> str:
    """The plan as a few lines for ``--dry-run`` without ``--json``."""
    s = p["settings"]
    ce = f", labeler {s['labeler']}" + (f" ({s['labeler_weights']}, device {s['device']}, batch {s['batch_size']})"
                                        if s["labeler"] == "chexbert" else "") if s["labeler"] else ""
    lines = [f"score       {p['predictions']}" + (f" vs {p['compare']}" if p.get("compare") else ""),
             f"metrics     {','.join(s['metrics'])}{ce}",
             f"settings    convention {s['convention']}, tokenize {s['tokenize']}, bootstrap {s['bootstrap']} "
             f"(seed {s['seed']}), uncertain {s['uncertain']}, reference labels {s['reference_labels']}",
             f"labels      {p['dataset_labels'] or 'none from the data set (labeler on the reference text)'}"]
    if p["mode"] == "workspace":
        lines += [f"inputs      {', '.join(i['name'] for i in p['inputs'])}",
                  f"output      {p['output']} " + ("(up to date: nothing to do)" if p["up_to_date"]
                                                      else f"(would score: {p['state']})")]
    else:
        lines.append(f"output      {', '.join(p['writes']) if p['writes'] else 'none (prints the scores only)'}")
    return "\n".join(lines)


def run(cfg: ScoreConfig, *, ws, run_name: str, split: str, force: bool = False,
        records: Optional[str | Path] = None):
    """Score ``generate/<run>/<split>/preds.jsonl`` into ``score/<run>/<split>/``; returns the manifest."""
    from cxrgen.workspace.artifact import ArtifactBuild
    from cxrgen.workspace.layout import FILES
    check_config(cfg)
    inputs, gen_manifest, rec_path, err_records = _inputs(cfg, ws, run_name, split, records)
    from cxrgen.stages.score_analysis import add_error_analysis, headline
    build = ArtifactBuild(ws, "score", (run_name, split), cfg, inputs, force=force)
    if (m := build.up_to_date()):
        log.info("score/%s/%s is up to date", run_name, split)
        return m
    preds = load_preds(ws.preds_path(run_name, split), cfg.max_report_chars)
    preds, truncation = truncate(cfg, preds, cfg.reference_tokenizer or (
        run_tokenizer(ws, gen_manifest) if cfg.truncate_references else ""))
    ref_labels, source = _reference_labels(cfg, preds, rec_path)
    scored = compute(cfg, preds, ref_labels, source)
    doc = build_scores(cfg, scored, reference_labels=source, truncation=truncation)
    add_error_analysis(doc, scored, err_records)
    with build:
        _write(build.work_dir, doc, scored.per_sample)
        return build.commit([FILES["scores"], FILES["per_sample"]],
                            counts={"reports": len(preds.ids)},
                            extra={"reference_fingerprint": doc["reference_fingerprint"],
                                   "reference_labels": doc["settings"]["reference_labels"],
                                   "ce": (doc.get("ce") or {}).get("headline"),
                                   "metrics": scored.metrics, "error_analysis": headline(doc)})
