"""The report page's per-finding table (P/R/F1, intervals, confusions) and loss curves, on hand-made inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxrgen.report.findings import confusions, finding_table
from cxrgen.report.media import loss_svg, read_curves

CLASSES = ["Edema", "Pleural Effusion", "Pneumothorax"]


def test_confusions_name_what_was_said_instead_and_what_the_reference_had():
    ref = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]])
    hyp = np.array([[0, 1, 0], [0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0]])
    # Edema: missed in rows 0 and 1 (both said Pleural Effusion instead); claimed wrongly in row 3 (ref had Pneumothorax)
    assert confusions(ref, hyp, CLASSES, 0) == {"missed": 2, "false": 1, "missed_instead": ("Pleural Effusion", 2),
                                                "false_reference_had": ("Pneumothorax", 1)}
    # Pleural Effusion: never missed; claimed wrongly in rows 0 and 1, whose references held Edema
    assert confusions(ref, hyp, CLASSES, 1) == {"missed": 0, "false": 2, "missed_instead": None,
                                                "false_reference_had": ("Edema", 2)}
    # Pneumothorax: missed in row 3, where the generated report said Edema
    assert confusions(ref, hyp, CLASSES, 2)["missed_instead"] == ("Edema", 1)


def _rows():
    return [{"reference_labels": {"Edema": 1}, "labels": {"Edema": 1}},
            {"reference_labels": {"Edema": 1}, "labels": {"Pleural Effusion": 1}},
            {"reference_labels": {"Edema": -1}, "labels": {"Edema": 0}},
            {"reference_labels": {}, "labels": {"Edema": 1}}]


def test_finding_table_exact_counts_and_intervals():
    rows = finding_table(_rows(), CLASSES, uncertain="pos", n_boot=0, seed=0)
    edema = rows[0]
    # uncertain counted as positive: references 1, 1, -1→1, blank → support 3; generated 1, -, 0, 1 → predicted 2
    assert (edema["support"], edema["predicted"]) == (3, 2)
    assert edema["precision"] == pytest.approx(1 / 2) and edema["recall"] == pytest.approx(1 / 3)
    assert edema["f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    assert edema["precision_ci"] is None and edema["missed"] == 2 and edema["missed_instead"] == ("Pleural Effusion", 1)
    neg = finding_table(_rows(), CLASSES, uncertain="neg", n_boot=0, seed=0)[0]
    assert (neg["support"], neg["predicted"]) == (2, 2)          # uncertain counted as negative
    boot = finding_table(_rows(), CLASSES, uncertain="pos", n_boot=200, seed=0)[0]
    assert boot["f1"] == edema["f1"]
    lo, hi = boot["f1_ci"]
    assert 0.0 <= lo <= boot["f1"] <= hi <= 1.0 and hi > lo
    assert finding_table(_rows(), CLASSES, uncertain="pos", n_boot=200, seed=0) == \
        finding_table(_rows(), CLASSES, uncertain="pos", n_boot=200, seed=0)      # seeded: the same page twice


def test_loss_curves_read_metrics_jsonl_and_draw_both(tmp_path):
    m = tmp_path / "metrics.jsonl"
    lines = [{"step": 10, "loss": 3.0}, {"step": 20, "loss": 2.0, "val_loss": 2.5}, {"step": 30, "loss": 1.5}]
    m.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"step": 40, "lo', encoding="utf-8")  # torn last line
    curves = read_curves(m)
    assert curves == {"train": [(10, 3.0), (20, 2.0), (30, 1.5)], "val": [(20, 2.5)]}
    svg = loss_svg(curves, "prefix run")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    # text is drawn as paths (svg.fonttype=path): two lines (train, val) plus glyphs; the same bytes every time
    assert svg.count("<path") > 10 and loss_svg(curves, "prefix run") == svg
    assert loss_svg({"train": curves["train"], "val": []}, "prefix run") != svg   # the val line is drawn
    assert loss_svg(read_curves(tmp_path / "missing.jsonl"), "x") == ""
