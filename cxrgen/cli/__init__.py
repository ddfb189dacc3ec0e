"""The command line: typer only. No torch/transformers/h5py/timm import at module level."""
