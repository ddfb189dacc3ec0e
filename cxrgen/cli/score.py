"""`cxrgen score`: BLEU, METEOR, ROUGE-L, CIDEr and clinical efficacy with bootstrap intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cxrgen.cli.common import build_config, csv_list, emit_json, workspace


def score(
    ctx: typer.Context,
    preds: Optional[Path] = typer.Argument(None, help="A preds.jsonl (id, prediction, reference per line); "
                                                      "omit it to score a workspace run with --run/--split.",
                                           show_default=False),
    run: Optional[str] = typer.Option(None, "--run", "--run-name", help="Workspace mode: score generate/<run>/<split>/preds.jsonl."),
    split: Optional[str] = typer.Option(None, "--split", help="Workspace mode: split (default test)."),
    out: Optional[Path] = typer.Option(None, "--out", help="File mode: folder for scores.json and per_sample.jsonl "
                                                           "(default: print only)."),
    records: Optional[Path] = typer.Option(None, "--records", help="records.jsonl whose 'labels' are the reference labels "
                                                                   "(joined by id); workspace mode finds the prepared set itself."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="Another system's preds.jsonl on the same references: "
                                                                  "paired bootstrap and randomization test."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated groups: bleu,meteor,rouge_l,cider,ce."),
    tokenize: Optional[str] = typer.Option(None, "--tokenize", help="none (as given; R2Gen/R2GenGPT) | ptb."),
    uncertain: Optional[str] = typer.Option(None, "--uncertain", help="Headline CE: uncertain labels count as pos | neg."),
    bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="Bootstrap resamples for 95% intervals (0: off; default 1000)."),
    permutations: Optional[int] = typer.Option(None, "--permutations", help="Randomization trials for --compare (default 10000)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the bootstrap and randomization."),
    reference_labels: Optional[str] = typer.Option(None, "--reference-labels", help="Headline CE reference labels: auto "
                                                   "(data set labels when present) | labeler | dataset; both are reported."),
    labeler: Optional[str] = typer.Option(None, "--labeler", help="CheXpert-14 labeler: rules (offline, default) | chexbert."),
    labeler_weights: Optional[Path] = typer.Option(None, "--labeler-weights", help="chexbert: chexbert.pth or a folder "
                                                   "holding it (local file; never downloaded)."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="chexbert: folder with the bert-base-uncased "
                                             "tokenizer (vocab.txt)."),
    max_report_chars: Optional[int] = typer.Option(None, "--max-report-chars", help="Longest prediction or reference "
                                                   "accepted (default 100000); a longer one is an error naming its id."),
    convention: Optional[str] = typer.Option(None, "--convention", help="coco (coco-caption corpus scores) | llama-xr "
                                             "(LLaMA-XR: per-report NLTK/rouge_score averages, 'XXXX' reports dropped)."),
    truncate_references: Optional[int] = typer.Option(None, "--truncate-references", help="Cut references to N tokens "
                                                      "of the run's tokenizer first (R2GenGPT: 60 IU, 100 MIMIC)."),
    reference_tokenizer: Optional[str] = typer.Option(None, "--reference-tokenizer", help="LLM whose tokenizer "
                                                      "--truncate-references counts (default in workspace mode: the run's)."),
    device: Optional[str] = typer.Option(None, "--device", help="chexbert: cpu, cuda, cuda:N or auto (default)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="chexbert: reports per forward pass (default 16)."),
    as_json: bool = typer.Option(False, "--json", help="Print scores.json (with --dry-run: the plan) to stdout "
                                                       "instead of a table."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file."),
    force: bool = typer.Option(False, "--force", help="Workspace mode: rescore even if up to date."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be read, computed and written (workspace "
                                                          "mode: whether the scores are up to date); score nothing."),
) -> None:
    """Score generated reports: BLEU-1..4, METEOR, ROUGE-L, CIDEr (pycocoevalcap, exact) and CheXpert CE.

    Strings are scored as given (cleaning belongs to prepare). CE: cxrgen's rule-based labeler or CheXbert
    (local weights); data set and labeler reference labels side by side.
    Never uses the network. METEOR needs Java.

    Example: cxrgen score preds.jsonl --out scores/ --bootstrap 1000
    Example: cxrgen score --run r2gengpt-shallow --split test
    Example: cxrgen score a.jsonl --compare b.jsonl
    Example: cxrgen score --run r2gengpt-deep-iu --truncate-references 60
    Example: cxrgen score preds.jsonl --convention llama-xr --metrics bleu,rouge_l
    Example: cxrgen score preds.jsonl --labeler chexbert --labeler-weights chexbert.pth --tokenizer bert-base-uncased/
    Example: cxrgen score --run r2gengpt-shallow --dry-run
    """
    from cxrgen.config.schema import ScoreConfig
    cfg = build_config(ScoreConfig, config, None, metrics=csv_list(metrics), tokenize=tokenize,
                       uncertain=uncertain, bootstrap=bootstrap, permutations=permutations, seed=seed,
                       reference_labels=reference_labels, labeler=labeler,
                       labeler_weights=str(labeler_weights) if labeler_weights else None,
                       tokenizer=str(tokenizer) if tokenizer else None, convention=convention,
                       truncate_references=truncate_references, reference_tokenizer=reference_tokenizer,
                       max_report_chars=max_report_chars, device=device, batch_size=batch_size)
    if dry_run:
        from cxrgen.stages import score as stage
        p = _plan(ctx, cfg, preds, run, split, out, records, compare, force)
        if as_json:
            emit_json(p)
        else:
            typer.echo(stage.render_plan(p))
        return
    doc, where = _scored(ctx, cfg, preds, run, split, out, records, compare, force)
    if as_json:
        emit_json(doc)
    else:
        print_table(doc, where)


def _check_mode(preds: Optional[Path], run: Optional[str], split: Optional[str], out: Optional[Path],
                compare: Optional[Path]) -> None:
    """One line for options of the other mode (file: PREDS.jsonl; workspace: --run/--split)."""
    from cxrgen.errors import ConfigError
    if preds is not None and run is not None:
        raise ConfigError("give either PREDS.jsonl or --run/--split, not both")
    if preds is None and run is None:
        raise ConfigError("nothing to score: give PREDS.jsonl or --run NAME [--split test]")
    if preds is not None and split is not None:
        raise ConfigError("--split belongs to workspace mode (--run); a preds file is scored as a whole")
    if run is not None and (out is not None or compare is not None):
        raise ConfigError("--out and --compare work on preds files; in workspace mode scores go to score/<run>/<split>/")


def _plan(ctx: typer.Context, cfg, preds: Optional[Path], run: Optional[str], split: Optional[str],
          out: Optional[Path], records: Optional[Path], compare: Optional[Path], force: bool) -> dict:
    """The --dry-run plan of either mode; nothing is scored or written."""
    from cxrgen.stages import score as stage
    _check_mode(preds, run, split, out, compare)
    if preds is not None:
        return stage.plan_file(cfg, preds, out=out, records=records, compare=compare)
    return stage.plan(cfg, workspace(ctx), run_name=run, split=split or "test", force=force, records=records)


def _scored(ctx: typer.Context, cfg, preds: Optional[Path], run: Optional[str], split: Optional[str],
            out: Optional[Path], records: Optional[Path], compare: Optional[Path], force: bool) -> tuple[dict, Optional[str]]:
    """Score a preds file (file mode) or a workspace run; returns scores.json's content and where it was written."""
    import json

    from cxrgen.stages import score as stage
    _check_mode(preds, run, split, out, compare)
    if preds is not None:
        doc = stage.score_file(cfg, preds, out=out, records=records, compare=compare)
        where = f"{out}" if out else None
    else:
        ws = workspace(ctx)
        stage.run(cfg, ws=ws, run_name=run, split=split or "test", force=force, records=records)
        folder = ws.artifact_dir("score", run, split or "test")
        doc = json.loads((folder / "scores.json").read_text(encoding="utf-8"))
        where = str(folder)
    return doc, where


def ce_setting(key: str, ce: dict) -> str:
    """'ref=labeler unc=pos' for a CE metric key (its reference source and uncertain convention), '' otherwise."""
    if not key.startswith("ce_"):
        return ""
    ref = key.partition("@")[2] or ce["headline"]["reference"]
    return f"{ref} unc={ce['headline']['uncertain']}"


def print_table(doc: dict, where: Optional[str]) -> None:
    from rich.table import Table

    from cxrgen.cli.common import console, print_table
    c = console()
    cmp = doc.get("compare")
    t = Table(title=f"{doc['counts']['reports']} reports", title_justify="left")
    t.add_column("metric", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("95% CI", justify="right", no_wrap=True)
    ce = doc.get("ce") or {}
    if ce:
        t.add_column("CE setting", overflow="fold")  # "labeler unc=pos" may wrap; numbers may not
    if cmp:
        t.add_column("other", justify="right", no_wrap=True)
        t.add_column("Δ", justify="right", no_wrap=True)
        t.add_column("p (boot / AR)", justify="right", no_wrap=True)
    for k, v in doc["metrics"].items():
        if k.startswith("ce_") and not k.partition("@")[0].split("_")[-2] == "f1":
            continue  # precision/recall are in scores.json / --json
        ci = doc.get("ci95", {}).get(k)
        row = [k, f"{v:.4f}", f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "–"]
        if ce:
            row.append(ce_setting(k, ce))
        if cmp:
            o = cmp["other_metrics"].get(k)
            pb = cmp["paired_bootstrap"]["results"].get(k, {})
            ar = cmp["randomization"]["results"].get(k, {})
            row += [f"{o:.4f}" if o is not None else "–", f"{cmp['delta'].get(k, 0):+.4f}",
                    f"{pb.get('p', float('nan')):.3f} / {ar.get('p', float('nan')):.4f}"]
        t.add_row(*row)
    print_table(t, c)
    s = doc["settings"]
    c.print(f"convention={s.get('convention', 'coco')} tokenize={s['tokenize']} uncertain={s['uncertain']} "
            f"bootstrap={s['bootstrap']} seed={s['seed']}; reference labels: {s['reference_labels']}")
    if ce:
        c.print(f"CE labeler: {ce['headline']['labeler']}")
    tr = s.get("truncate_references") or {}
    if tr.get("tokens"):
        c.print(f"references cut to {tr['tokens']} tokens of {tr['tokenizer']}: {tr['truncated']} truncated")
    if doc["counts"].get("dropped_by_convention"):
        c.print(f"{doc['counts']['dropped_by_convention']} reports dropped by the {s['convention']} convention")
    ea = doc.get("error_analysis") or {}
    if "copying" in ea:
        pri, cop = ea["hallucinated_priors"], ea["copying"]
        rate = "n/a" if pri["rate"] is None else f"{pri['rate']:.1%}"
        c.print(f"error analysis: prior references without a prior {rate} ({pri['hallucinated']}/{pri['without_prior']}); "
                f"identical to a training report {cop['identical_share']:.1%}; {cop['distinct_predictions']} distinct "
                f"reports; nearest-training BLEU-4 median {cop['nearest_train_bleu4']['quantiles']['p50']:.3f}")
    if where:
        c.print(f"wrote {where}/scores.json and per_sample.jsonl")
