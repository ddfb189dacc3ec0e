"""One module per stage; each exposes ``run(cfg, *, ws, force=False, ...) -> Manifest``."""
