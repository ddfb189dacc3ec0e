"""`cxrgen embed`: cache image features of a prepared data set (thin: options → config → stage)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def embed(
    ctx: typer.Context,
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value config overrides (e.g. shard_size=512)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Prepared data set (default: synthetic)."),
    encoder: Optional[str] = typer.Option(None, "--encoder", "-e", help="Encoder name (`cxrgen list encoders`)."),
    encoder_weights: Optional[str] = typer.Option(None, "--encoder-weights", help="Encoder weights: Hugging Face id, local folder or file."),
    allow_random_weights: Optional[bool] = typer.Option(None, "--allow-random-weights",
                                                        help="Let a real encoder without --encoder-weights run on random weights."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Storage dtype: float16 (default) or float32."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per forward pass (default 32)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="DataLoader workers decoding images (default 2)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:N or auto (default)."),
    on_error: Optional[str] = typer.Option(None, "--on-error",
                                           help="Unreadable image: fail (default) or skip (counted, listed in the manifest)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML file with embed settings."),
    force: bool = typer.Option(False, "--force", help="Recompute even if up to date; discard a partial run."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print encoder, parameters, output shape, cache size and plan."),
    json_out: bool = typer.Option(False, "--json", help="Print the plan (--dry-run) or the manifest as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Fail (write nothing) when more than half of the images are skipped as unreadable."),
) -> None:
    """Embed every image of a prepared data set into embed/<dataset>/<encoder>/features.h5.

    Resumable (re-run the same command after a crash) and sharded across ranks under torchrun.

    Example: cxrgen embed --dataset synthetic --encoder tiny-medclip-vit

    Example: cxrgen embed --dataset mimic --encoder medclip-vit --encoder-weights ~/MedCLIP-ViT/pytorch_model.bin
    """
    from cxrgen.cli.common import build_config, workspace
    from cxrgen.config.schema import EmbedConfig
    from cxrgen.stages import embed as stage

    cfg = build_config(EmbedConfig, config, overrides, dataset=dataset, encoder=encoder, encoder_weights=encoder_weights,
                       allow_random_weights=allow_random_weights,
                       dtype=dtype, batch_size=batch_size, workers=workers, device=device, on_error=on_error)
    ws = workspace(ctx)
    m = stage.run(cfg, ws=ws, force=force, dry_run=dry_run, strict=strict)
    if dry_run or (json_out and m is not None):
        from cxrgen.cli.common import emit_json
        if json_out:
            import dataclasses
            emit_json(m if dry_run else dataclasses.asdict(m))
        else:
            typer.echo(stage.render_plan(m))
        return
    if m is not None:
        from cxrgen.utils import dist
        if dist.is_main():
            c = m.counts
            typer.echo(f"embed/{cfg.dataset}/{cfg.encoder}: {c.get('embedded')} of {c.get('images')} images"
                       f"{', ' + str(c['skipped']) + ' skipped' if c.get('skipped') else ''} → "
                       f"{ws.features_path(cfg.dataset, cfg.encoder)}")
