"""`cxrgen train`: train a recipe (--mode) on a prepared + embedded data set."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cxrgen.cli.common import build_config, console, emit_json, print_table, workspace


def train(
    ctx: typer.Context,
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value config overrides (e.g. optim.lr=1e-4)",
                                                    show_default=False),
    mode: Optional[str] = typer.Option(None, "--mode", help="training recipe: prefix, finetune, … (`cxrgen list modes`)"),
    llm: Optional[str] = typer.Option(None, "--llm", help="LLM alias, Hugging Face id or local dir (`cxrgen list llms`)"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (cxrgen/presets/*.yaml)"),
    run: Optional[str] = typer.Option(None, "--run", "--run-name", help="run name (default: <mode>-<llm>-<dataset>; under torchrun write --run-name, since torchrun mistakes --run for its --run-path)"),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="prepared data set (default: synthetic)"),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="embed artifact to read (default: the recipe's)"),
    llm_weights: Optional[str] = typer.Option(None, "--llm-weights", help="local folder with the LLM's weights"),
    encoder_weights: Optional[str] = typer.Option(None, "--encoder-weights",
                                                  help="delta/deep: weights of the Swin run on the fly (HF id, folder or file)"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:N or auto (default)"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="micro-batch per process (optim.batch_size)"),
    workers: Optional[int] = typer.Option(None, "--workers", help="DataLoader workers (default 0)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for init, data order and dropout"),
    resume: str = typer.Option("auto", "--resume", help="auto (continue a partial run), never, or a checkpoint folder"),
    resume_from_other: bool = typer.Option(False, "--resume-from-other",
                                           help="allow --resume FOLDER to be another run's checkpoint (recorded in the manifest)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print parameters and memory estimate; train nothing"),
    json_out: bool = typer.Option(False, "--json", help="print the plan (--dry-run) or the manifest as JSON"),
    force: bool = typer.Option(False, "--force", help="retrain even if the run is up to date"),
) -> None:
    """Train a report generator: image features → mapper → LLM.

    Runs unchanged under `torchrun --nproc_per_node N` and `accelerate launch` (DDP).
    Resumes a killed run exactly with --resume auto (the default).

    Example: cxrgen train --mode prefix --llm gpt2 --config cxrgen/presets/prefix-gpt2.yaml

    Example: cxrgen train --mode prefix --llm qwen1.5-0.5b --dry-run --json
    """
    from cxrgen.config.schema import TrainConfig
    cfg = build_config(TrainConfig, config, overrides, mode=mode, llm=llm, run=run, dataset=dataset,
                       encoder=encoder, llm_weights=llm_weights, encoder_weights=encoder_weights, seed=seed, device=device,
                       workers=workers, optim={"batch_size": batch_size} if batch_size is not None else None)
    from cxrgen.stages import train as stage
    ws = workspace(ctx)
    res = stage.run(cfg, ws=ws, force=force, dry_run=dry_run, resume=resume, resume_from_other=resume_from_other)
    if json_out and not dry_run and res is not None:
        import dataclasses
        emit_json(dataclasses.asdict(res))
        return
    if dry_run:
        if json_out:
            emit_json(res)
        else:
            _print_dry_run(res)


def _print_dry_run(r: dict) -> None:
    from rich.table import Table
    t = Table(title=f"cxrgen train --mode {r['mode']} --llm {r['llm']} (dry run: nothing trained)")
    t.add_column("component", no_wrap=True)
    t.add_column("parameters", justify="right", no_wrap=True)
    t.add_column("trainable", justify="right", no_wrap=True)
    for name, c in r["components"].items():
        t.add_row(name, f"{c['params']:,}", f"{c['trainable']:,}")
    t.add_row("[bold]total", f"[bold]{r['total_params']:,}", f"[bold]{r['trainable_params']:,}")
    c = console()
    print_table(t, c)
    mem = r["memory_gib"]
    c.print(f"estimated GPU memory: training ≈ {mem['train']} GiB, inference ≈ {mem['inference']} GiB "
            f"({mem['assumptions']})")
    c.print(f"run: train/{r['run']}  reads: {r['reads']}")
