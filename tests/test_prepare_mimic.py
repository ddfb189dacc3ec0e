"""`cxrgen prepare mimic` on small hand-built MIMIC-CXR-JPG trees (reports as a folder or the zip)."""

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from cxrgen.data.records import CHEXPERT14

REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)
 
 INDICATION:  ___F with cough
 
 COMPARISON:  ___.
 
 FINDINGS: 
 
 1. Small left pleural effusion.  2. No pneumothorax.
 
 IMPRESSION: 
 
 Small left effusion.
"""
IMPRESSION_ONLY = " INDICATION:  fever\n \n IMPRESSION:  No acute process.\n"
NO_HEADERS = "  FINAL REPORT\n EXAMINATION:  CHEST\n \n Portable AP view.\n \n Lungs are clear.\n"

# study → (subject, [(dicom, view, split)], report text or None)
STUDIES = {
    "50000001": ("10000032", [("d1-pa", "PA", "train"), ("d1-lat", "LATERAL", "train")], REPORT),
    "50000002": ("10000032", [("d2-ap", "AP", "validate")], IMPRESSION_ONLY),
    "50000003": ("11000001", [("d3-lat", "LATERAL", "test")], REPORT),
    "50000004": ("11000001", [("d4-pa", "PA", "test")], None),
    "50000005": ("12000005", [("d5-ap", "AP", "train")], NO_HEADERS),
}


def _gz(path: Path, header: list[str], rows: list[list]) -> None:
    with gzip.open(path, "wt", newline="") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(map(str, r)) + "\n")


def make_tree(root: Path, studies=STUDIES, reports_dir: Path | None = None, meta_extra=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    meta, split = [], []
    for study, (subject, images, _) in studies.items():
        for dicom, view, sp in images:
            meta.append([dicom, subject, study, "CHEST", view, 3056, 2544])
            split.append([dicom, study, subject, sp])
    _gz(root / "mimic-cxr-2.0.0-metadata.csv.gz", ["dicom_id", "subject_id", "study_id",
        "PerformedProcedureStepDescription", "ViewPosition", "Rows", "Columns"], meta + (meta_extra or []))
    _gz(root / "mimic-cxr-2.0.0-split.csv.gz", ["dicom_id", "study_id", "subject_id", "split"], split)
    labels = {c: "" for c in CHEXPERT14}
    labels.update({"Pleural Effusion": "1.0", "Pneumothorax": "0.0", "Atelectasis": "-1.0"})
    _gz(root / "mimic-cxr-2.0.0-chexpert.csv.gz", ["subject_id", "study_id"] + list(CHEXPERT14),
        [["10000032", "50000001"] + [labels[c] for c in CHEXPERT14]])
    base = (reports_dir or root) / "files"
    for study, (subject, _, text) in studies.items():
        if text is not None:
            p = base / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
    return root


def _records(ws, name="mimic"):
    return [json.loads(line) for line in (ws / "prepare" / name / "records.jsonl").read_text().splitlines()]


def test_prepare_mimic_records_and_drop_reasons(cli, ws, tmp_path):
    root = make_tree(tmp_path / "mimic")
    r = cli("prepare", "mimic", "--root", root)
    assert r.code == 0, r.err
    recs = _records(ws)
    assert [x["id"] for x in recs] == ["50000001", "50000005"]
    a, b = recs
    assert a["patient_id"] == "10000032" and a["split"] == "train"
    assert a["images"] == [{"path": "files/p10/p10000032/s50000001/d1-pa.jpg", "view": "PA", "image_id": "d1-pa"}]
    assert a["findings"] == "1. Small left pleural effusion. 2. No pneumothorax."  # as written, whitespace collapsed
    assert a["report"] == "small left pleural effusion . no pneumothorax ."  # R2Gen MIMIC cleaning
    assert a["impression"] == "Small left effusion." and a["indication"] == "___F with cough"
    assert a["labels"] == {c: {"Pleural Effusion": 1, "Pneumothorax": 0, "Atelectasis": -1}.get(c) for c in CHEXPERT14}
    assert list(a["labels"]) == list(CHEXPERT14)
    assert a["source"] == {"dataset": "mimic", "file": "files/p10/p10000032/s50000001.txt"}
    assert b["report"] == "portable ap view . lungs are clear ." and b["extra"] == {"section": "last_paragraph"}
    assert b["labels"] == {}  # no row in the CheXpert file
    stats = json.loads((ws / "prepare" / "mimic" / "stats.json").read_text())
    assert stats["dropped"] == {"no AP/PA image": 1, "no report file": 1, "no findings": 1}
    assert stats["splits"] == {"train": 2} and stats["images_by_split_view"] == {"train/AP": 1, "train/PA": 1}
    m = json.loads((ws / "prepare" / "mimic" / "manifest.json").read_text())
    assert m["extra"]["root"] == str(root) and m["counts"]["records"] == 2
    assert "no report file" in r.out and "train" in r.out  # the printed table


def test_per_image_all_views_and_impression(cli, ws, tmp_path):
    root = make_tree(tmp_path / "mimic")
    r = cli("prepare", "mimic", "--root", root, "--per-image", "--views", "all", "--sections", "impression",
            "--clean", "none", "--name", "mimic-img")
    assert r.code == 0, r.err
    recs = _records(ws, "mimic-img")
    assert [(x["id"], x["split"]) for x in recs] == [("d1-pa", "train"), ("d1-lat", "train"), ("d2-ap", "val"),
                                                     ("d3-lat", "test"), ("d5-ap", "train")]
    assert recs[0]["extra"]["study_id"] == "50000001" and recs[0]["report"] == "Small left effusion."
    assert recs[2]["report"] == "No acute process."
    # fallback: the last section minus its first paragraph (MIT-LCP's "last_paragraph")
    assert recs[4]["report"] == "Portable AP view. Lungs are clear."


def test_reports_zip_gives_identical_records(cli, ws, tmp_path):
    root = make_tree(tmp_path / "a")
    assert cli("prepare", "mimic", "--root", root, "--name", "dir").code == 0
    z = tmp_path / "mimic-cxr-reports.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted((root / "files").rglob("*.txt")):
            zf.write(p, p.relative_to(root).as_posix())
    for p in (root / "files").rglob("*.txt"):
        p.unlink()
    r = cli("prepare", "mimic", "--root", root, "--reports", z, "--name", "zip")
    assert r.code == 0, r.err
    assert (ws / "prepare/zip/records.jsonl").read_bytes() == (ws / "prepare/dir/records.jsonl").read_bytes()


def test_reuse_when_up_to_date_and_stale_after_label_change(cli, ws, tmp_path):
    root = make_tree(tmp_path / "mimic")
    assert cli("prepare", "mimic", "--root", root).code == 0
    first = json.loads((ws / "prepare/mimic/manifest.json").read_text())
    assert cli("prepare", "mimic", "--root", root).code == 0
    assert json.loads((ws / "prepare/mimic/manifest.json").read_text())["finished"] == first["finished"]
    _gz(root / "mimic-cxr-2.0.0-chexpert.csv.gz", ["subject_id", "study_id"] + list(CHEXPERT14), [])
    st = json.loads(cli("status", "--json").out)["artifacts"][0]
    assert st["state"] == "stale" and "chexpert" in st["reason"]
    assert cli("prepare", "mimic", "--root", root).code == 0
    assert json.loads((ws / "prepare/mimic/manifest.json").read_text())["fingerprint"] != first["fingerprint"]
    assert _records(ws)[0]["labels"] == {}


def _error(cli, ws, *args):
    r = cli("prepare", "mimic", *args)
    # the error is stderr's one last line (a rebuild first logs why it rebuilds)
    lines = r.err.splitlines()
    assert r.code == 3 and lines[-1].startswith("error: ") and sum(x.startswith("error: ") for x in lines) == 1
    assert "Traceback" not in r.err
    return lines[-1]


def _nothing_written(ws):
    prep = ws / "prepare"
    return not prep.exists() or not any(prep.iterdir())


def test_missing_column_names_file_and_line(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m")
    _gz(root / "mimic-cxr-2.0.0-split.csv.gz", ["dicom_id", "study_id"], [["d1-pa", "50000001"]])
    err = _error(cli, ws, "--root", root)
    assert "mimic-cxr-2.0.0-split.csv.gz line 1: missing column(s) 'split'" in err
    assert _nothing_written(ws)


def test_duplicate_dicom_id_is_an_error(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m", meta_extra=[["d1-pa", "10000032", "50000001", "CHEST", "PA", 1, 1]])
    err = _error(cli, ws, "--root", root)
    assert "metadata.csv.gz line 8: duplicate dicom_id d1-pa (first on line 2)" in err
    assert _nothing_written(ws)


def test_image_path_escaping_root_is_an_error(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m")
    with gzip.open(root / "mimic-cxr-2.0.0-metadata.csv.gz", "wt") as f:
        f.write("dicom_id,subject_id,study_id,ViewPosition,path\nd1-pa,10000032,50000001,PA,../../etc/passwd\n")
    err = _error(cli, ws, "--root", root)
    assert "line 2: image path '../../etc/passwd' escapes its root" in err


def test_unreadable_zip(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m")
    bad = tmp_path / "mimic-cxr-reports.zip"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    assert "not a readable zip archive" in _error(cli, ws, "--root", root, "--reports", bad)


def test_non_utf8_report_is_skipped_or_fails(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m")
    p = root / "files/p10/p10000032/s50000001.txt"
    p.write_bytes(REPORT.encode().replace(b"cough", b"coug\xff"))
    assert cli("prepare", "mimic", "--root", root).code == 0
    stats = json.loads((ws / "prepare/mimic/stats.json").read_text())
    assert stats["dropped"]["unreadable report (not UTF-8 / malformed)"] == 1
    assert [x["id"] for x in _records(ws)] == ["50000005"]
    err = _error(cli, ws, "--root", root, "on_error=fail", "--name", "strict")
    assert "s50000001.txt line 4: not UTF-8 text (byte 0xff)" in err
    assert not (ws / "prepare/strict").exists() and not (ws / "prepare/strict.partial").exists()


def test_missing_report_fails_with_on_error_fail(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m")
    err = _error(cli, ws, "--root", root, "on_error=fail")
    assert "s50000004.txt: report not found" in err


def test_no_reports_at_all_says_where_to_get_them(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m", reports_dir=tmp_path / "elsewhere")
    err = _error(cli, ws, "--root", root)
    assert "no report found for any of 4 studies" in err and "--reports mimic-cxr-reports.zip" in err
    assert cli("prepare", "mimic", "--root", root, "--reports", tmp_path / "elsewhere").code == 0


def test_failed_rebuild_keeps_the_previous_artifact(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m")
    assert cli("prepare", "mimic", "--root", root).code == 0
    before = (ws / "prepare/mimic/records.jsonl").read_bytes()
    _gz(root / "mimic-cxr-2.0.0-split.csv.gz", ["dicom_id", "split"], [["d1-pa", "holdout"]])
    assert "split 'holdout' is not train, validate or test" in _error(cli, ws, "--root", root)
    assert (ws / "prepare/mimic/records.jsonl").read_bytes() == before
    assert sorted(p.name for p in (ws / "prepare").iterdir()) == ["mimic"]


@pytest.mark.parametrize("args,msg", [
    (("--root", "/nonexistent/mimic"), "--root is not a folder"),
    (("--root", "."), "mimic-cxr-2.0.0-metadata.csv.gz not found"),
])
def test_bad_root(cli, ws, args, msg):
    assert msg in _error(cli, ws, *args)


def test_deid_normalize_and_findings_plus_impression(cli, ws, tmp_path):
    studies = {"50000001": ("10000032", [("d1-pa", "PA", "train")],
                            REPORT.replace("No pneumothorax.", "No pneumothorax since ___."))}
    root = make_tree(tmp_path / "m", studies=studies)
    r = cli("prepare", "mimic", "--root", root, "--deid", "normalize", "--sections", "findings+impression")
    assert r.code == 0, r.err
    rec = _records(ws)[0]
    assert rec["findings"] == "1. Small left pleural effusion. 2. No pneumothorax since ___."  # as written
    assert rec["report"] == "small left pleural effusion . no pneumothorax since xxxx . small left effusion ."


def test_bad_label_value_names_file_and_line(cli, ws, tmp_path):
    root = make_tree(tmp_path / "m")
    _gz(root / "mimic-cxr-2.0.0-chexpert.csv.gz", ["subject_id", "study_id"] + list(CHEXPERT14),
        [["10000032", "50000001"] + ["1.0"] * 13 + ["yes"]])
    assert "chexpert.csv.gz line 2: label value 'yes' is not one of 1.0, 0.0, -1.0 or empty" in \
        _error(cli, ws, "--root", root)


def test_misspelt_headers_are_corrected_and_counted_in_stats(cli, ws, tmp_path):
    typo = "  FINAL REPORT\n NDICATION:  Cough.\n \n FINDNGS:  Lungs are clear.\n \n IMPRESSON:  Normal.\n"
    studies = {"50000001": ("10000032", [("d1-pa", "PA", "train")], typo),
               "50000002": ("10000032", [("d2-ap", "AP", "test")], typo.replace("FINDNGS", "FINDINGS"))}
    root = make_tree(tmp_path / "jpg", studies)
    assert cli("prepare", "mimic", "--root", root, "--clean", "none").code == 0
    recs = _records(ws)
    assert [(r["indication"], r["findings"], r["impression"]) for r in recs] == [
        ("Cough.", "Lungs are clear.", "Normal.")] * 2
    stats = json.loads((ws / "prepare/mimic/stats.json").read_text())
    assert stats["header_corrections"] == {"ndication → indication": 2, "impresson → impression": 2,
                                           "findngs → findings": 1}
    assert stats["clean"] == "none"
