"""Pictures embedded in the report page: X-ray thumbnails and loss curves, as data: URIs / inline SVG.

Thumbnails are read with :func:`cxrgen.data.images.read_xray`, the reader ``embed`` uses (DICOM
Modality LUT, VOI window, MONOCHROME1 inversion), then downscaled with Pillow and stored as JPEG.
Loss curves are drawn with matplotlib (Agg backend, no fonts or files fetched) into inline SVG.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from cxrgen.errors import DependencyError, InputError


def thumbnail(path: str | Path, size: int) -> str:
    """The image at ``path`` as a ``data:image/jpeg;base64,…`` URI, longest side ``size`` px.

    Raises InputError (one line naming the file) when the image cannot be read.
    """
    import numpy as np
    from PIL import Image

    from cxrgen.data.images import read_xray
    arr = read_xray(path)
    im = Image.fromarray(np.round(arr * 255.0).astype(np.uint8), mode="L")
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def read_curves(metrics_jsonl: Path) -> dict[str, list[tuple[float, float]]]:
    """``train/<run>/metrics.jsonl`` → {"train": [(step, loss)], "val": [(step, val_loss)]}; torn lines skipped."""
    curves: dict[str, list[tuple[float, float]]] = {"train": [], "val": []}
    if not metrics_jsonl.is_file():
        return curves
    for line in metrics_jsonl.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill during training
        if "step" not in row:
            continue
        if isinstance(row.get("loss"), (int, float)):
            curves["train"].append((row["step"], row["loss"]))
        if isinstance(row.get("val_loss"), (int, float)):
            curves["val"].append((row["step"], row["val_loss"]))
    return curves


def loss_svg(curves: dict[str, list[tuple[float, float]]], title: str) -> str:
    """Training and validation loss against optimizer step as an inline ``<svg>`` element ('' if no points)."""
    if not any(curves.values()):
        return ""
    try:
        import matplotlib
    except ImportError:
        raise DependencyError("matplotlib is missing (the report's loss curves need it): pip install matplotlib") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    with matplotlib.rc_context({"svg.hashsalt": "cxrgen", "svg.fonttype": "path", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(6.0, 2.8))
        for name, style in (("train", "-"), ("val", "o-")):
            pts = curves.get(name) or []
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{name} loss", markersize=3)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss (token cross-entropy)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def safe_thumbnail(path: str | Path, size: int) -> tuple[str, str]:
    """(data URI, '') or ('', one-line reason): an unreadable image must not stop the page."""
    try:
        return thumbnail(path, size), ""
    except InputError as e:
        return "", str(e)
