"""Synthetic CXR data: determinism, visible findings, labels ↔ report text, DICOM variants, the CLI."""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cxrgen.data import synthetic as S
from cxrgen.data.records import CHEXPERT14


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    S.generate(tmp_path / "a", 24, 3, "mimic", 256)
    S.generate(tmp_path / "b", 24, 3, "mimic", 256)
    S.generate(tmp_path / "c", 24, 4, "mimic", 256)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b and len(a) > 24 + 24 + 4
    assert (tmp_path / "a/ground_truth.jsonl").read_bytes() != (tmp_path / "c/ground_truth.jsonl").read_bytes()


@pytest.mark.e2e
def test_worker_processes_do_not_change_the_bytes(tmp_path):
    S.generate(tmp_path / "one", 200, 0, "iu", 256, workers=1)
    S.generate(tmp_path / "two", 200, 0, "iu", 256, workers=2)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


@pytest.mark.parametrize("finding,min_area", [
    ({"cardiomegaly": True}, 0.03), ({"effusion": "left", "effusion_size": "moderate"}, 0.02),
    ({"effusion": "bilateral", "effusion_size": "large"}, 0.06), ({"pneumothorax": "right"}, 0.02),
    ({"consolidation": ("left", "lower")}, 0.01), ({"nodules": [("right", 0.35, 0.0)]}, 0.003),
    ({"devices": ("ett", "cvc")}, 0.004), ({"devices": ("pacemaker",)}, 0.006)])
@pytest.mark.parametrize("view", ["PA", "LATERAL"])
def test_each_finding_changes_a_large_area_with_high_contrast(finding, min_area, view):
    if view == "LATERAL" and "cvc" in finding.get("devices", ()):
        finding = {"devices": ("ett",)}
    draw = (lambda f, rng: S.draw_lateral(f, rng, 320)) if view == "LATERAL" else \
        (lambda f, rng: S.draw_frontal(f, rng, 320, view))
    for seed in range(3):
        base = draw(S.Findings(), np.random.default_rng(seed)).astype(int)
        again = draw(S.Findings(), np.random.default_rng(seed)).astype(int)
        sick = draw(S.Findings(**finding), np.random.default_rng(seed)).astype(int)
        assert np.array_equal(base, again)
        changed = (np.abs(sick - base) > 60).mean()  # more than global gamma/noise differences
        assert changed > min_area * (0.3 if view == "LATERAL" else 1), (finding, view, changed)


def _positive(sentences, pattern):
    return any(re.search(pattern, x.lower()) and not re.match(r"(no|there is no)\b", x.lower()) for x in sentences)


def test_labels_follow_the_report_sentences():
    rng = np.random.default_rng(0)
    seen = {c: set() for c in CHEXPERT14}
    for k in range(400):
        f = S.draw_findings(rng)
        lab = S.labels_of(f)
        find, imp = S.report_sentences(f, np.random.default_rng(k))
        assert list(lab) == list(CHEXPERT14)
        for c, v in lab.items():
            seen[c].add(v)
        assert (lab["Cardiomegaly"] == 1) == _positive(find, r"enlarged|cardiomegaly")
        assert lab["Cardiomegaly"] == 1 or _positive(find, r"normal in size|heart size is normal")
        assert (lab["Pleural Effusion"] == 1) == _positive(find, r"effusion")
        assert (lab["Pneumothorax"] == 1) == _positive(find, r"pneumothorax")
        assert (lab["Consolidation"] == 1) == (lab["Lung Opacity"] == 1) == _positive(find, r"consolidation")
        assert (lab["Lung Lesion"] == 1) == _positive(find, r"nodule")
        assert (lab["Support Devices"] == 1) == _positive(find, r"tube|catheter|central line|pacemaker")
        assert (lab["Atelectasis"] == -1) == _positive(find, r"atelectasis")
        assert (lab["Pneumonia"] == -1) == _positive(find, r"pneumonia")
        healthy = imp[0].startswith("No acute") or (len(imp) == 1 and lab["Support Devices"] == 1)
        assert (lab["No Finding"] == 1) == (healthy and lab["Atelectasis"] is None and lab["Pneumonia"] is None)
    # positive, negative and uncertain mentions all occur
    assert {1, 0} <= seen["Pleural Effusion"] and -1 in seen["Atelectasis"] and -1 in seen["Pneumonia"]


def test_prevalence_of_the_drawn_findings():
    rng = np.random.default_rng(1)
    labs = [S.labels_of(S.draw_findings(rng)) for _ in range(2000)]
    for c in ("Cardiomegaly", "Pleural Effusion", "Pneumothorax", "Consolidation", "Lung Lesion", "Support Devices"):
        rate = np.mean([lab[c] == 1 for lab in labs])
        assert 0.17 < rate < 0.4, (c, rate)
    assert 0.1 < np.mean([lab["No Finding"] == 1 for lab in labs]) < 0.35


def test_dicom_files_include_monochrome1_and_12_bit(tmp_path):
    import pydicom
    S.generate(tmp_path / "d", 80, 0, "mimic", 256)
    kinds = set()
    for p in sorted((tmp_path / "d").rglob("*.dcm")):
        ds = pydicom.dcmread(p)
        a = ds.pixel_array.astype(float)
        top = (1 << ds.BitsStored) - 1
        if ds.PhotometricInterpretation == "MONOCHROME1":
            a = top - a
        kinds.add((ds.PhotometricInterpretation, ds.BitsAllocated, ds.BitsStored))
        assert a.shape == (256, 256) and a.max() <= top
        assert a[:8, :8].mean() < 0.12 * top < 0.3 * top < a[:, 120:136].mean()  # dark corner, bright spine
    assert kinds == {("MONOCHROME2", 8, 8), ("MONOCHROME1", 16, 12), ("MONOCHROME2", 16, 12)}


def _records(ws, name="synthetic"):
    return [json.loads(x) for x in (ws / "prepare" / name / "records.jsonl").read_text().splitlines()]


def test_prepare_synthetic_mimic_layout(cli, ws):
    r = cli("prepare", "synthetic", "--n", "40", "--seed", "2")
    assert r.code == 0, r.err
    root = ws / "data" / "synthetic"
    truth = {json.loads(x)["study_id"]: json.loads(x) for x in (root / "ground_truth.jsonl").read_text().splitlines()}
    recs = _records(ws)
    stats = json.loads((ws / "prepare/synthetic/stats.json").read_text())
    assert len(recs) + sum(stats["dropped"].values()) == 40
    assert len(recs) >= 36
    for rec in recs:
        assert rec["labels"] == truth[rec["id"]]["labels"] and list(rec["labels"]) == list(CHEXPERT14)
        assert [i["view"] for i in rec["images"]] in (["AP"], ["PA"])
        assert (root / rec["images"][0]["path"]).is_file()
        assert rec["split"] == truth[rec["id"]]["split"]
    m = json.loads((ws / "prepare/synthetic/manifest.json").read_text())
    assert m["extra"]["root"] == str(root)
    stamp = (root / "synthetic.json").stat().st_mtime_ns
    assert cli("prepare", "synthetic", "--n", "40", "--seed", "2").code == 0  # reused, not regenerated
    assert (root / "synthetic.json").stat().st_mtime_ns == stamp
    assert json.loads((ws / "prepare/synthetic/manifest.json").read_text())["finished"] == m["finished"]


def test_prepare_synthetic_iu_layout(cli, ws, tmp_path):
    r = cli("prepare", "synthetic", "--n", "30", "--layout", "iu", "--root", tmp_path / "iu", "--name", "syn-iu",
            "--views", "all")
    assert r.code == 0, r.err
    recs = _records(ws, "syn-iu")
    assert recs and all(x["id"].startswith("CXR") for x in recs)
    assert {i["view"] for x in recs for i in x["images"]} == {"FRONTAL", "LATERAL"}
    assert all((tmp_path / "iu" / "images" / i["path"]).is_file() for x in recs for i in x["images"])
    assert all(x["labels"]["Cardiomegaly"] in (0, 1) for x in recs)
    assert {x["split"] for x in recs} == {"train", "val", "test"}


def test_dry_run_writes_nothing_and_foreign_root_is_refused(cli, ws, tmp_path):
    r = cli("prepare", "synthetic", "--n", "20", "--dry-run")
    assert r.code == 0 and "would write 20 synthetic studies" in r.out
    assert not (ws / "data").exists() and not (ws / "prepare").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("keep me")
    r = cli("prepare", "synthetic", "--n", "20", "--root", tmp_path / "mine")
    assert r.code == 3 and "not empty and not written by cxrgen" in r.err
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "keep me"


def test_images_beside_the_reports_never_make_the_records_stale(cli, ws):
    assert cli("prepare", "synthetic", "--n", "12").code == 0
    root = ws / "data" / "synthetic"
    img = sorted(root.rglob("*.jpg"))[0]
    img.write_bytes(img.read_bytes()[:100])  # the embed stage reports broken images, not prepare
    assert json.loads(cli("status", "--json").out)["artifacts"][0]["state"] == "up-to-date"
    rep = sorted(root.rglob("*.txt"))[0]
    rep.write_text(rep.read_text() + " \n")
    st = json.loads(cli("status", "--json").out)["artifacts"][0]
    assert st["state"] == "stale" and st["reason"] == f"input {root / 'files'} changed"


def test_a_marker_without_a_file_list_is_reused_but_never_deleted(cli, ws, tmp_path):
    root = tmp_path / "old"
    assert cli("prepare", "synthetic", "--n", "5", "--root", root, "--name", "old").code == 0
    doc = json.loads((root / "synthetic.json").read_text())
    (root / "synthetic.json").write_text(json.dumps(doc["params"]))  # the format before file lists
    assert cli("prepare", "synthetic", "--n", "5", "--root", root, "--name", "old").code == 0  # same params: reused
    assert json.loads((root / "synthetic.json").read_text()) == doc["params"]
    r = cli("prepare", "synthetic", "--n", "6", "--root", root, "--name", "old")
    assert r.code == 3 and f"{root}: not empty and not written by cxrgen (no valid synthetic.json)" in r.err
    assert (root / "ground_truth.jsonl").is_file()
