"""`generate --images` on files never prepared equals `embed` + `generate` on the same images, to the token."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_cli

RUN = "tiny-prefix"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """prepare synthetic (40 studies, AP/PA) → embed tiny MedCLIP → 4 steps of prefix tuning → generate test."""
    ws = tmp_path_factory.mktemp("newimages") / "ws"
    steps = [("prepare", "synthetic", "--n", "40", "--name", "syn"),
             ("embed", "--dataset", "syn", "--encoder", "tiny-medclip-vit", "--workers", "0"),
             ("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--dataset", "syn", "--encoder", "tiny-medclip-vit",
              "--run-name", RUN, "optim.max_steps=4", "optim.batch_size=8", "optim.lr=0.01", "max_len=32"),
             ("generate", "--run", RUN, "--split", "test", "max_new_tokens=24")]
    for args in steps:
        r = run_cli(*args, workspace=ws)
        assert r.code == 0, (args, r.err[-2000:])
    # the split holding the first DICOM frontal too (synthetic: every 12th study's frontal is DICOM)
    split = next(r["split"] for r in _records(ws) if r["images"][0]["path"].endswith(".dcm"))
    if split != "test":
        r = run_cli("generate", "--run", RUN, "--split", split, "max_new_tokens=24", workspace=ws)
        assert r.code == 0, r.err[-2000:]
    return ws


def _records(ws):
    return [json.loads(x) for x in (ws / "prepare" / "syn" / "records.jsonl").read_text().splitlines()]


def _test_records(ws):
    """The test split, plus the first study whose frontal is a DICOM file."""
    rows = _records(ws)
    dicom = next(r for r in rows if r["images"][0]["path"].endswith(".dcm"))
    return [r for r in rows if r["split"] == "test"] + ([dicom] if dicom["split"] != "test" else [])


def _root(ws):
    return json.loads((ws / "prepare" / "syn" / "manifest.json").read_text())["extra"]["root"]


def test_new_images_equal_the_prepared_path(trained, tmp_path):
    recs = _test_records(trained)
    root = _root(trained)
    preds = {json.loads(x)["id"]: json.loads(x)["prediction"]
             for p in (trained / "generate" / RUN).glob("*/preds.jsonl") for x in p.read_text().splitlines()}
    # copies outside the data set, one folder per study, named by the study: nothing was prepared or embedded here
    files = []
    for r in recs:
        src = f"{root}/{r['images'][0]['path']}"
        dst = tmp_path / "new" / r["id"] / src.rsplit("/", 1)[1]
        dst.parent.mkdir(parents=True)
        shutil.copyfile(src, dst)
        files.append(str(dst))
    assert any(f.endswith(".dcm") for f in files) and any(f.endswith(".jpg") for f in files)
    r = run_cli("generate", "--run", RUN, "--images", *files, "--views", "frontal", "--json", "max_new_tokens=24",
                workspace=trained)
    assert r.code == 0, r.err[-2000:]
    rows = [json.loads(x) for x in r.out.splitlines()]
    assert sorted(x["id"] for x in rows) == sorted(x["id"] for x in recs)  # --study-by folder: the folder names the study
    assert {x["id"]: x["prediction"] for x in rows} == {x["id"]: preds[x["id"]] for x in recs}
    assert len({x["prediction"] for x in rows}) >= 1 and all(x["left_out"] == [] for x in rows)
    assert sorted(p.name for p in trained.iterdir()) == sorted(["workspace.json", "data", "prepare", "embed", "train",
                                                               "generate"])  # nothing new written


def test_study_by_folder_groups_and_leaves_out_untrained_views(trained, tmp_path):
    rec = _test_records(trained)[0]
    root = _root(trained)
    study = tmp_path / "one-study"
    study.mkdir()
    shutil.copyfile(f"{root}/{rec['images'][0]['path']}", study / "a-frontal.jpg")
    shutil.copyfile(f"{root}/{rec['images'][0]['path']}", study / "b-lateral.jpg")
    r = run_cli("generate", "--run", RUN, "--images-dir", str(tmp_path), "--json", "max_new_tokens=24", workspace=trained)
    assert r.code == 0, r.err[-2000:]
    rows = [json.loads(x) for x in r.out.splitlines()]
    assert len(rows) == 1 and rows[0]["id"] == "one-study" and rows[0]["views"] == ["PA"]
    assert rows[0]["left_out"] == ["b-lateral.jpg (LATERAL)"]  # the run was trained on AP/PA only
    per_file = run_cli("generate", "--run", RUN, "--images-dir", str(tmp_path), "--study-by", "file", "--views", "frontal",
                       "--json", "max_new_tokens=24", workspace=trained)
    assert [json.loads(x)["id"] for x in per_file.out.splitlines()] == ["a-frontal", "b-lateral"]  # relative to the common folder


def test_bad_inputs_are_one_line(trained, tmp_path):
    r = run_cli("generate", "--run", RUN, "--images", str(tmp_path / "missing.png"), workspace=trained)
    assert r.code == 3 and "missing.png: image file not found" in r.err and r.err.count("\n") == 1
    (tmp_path / "broken.png").write_bytes(b"not an image")
    r = run_cli("generate", "--run", RUN, "--images", str(tmp_path / "broken.png"), "--views", "frontal", workspace=trained)
    assert r.code == 3 and "broken.png" in r.err and r.err.count("\n") == 1
    assert "on-error" not in r.err          # embed's own hint names an option generate does not have
    good = f"{_root(trained)}/{_test_records(trained)[0]['images'][0]['path']}"
    r = run_cli("generate", "--run", RUN, "--images", good, "--encoder-weights",
                str(tmp_path / "broken.png"), "--views", "frontal", workspace=trained)
    assert r.code == 3 and "broken.png" in r.err and r.err.count("\n") == 1


def _lateral_dicom(trained, dest):
    """A copy of the data set's first DICOM frontal with ViewPosition set to LATERAL."""
    import pydicom
    rec = next(r for r in _records(trained) if r["images"][0]["path"].endswith(".dcm"))
    ds = pydicom.dcmread(f"{_root(trained)}/{rec['images'][0]['path']}")
    ds.ViewPosition = "LATERAL"
    dest.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dest)
    return rec


def test_unusable_studies_are_skipped_and_named_not_fatal(trained, tmp_path):
    """A lateral-only study and a broken file cost only their own reports; the others are printed."""
    recs = _test_records(trained)[:2]
    for r in recs:
        src = f"{_root(trained)}/{r['images'][0]['path']}"
        (tmp_path / r["id"]).mkdir()
        shutil.copyfile(src, tmp_path / r["id"] / src.rsplit("/", 1)[1])
    _lateral_dicom(trained, tmp_path / "lat-only" / "lat.dcm")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not an image")
    r = run_cli("generate", "--run", RUN, "--images-dir", str(tmp_path), "--views", "frontal", "--json",
                "max_new_tokens=24", workspace=trained)
    assert r.code == 0, r.err[-2000:]
    rows = {json.loads(x)["id"]: json.loads(x) for x in r.out.splitlines()}
    assert sorted(rows) == sorted([recs[0]["id"], recs[1]["id"], "lat-only", "broken"])
    assert all(isinstance(rows[x["id"]]["prediction"], str) and "skipped" not in rows[x["id"]] for x in recs)
    lat, broken = rows["lat-only"], rows["broken"]
    assert lat["prediction"] is None and lat["left_out"] == ["lat.dcm (LATERAL, its DICOM ViewPosition)"]
    assert lat["skipped"] == "no image of a view the run was trained on (AP,PA)"   # --views cannot help: no hint
    assert broken["prediction"] is None and broken["left_out"] == ["x.png (unreadable)"]
    assert broken["skipped"].endswith("x.png: not an image Pillow or pydicom can read")
    assert "study 'lat-only' skipped" in r.err and "study 'broken' skipped" in r.err
    text = run_cli("generate", "--run", RUN, "--images-dir", str(tmp_path), "--views", "frontal", "max_new_tokens=24",
                   workspace=trained)
    assert text.code == 0 and "lat-only skipped: no image of a view" in text.out
    # only unusable studies: an error (exit 3), one line, naming the first and counting the rest
    r = run_cli("generate", "--run", RUN, "--images", str(tmp_path / "lat-only" / "lat.dcm"),
                str(tmp_path / "broken" / "x.png"), workspace=trained)
    assert r.code == 3 and r.err.count("\n") == 1
    assert r.err == "error: study 'lat-only' (and 1 other study, none usable): no image of a view the run was trained on (AP,PA)\n"
