"""`cxrgen prepare iu` on the real OpenI reports shipped in the torchxrayvision wheel, and small Kaggle CSVs."""

import importlib.util
import json
import re
import tarfile
from pathlib import Path

import pytest

TGZ = Path(importlib.util.find_spec("torchxrayvision").origin).parent / "data" / "NLMCXR_reports.tgz"


def _raw_reports():
    """Expected values computed from the raw XML text with regexes (independent of the reader's parser)."""
    out = {}
    with tarfile.open(TGZ) as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".xml"):
                text = tar.extractfile(m).read().decode("utf-8")
                sec = dict(re.findall(r'<AbstractText Label="(\w+)">(.*?)</AbstractText>', text, re.S))
                uid = re.search(r'<uId id="([^"]+)"', text).group(1)
                out[uid] = {"findings": sec.get("FINDINGS", "").strip(), "impression": sec.get("IMPRESSION", "").strip(),
                            "images": re.findall(r'<parentImage id="([^"]+)"', text)}
    return out


@pytest.fixture(scope="module")
def raw():
    return _raw_reports()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Both section choices prepared once for the module (real data, ~1 s each)."""
    from tests.conftest import run_cli
    ws = tmp_path_factory.mktemp("iu") / "ws"
    assert run_cli("prepare", "iu", "--reports", TGZ, workspace=ws).code == 0
    assert run_cli("prepare", "iu", "--reports", TGZ, "--sections", "impression", "--name", "iu-imp",
                   workspace=ws).code == 0
    load = lambda name: [json.loads(x) for x in (ws / "prepare" / name / "records.jsonl").read_text().splitlines()]  # noqa: E731
    stats = lambda name: json.loads((ws / "prepare" / name / "stats.json").read_text())  # noqa: E731
    return ws, {"iu": load("iu"), "iu-imp": load("iu-imp")}, {"iu": stats("iu"), "iu-imp": stats("iu-imp")}


def test_real_openi_counts(raw, prepared):
    _, recs, stats = prepared
    assert len(raw) == 3955
    with_findings = {k for k, v in raw.items() if v["findings"]}
    with_impression = {k for k, v in raw.items() if v["impression"]}
    assert len(with_findings) == 3425 and len(with_impression) == 3921
    # every XML file with a non-empty findings section is either a record or a study without any image
    no_image = {k for k in with_findings if not raw[k]["images"]}
    assert {r["id"] for r in recs["iu"]} == with_findings - no_image
    assert stats["iu"]["dropped"] == {"no findings": 3955 - 3425, "no image": len(no_image)}
    no_image_imp = {k for k in with_impression if not raw[k]["images"]}
    assert {r["id"] for r in recs["iu-imp"]} == with_impression - no_image_imp
    assert stats["iu-imp"]["dropped"] == {"no impression": 3955 - 3921, "no image": len(no_image_imp)}
    n_images = sum(len(raw[r["id"]]["images"]) for r in recs["iu"])
    assert stats["iu"]["images"] == n_images == sum(len(r["images"]) for r in recs["iu"])


def test_real_openi_named_reports(prepared):
    _, recs, _ = prepared
    by_id = {r["id"]: r for r in recs["iu"]}
    one = by_id["CXR1"]
    assert one["findings"] == ("The cardiac silhouette and mediastinum size are within normal limits. There is no "
                               "pulmonary edema. There is no focal consolidation. There are no XXXX of a pleural "
                               "effusion. There is no evidence of pneumothorax.")
    assert one["report"] == ("the cardiac silhouette and mediastinum size are within normal limits . there is no "
                             "pulmonary edema . there is no focal consolidation . there are no xxxx of a pleural "
                             "effusion . there is no evidence of pneumothorax .")
    assert one["impression"] == "Normal chest x-XXXX." and one["indication"] == "Positive TB test"
    assert [i["image_id"] for i in one["images"]] == ["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"]
    assert one["extra"] == {"mesh": ["normal"], "problems": ["normal"]}
    assert one["source"] == {"dataset": "iu", "file": "NLMCXR_reports.tgz:ecgen-radiology/1.xml"}
    two = by_id["CXR2"]
    assert two["report"] == ("borderline cardiomegaly . midline sternotomy xxxx . enlarged pulmonary arteries . "
                             "clear lungs . inferior xxxx xxxx xxxx .")
    assert two["extra"]["mesh"] == ["Cardiomegaly/borderline", "Pulmonary Artery/enlarged"]
    assert two["extra"]["problems"] == ["Cardiomegaly", "Pulmonary Artery"]
    imp = {r["id"]: r for r in recs["iu-imp"]}
    # "1. " is deleted and ". 2. " becomes ". " (R2Gen's IU rules)
    assert imp["CXR1000"]["report"] == (
        "increased opacity in the right upper lobe with xxxx associated atelectasis may represent focal "
        "consolidation or mass lesion with atelectasis . recommend chest ct for further evaluation . xxxx opacity "
        "overlying the left 5th rib may represent focal airspace disease .")
    assert imp["CXR3955"]["report"] == ("chest . no visible active cardiopulmonary disease . left hip . "
                                        "advanced posttraumatic osteoarthritis .")
    assert "CXR3955" not in by_id  # its FINDINGS element is empty


def test_random_split_by_patient_is_seeded(prepared, cli, ws):
    _, recs, _ = prepared
    split = {r["id"]: r["split"] for r in recs["iu"]}
    n = len(split)
    counts = {s: sum(v == s for v in split.values()) for s in ("train", "val", "test")}
    assert counts == {"test": round(0.2 * n), "val": round(0.1 * n), "train": n - round(0.2 * n) - round(0.1 * n)}
    assert cli("prepare", "iu", "--reports", TGZ, "--seed", "1", "--name", "s1").code == 0
    assert cli("prepare", "iu", "--reports", TGZ, "--seed", "1", "--name", "s1b").code == 0
    s1 = (ws / "prepare/s1/records.jsonl").read_text()
    assert s1 == (ws / "prepare/s1b/records.jsonl").read_text()
    other = {json.loads(x)["id"]: json.loads(x)["split"] for x in s1.splitlines()}
    assert other != split and set(other) == set(split)


def test_r2gen_annotation_split(cli, ws, tmp_path):
    ann = {"train": [{"id": "CXR1_1_IM-0001", "report": "x", "image_path": ["CXR1_1_IM-0001/0.png"], "split": "train"},
                     {"id": "CXR2_IM-0652", "report": "x", "image_path": [], "split": "train"}],
           "val": [{"id": "CXR10_IM-0002", "report": "x", "image_path": [], "split": "val"}],
           "test": [{"id": "CXR1000_IM-0003", "report": "x", "image_path": [], "split": "test"},
                    {"id": "CXR99999_IM-9999", "report": "x", "image_path": [], "split": "test"}]}
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    r = cli("prepare", "iu", "--reports", TGZ, "--split", "r2gen", "--annotation", tmp_path / "annotation.json")
    assert r.code == 0, r.err
    recs = [json.loads(x) for x in (ws / "prepare/iu/records.jsonl").read_text().splitlines()]
    assert [(x["id"], x["split"], x["extra"]["r2gen_id"]) for x in recs] == [
        ("CXR1", "train", "CXR1_1_IM-0001"), ("CXR10", "val", "CXR10_IM-0002"),
        ("CXR1000", "test", "CXR1000_IM-0003"), ("CXR2", "train", "CXR2_IM-0652")]
    stats = json.loads((ws / "prepare/iu/stats.json").read_text())
    assert stats["dropped"]["not in annotation.json"] == 3425 - 88 - 4
    assert stats["notes"] == {"annotation.json ids without a matching report": 1}


def test_r2gen_split_needs_annotation(cli):
    r = cli("prepare", "iu", "--reports", TGZ, "--split", "r2gen")
    assert r.code == 2 and "--split r2gen needs --annotation" in r.err


def _kaggle(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "indiana_reports.csv").write_text(
        "uid,MeSH,Problems,image,indication,comparison,findings,impression\n"
        '1,normal,normal,Xray Chest PA and Lateral,Positive TB test,None.,"The heart is normal.\n'
        'No effusion.",Normal chest x-XXXX.\n'
        "2,Cardiomegaly/mild;Opacity/lung,Cardiomegaly;Opacity,Xray,,,,No acute disease.\n"
        "3,normal,normal,Xray,,,Clear lungs.,Normal.\n")
    (tmp_path / "indiana_projections.csv").write_text(
        "uid,filename,projection\n1,1_IM-0001-4001.dcm.png,Frontal\n1,1_IM-0001-3001.dcm.png,Lateral\n"
        "2,2_IM-0652-1001.dcm.png,Frontal\n3,3_IM-1384-1001.dcm.png,Lateral\n")
    for name in ("1_IM-0001-4001.dcm.png", "1_IM-0001-3001.dcm.png", "2_IM-0652-1001.dcm.png"):
        (tmp_path / "images" / name).write_bytes(b"png")
    return tmp_path


def test_kaggle_csv_pair_with_images_and_views(cli, ws, tmp_path):
    d = _kaggle(tmp_path)
    r = cli("prepare", "iu", "--reports", d / "indiana_reports.csv", "--images", d / "images", "--views", "AP,PA",
            "--clean", "none", "--split", "random", "--seed", "0")
    assert r.code == 0, r.err
    recs = [json.loads(x) for x in (ws / "prepare/iu/records.jsonl").read_text().splitlines()]
    assert len(recs) == 1  # 2 has no findings, 3 has only a lateral (and its file is missing)
    one = recs[0]
    assert one["id"] == "CXR1" and one["report"] == "The heart is normal. No effusion."
    assert one["images"] == [{"path": "1_IM-0001-4001.dcm.png", "view": "FRONTAL", "image_id": "CXR1_IM-0001-4001"}]
    stats = json.loads((ws / "prepare/iu/stats.json").read_text())
    assert stats["dropped"] == {"no findings": 1, "image file missing": 1}
    m = json.loads((ws / "prepare/iu/manifest.json").read_text())
    assert m["extra"]["root"] == str(d / "images")
    assert "no images given" not in r.err


def test_reports_without_images_warn_at_prepare_not_first_at_embed(cli, ws):
    """Text-only records are legitimate (labeler benchmarks, audits) but embed cannot use them: say so now."""
    r = cli("prepare", "iu", "--reports", TGZ)
    assert r.code == 0, r.err
    assert "prepare/iu: no images given (--images): the records hold report text only" in " ".join(r.err.split())
    r = cli("embed", "--dataset", "iu", "--encoder", "tiny-medclip-vit")
    assert r.code == 3 and "no image root recorded" in r.err


def test_kaggle_projection_path_escaping_root(cli, ws, tmp_path):
    d = _kaggle(tmp_path)
    (d / "indiana_projections.csv").write_text("uid,filename,projection\n1,../../secret.png,Frontal\n")
    r = cli("prepare", "iu", "--reports", d / "indiana_reports.csv", "--images", d / "images")
    assert r.code == 3 and "indiana_projections.csv line 2: image path '../../secret.png' escapes its root" in r.err


def test_duplicate_uid_and_non_utf8_csv(cli, ws, tmp_path):
    d = _kaggle(tmp_path)
    text = (d / "indiana_reports.csv").read_text()
    (d / "indiana_reports.csv").write_text(text + "3,normal,normal,Xray,,,Dup.,Dup.\n")
    r = cli("prepare", "iu", "--reports", d / "indiana_reports.csv")
    assert r.code == 3 and "line 6: duplicate report id CXR3" in r.err
    (d / "indiana_reports.csv").write_bytes(text.encode() + b"4,normal,normal,X,,,Caf\xe9.,x\n")
    r = cli("prepare", "iu", "--reports", d / "indiana_reports.csv")
    assert r.code == 3 and "indiana_reports.csv line 6: not UTF-8 text" in r.err
    assert not (ws / "prepare").exists() or not any((ws / "prepare").iterdir())


def test_xml_folder_malformed_file_skip_or_fail(cli, ws, tmp_path):
    d = tmp_path / "xml"
    d.mkdir()
    with tarfile.open(TGZ) as tar:
        for name in ("ecgen-radiology/1.xml", "ecgen-radiology/2.xml"):
            (d / Path(name).name).write_bytes(tar.extractfile(name).read())
    (d / "3.xml").write_text("<eCitation><uId id='CXR3'/>\n<Abstract>")
    assert cli("prepare", "iu", "--reports", d).code == 0
    recs = [json.loads(x) for x in (ws / "prepare/iu/records.jsonl").read_text().splitlines()]
    assert [r["id"] for r in recs] == ["CXR1", "CXR2"]
    assert recs[0]["source"]["file"] == "xml/1.xml"
    stats = json.loads((ws / "prepare/iu/stats.json").read_text())
    assert stats["dropped"] == {"unreadable report (not UTF-8 / malformed)": 1}
    r = cli("prepare", "iu", "--reports", d, "on_error=fail", "--name", "strict")
    assert r.code == 3 and "3.xml line 2: malformed XML" in r.err


def test_xml_image_id_escaping_the_image_folder(cli, tmp_path):
    d = tmp_path / "xml"
    d.mkdir()
    (d / "9.xml").write_text('<eCitation><uId id="CXR9"/><Abstract><AbstractText Label="FINDINGS">Clear.'
                             '</AbstractText></Abstract><parentImage id="../../etc/x"/></eCitation>')
    r = cli("prepare", "iu", "--reports", d)
    assert r.code == 3 and "9.xml: image id '../../etc/x' is not a plain file name" in r.err


def test_unreadable_tgz(cli, tmp_path):
    bad = tmp_path / "NLMCXR_reports.tgz"
    bad.write_bytes(b"\x1f\x8b\x08 broken")
    r = cli("prepare", "iu", "--reports", bad)
    assert r.code == 3 and "not a readable .tgz" in r.err
