"""`cxrgen generate`: write preds.jsonl for one split with a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cxrgen.cli.common import build_config, console, emit_json, workspace


def generate(
    ctx: typer.Context,
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides (e.g. max_new_tokens=120)",
                                                    show_default=False),
    run: Optional[str] = typer.Option(None, "--run", "--run-name", help="training run (default: the latest finished run; under torchrun write --run-name, since torchrun mistakes --run for its --run-path)"),
    split: Optional[str] = typer.Option(None, "--split", help="train, val or test (default: test)"),
    checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="final, best (train select=val:...), latest or step-NNNNNN"),
    beams: Optional[int] = typer.Option(None, "--beams", help="beam width (1: greedy)"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="maximum generated tokens"),
    min_new_tokens: Optional[int] = typer.Option(None, "--min-new-tokens", help="minimum generated tokens"),
    repetition_penalty: Optional[float] = typer.Option(None, "--repetition-penalty", help="R2GenGPT: 2.0"),
    length_penalty: Optional[float] = typer.Option(None, "--length-penalty", help="beam length penalty (R2GenGPT: 2.0)"),
    shuffle_features: Optional[bool] = typer.Option(None, "--shuffle-features/--no-shuffle-features",
                                                    help="control: each study gets another study's features"),
    limit: Optional[int] = typer.Option(None, "--limit", help="only the first N records of the split"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="studies per batch"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with GenerateConfig keys"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:N or auto (default)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print what would be generated"),
    json_out: bool = typer.Option(False, "--json", help="print the plan (--dry-run) or the manifest as JSON"),
    force: bool = typer.Option(False, "--force", help="regenerate even if up to date"),
    images: Optional[List[str]] = typer.Option(None, "--images", help="new image files (DICOM/PNG/JPEG) never prepared: "
                                               "a report per study, printed (--images a.dcm b.jpg …)"),
    images_dir: Optional[Path] = typer.Option(None, "--images-dir", help="every image file under this folder, as with --images"),
    views: Optional[str] = typer.Option(None, "--views", help="with --images: views by position in a study when a file has "
                                        "no DICOM ViewPosition (default frontal,lateral)"),
    study_by: Optional[str] = typer.Option(None, "--study-by", help="with --images: folder (one study per folder, default) | file"),
    encoder_weights: Optional[str] = typer.Option(None, "--encoder-weights", help="with --images: encoder weights "
                                                  "(default: those recorded in the run's embed manifest)"),
) -> None:
    """Generate reports for a split: batched greedy/beam search with the KV cache; resumable.

    Runs unchanged under `torchrun --nproc_per_node N` (shards by rank, rank 0 merges).

    Example: cxrgen generate --run prefix-gpt2-mimic --split test --beams 3

    Example: cxrgen generate --shuffle-features   (control: mismatched image features)

    Example: cxrgen generate --run prefix-gpt2-mimic --images a.dcm b.jpg --study-by file --json
    """
    from cxrgen.config.schema import GenerateConfig
    if images or images_dir:  # new images: files after --images arrive among the positional arguments
        files = list(images or []) + [o for o in overrides or [] if "=" not in o]
        overrides = [o for o in overrides or [] if "=" in o]
    cfg = build_config(GenerateConfig, config, overrides, run=run, split=split, checkpoint=checkpoint, beams=beams,
                       max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                       repetition_penalty=repetition_penalty, length_penalty=length_penalty,
                       shuffle_features=shuffle_features, limit=limit, batch_size=batch_size, device=device)
    if images or images_dir:
        from cxrgen.cli.common import csv_list
        return _new_images(ctx, cfg, files, images_dir, csv_list(views) or ("frontal", "lateral"),
                           study_by or "folder", encoder_weights or "", json_out)
    from cxrgen.stages import generate as stage
    res = stage.run(cfg, ws=workspace(ctx), force=force, dry_run=dry_run)
    if json_out and not dry_run and res is not None:
        import dataclasses
        emit_json(dataclasses.asdict(res))
        return
    if dry_run:
        if json_out:
            emit_json(res)
        else:
            console().print(f"would generate {res['records']} reports for {res['run']}/{res['split']} "
                            f"with {res['checkpoint']} ({res['decoding']})")


def _new_images(ctx: typer.Context, cfg, files: list[str], images_dir: Optional[Path], views: tuple, study_by: str,
                encoder_weights: str, json_out: bool) -> None:
    """Reports for images never prepared (cxrgen.stages.generate_images); stdout only, nothing written."""
    import json

    from cxrgen.stages import generate_images as stage
    rows = stage.run(cfg, ws=workspace(ctx), images=files, images_dir=str(images_dir) if images_dir else None,
                     views=views, study_by=study_by, encoder_weights=encoder_weights)
    for r in rows:
        if json_out:
            typer.echo(json.dumps(r, ensure_ascii=False))
        elif r.get("skipped"):
            typer.echo(f"{r['id']} skipped: {r['skipped']}")
        else:
            skipped = f"  (left out: {', '.join(r['left_out'])})" if r["left_out"] else ""
            typer.echo(f"{r['id']} [{', '.join(r['views'])}]{skipped}\n  {r['prediction']}")
