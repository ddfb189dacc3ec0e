"""MIMIC StudyDate/StudyTime reach the records, so score knows which studies have a prior."""

from __future__ import annotations

import gzip
import json

from cxrgen.metrics.errors import study_has_prior
from tests.conftest import run_cli
from tests.test_prepare_mimic import make_tree

WHEN = {"50000001": ("21800506", "213428.0"), "50000002": ("21800506", "91019"), "50000005": ("21500101", "1200")}


def test_study_dates_order_a_patients_studies(tmp_path):
    root = make_tree(tmp_path / "mimic")
    meta = root / "mimic-cxr-2.0.0-metadata.csv.gz"
    lines = gzip.open(meta, "rt").read().splitlines()
    rows = [lines[0] + ",StudyDate,StudyTime"]
    for line in lines[1:]:
        study = line.split(",")[2]
        rows.append(line + ",%s,%s" % WHEN.get(study, ("", "")))
    with gzip.open(meta, "wt") as f:
        f.write("\n".join(rows) + "\n")
    ws = tmp_path / "ws"
    r = run_cli("prepare", "mimic", "--root", str(root), workspace=ws)
    assert r.code == 0, r.err
    recs = [json.loads(x) for x in (ws / "prepare" / "mimic" / "records.jsonl").read_text().splitlines()]
    dates = {x["id"]: x["extra"].get("study_date") for x in recs}
    # 9:10:19 sorts before 21:34:28 on the same day although "91019" > "213428" as text
    # 50000002 (impression only) is dropped by prepare, yet it is 50000001's prior: 9:10:19 sorts before
    # 21:34:28 on the same day although "91019" > "213428" as text
    assert dates == {"50000001": "21800506213428.000000", "50000005": "21500101001200.000000"}
    assert {x["id"]: x["extra"]["earlier_studies"] for x in recs} == {"50000001": 1, "50000005": 0}
    assert study_has_prior(recs) == {"50000001": True, "50000005": False}
