"""R2Gen's copies as users hold them (iu_xray/, mimic_cxr/: annotation.json + images/), R2Gen ids for
every OpenI image-id shape, and the empty/lopsided-result rule."""

import importlib.util
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TGZ = Path(importlib.util.find_spec("torchxrayvision").origin).parent / "data" / "NLMCXR_reports.tgz"


@pytest.mark.parametrize("image_id,expected", [
    ("CXR1_1_IM-0001-3001", "CXR1_1_IM-0001"),                 # the two-part uId shape (2 images in OpenI)
    ("CXR10_IM-0002-1001", "CXR10_IM-0002"),                    # the common shape
    ("CXR2372_IM-0933-0001-0001", "CXR2372_IM-0933-0001"),      # four groups (404 OpenI images)
    ("CXR1021_IM-0017-1001-0001", "CXR1021_IM-0017-1001"),
    ("CXR1_IM-0001-4001", "CXR1_IM-0001"),                      # Kaggle's 1_IM-0001-4001.dcm.png
    ("CXR7", None), ("CXR7_IM-abcd", None),
])
def test_r2gen_id_table_of_shapes(image_id, expected):
    from cxrgen.data.iu import r2gen_id
    assert r2gen_id(image_id) == expected


def test_every_real_openi_report_with_findings_and_an_image_gets_an_r2gen_id():
    from cxrgen.config.schema import PrepareConfig
    from cxrgen.data.iu import IUSource, r2gen_id
    from cxrgen.data.source import Stats
    reps = IUSource(PrepareConfig(dataset="iu", reports=str(TGZ), views=()))._read_xml(Stats())
    kept = [r for r in reps if r.sections.findings and r.image_ids]
    ids = [r2gen_id(r.image_ids[0]) for r in kept]
    assert len(kept) == 3337 and None not in ids and len(set(ids)) == 3337
    # 149 of them start with a four-group image id (CXR1032_IM-0026-1001-0001 → CXR1032_IM-0026-1001)
    four = [r for r in kept if r.image_ids[0].count("-") == 3]
    assert len(four) == 149
    assert r2gen_id(next(r for r in kept if r.id == "CXR1032").image_ids[0]) == "CXR1032_IM-0026-1001"


def test_real_openi_views_come_from_the_dicom_metadata_frontal_first(tmp_path, cli, ws):
    assert cli("prepare", "iu", "--reports", TGZ).code == 0
    recs = {json.loads(x)["id"]: json.loads(x) for x in (ws / "prepare/iu/records.jsonl").read_text().splitlines()}
    stats = json.loads((ws / "prepare/iu/stats.json").read_text())
    # OpenI lists CXR1043's lateral (…-0001) before its frontal (…-0002); the DICOM metadata says which is which
    assert [(i["image_id"], i["view"]) for i in recs["CXR1043"]["images"]] == [
        ("CXR1043_IM-0035-0001-0002", "PA"), ("CXR1043_IM-0035-0001-0001", "LL")]
    # the metadata names CXR1_1_IM-0001-3001 as CXR1_IM-0001-3001 (and calls both images PA)
    assert [(i["image_id"], i["view"]) for i in recs["CXR1"]["images"]] == [
        ("CXR1_1_IM-0001-3001", "PA"), ("CXR1_1_IM-0001-4001", "PA")]
    assert sum(stats["view_order"].values()) == len(recs) == 3337
    assert stats["view_order"] == {"DICOM metadata": 907, "XML order (no view known)": 1089,
                                   "DICOM metadata (some views blank)": 141,
                                   "XML order (DICOM metadata: every image frontal)": 1200}
    # LLaMA-XR's frontal/lateral pair: the labelled lateral, else the study's other image
    from cxrgen.data.records import Record
    from cxrgen.models.recipes.qlora import pick_views
    assert pick_views(Record.from_dict(recs["CXR1043"])) == ("CXR1043_IM-0035-0001-0002", "CXR1043_IM-0035-0001-0001")
    assert pick_views(Record.from_dict(recs["CXR1"])) == ("CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001")
    assert stats["clean"] == "r2gen-iu"
    for r in recs.values():  # a frontal image, when a study has one, always comes first
        views = [i["view"] for i in r["images"]]
        if any(v in ("AP", "PA") for v in views):
            assert views[0] in ("AP", "PA")
    firsts = [r["images"][0]["view"] for r in recs.values()]
    assert (firsts.count("PA"), firsts.count("AP"), firsts.count("")) == (1969, 250, 1089)
    # views from the metadata make --views work on the XML too
    assert cli("prepare", "iu", "--reports", TGZ, "--views", "AP,PA", "--name", "frontal").code == 0
    frontal = json.loads((ws / "prepare/frontal/stats.json").read_text())
    assert frontal["records"] == 1969 + 250 and frontal["dropped"]["no AP/PA image"] == 3337 - 1969 - 250


# --- a small R2Gen-layout IU tree ----------------------------------------------------------------
R2GEN_IU = {  # R2Gen id → (split, OpenI report, number of images)
    "CXR1_1_IM-0001": ("train", "ecgen-radiology/1.xml", 2),
    "CXR1032_IM-0026-1001": ("train", "ecgen-radiology/1032.xml", 2),   # four-group image ids
    "CXR10_IM-0002": ("val", "ecgen-radiology/10.xml", 2),
    "CXR104_IM-0031-0001": ("test", "ecgen-radiology/104.xml", 1),
}


def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((48, 48), value, np.uint8)).save(path)


def _iu_tree(root: Path, extra_ann: list | None = None) -> Path:
    """iu_xray/{annotation.json, images/<id>/k.png}; report texts are our own (annotation-only mode)."""
    ann = {"train": [], "val": [], "test": []}
    for k, (rid, (split, _, n)) in enumerate(R2GEN_IU.items()):
        paths = [f"{rid}/{j}.png" for j in range(n)]
        for j, p in enumerate(paths):
            _png(root / "images" / p, 40 * k + j)
        ann[split].append({"id": rid, "report": f"Heart size normal {k}. No effusion:  none.", "image_path": paths,
                           "split": split})
    for e in extra_ann or []:
        ann[e["split"]].append(e)
    (root / "annotation.json").write_text(json.dumps(ann))
    return root / "annotation.json"


def _records(ws, name="iu"):
    return [json.loads(x) for x in (ws / "prepare" / name / "records.jsonl").read_text().splitlines()]


def test_r2gen_iu_copy_with_the_openi_xml_then_embedded(tmp_path, cli, ws, caplog):
    ghost = {"id": "CXR99999_IM-9999", "report": "x", "image_path": ["CXR99999_IM-9999/0.png"], "split": "test"}
    ann = _iu_tree(tmp_path / "iu_xray", [ghost])
    r = cli("prepare", "iu", "--reports", TGZ, "--annotation", ann)
    assert r.code == 0, r.err
    recs = _records(ws)
    assert [(x["id"], x["split"], x["extra"]["r2gen_id"]) for x in recs] == [
        ("CXR1", "train", "CXR1_1_IM-0001"), ("CXR10", "val", "CXR10_IM-0002"),
        ("CXR1032", "train", "CXR1032_IM-0026-1001"), ("CXR104", "test", "CXR104_IM-0031-0001")]
    assert [i["path"] for i in recs[2]["images"]] == ["CXR1032_IM-0026-1001/0.png", "CXR1032_IM-0026-1001/1.png"]
    assert recs[2]["images"][0]["image_id"] == "CXR1032_IM-0026-1001/0"
    assert recs[0]["findings"].startswith("The cardiac silhouette and mediastinum size")  # text from the XML
    assert recs[0]["extra"]["mesh"] == ["normal"]
    stats = json.loads((ws / "prepare/iu/stats.json").read_text())
    assert stats["notes"]["annotation.json ids without a matching report"] == 1
    assert stats["unmatched_annotation_ids"] == ["CXR99999_IM-9999"]
    assert stats["view_order"] == {"annotation image_path order": 4}
    assert stats["dropped"] == {"no findings": 530, "no image": 88, "not in annotation.json": 3337 - 4}
    assert "prepare/iu: 1 annotation.json id(s) have no matching report (e.g. CXR99999_IM-9999)" in caplog.text
    m = json.loads((ws / "prepare/iu/manifest.json").read_text())
    assert m["extra"]["root"] == str(tmp_path / "iu_xray" / "images")
    r = cli("embed", "--dataset", "iu", "--encoder", "tiny-medclip-vit", "--workers", "0", "--device", "cpu")
    assert r.code == 0, r.err
    import h5py
    with h5py.File(ws / "embed/iu/tiny-medclip-vit/features.h5") as f:
        ids = [x.decode() if isinstance(x, bytes) else x for x in f["ids"][:]]
    assert sorted(ids) == sorted(i["image_id"] for x in recs for i in x["images"]) and len(ids) == 7


def test_r2gen_iu_copy_from_the_annotation_alone(tmp_path, cli, ws):
    ann = _iu_tree(tmp_path / "iu_xray")
    r = cli("prepare", "iu", "--annotation", ann)
    assert r.code == 0, r.err
    recs = _records(ws)
    assert [(x["id"], x["split"], len(x["images"])) for x in recs] == [
        ("CXR1_1_IM-0001", "train", 2), ("CXR1032_IM-0026-1001", "train", 2), ("CXR10_IM-0002", "val", 2),
        ("CXR104_IM-0031-0001", "test", 1)]
    # the text as R2Gen gives it, through R2Gen's IU cleaner
    assert recs[0]["report"] == "heart size normal 0 . no effusion  none ."
    assert recs[0]["source"] == {"dataset": "iu", "file": "annotation.json:train"}
    stats = json.loads((ws / "prepare/iu/stats.json").read_text())
    assert stats["splits"] == {"test": 1, "train": 2, "val": 1} and stats["dropped"] == {}


@pytest.mark.parametrize("ann,msg", [
    ([{"id": "CXR1_1_IM-0001"}], "not R2Gen's format; expected R2Gen's annotation.json: an object with 'train'"),
    ({"train": [{"report": "x"}]}, "train[0] has no 'id'"),
    ({"train": [{"id": "A_IM-1", "report": "x", "image_path": ["../../etc/passwd"]}]},
     "train[0] ('A_IM-1'): image_path '../../etc/passwd' escapes its root"),
    ({"train": [{"id": "A_IM-1", "report": "x", "image_path": []}],
      "test": [{"id": "A_IM-1", "report": "x", "image_path": []}]},
     "id 'A_IM-1' is in both train and test; keep each id in one split"),
    ({"train": [{"id": "A_IM-1", "report": "x", "image_path": [], "split": "val"}]}, "says split 'val'"),
])
def test_bad_annotation_is_one_line_naming_the_file(tmp_path, cli, ws, ann, msg):
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    r = cli("prepare", "iu", "--annotation", tmp_path / "annotation.json")
    assert r.code == 3 and f"{tmp_path / 'annotation.json'}: " in r.err and msg in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert not (ws / "prepare" / "iu").exists()


def test_empty_images_folder_is_an_error_naming_the_top_drop_reason(tmp_path, cli, ws):
    ann = _iu_tree(tmp_path / "iu_xray")
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("prepare", "iu", "--annotation", ann, "--images", empty)
    assert r.code == 3
    assert "prepare/iu: 0 of 4 studies kept: image file missing ×4; check --images" in r.err, r.err
    assert "written" not in r.out + r.err and not (ws / "prepare" / "iu").exists()


def test_r2gen_folders_without_the_annotation_say_so(tmp_path, cli, ws):
    _iu_tree(tmp_path / "iu_xray")
    d = tmp_path / "xml"
    d.mkdir()
    with tarfile.open(TGZ) as tar:
        for name in ("ecgen-radiology/1.xml", "ecgen-radiology/10.xml", "ecgen-radiology/104.xml"):
            (d / Path(name).name).write_bytes(tar.extractfile(name).read())
    r = cli("prepare", "iu", "--reports", d, "--images", tmp_path / "iu_xray" / "images")
    assert r.code == 3
    assert re.search(r"0 of 3 studies kept: image file missing ×3; \S+images holds R2Gen-style folders "
                     r"\(<id>/0.png\): pass --annotation annotation.json", r.err), r.err
    assert not (ws / "prepare" / "iu").exists()


def test_lopsided_result_warns_and_strict_refuses(tmp_path, cli, ws, caplog):
    ann = _iu_tree(tmp_path / "iu_xray")
    for rid in ("CXR1_1_IM-0001", "CXR1032_IM-0026-1001", "CXR10_IM-0002"):
        for p in (tmp_path / "iu_xray/images" / rid).iterdir():
            p.unlink()
    r = cli("prepare", "iu", "--annotation", ann)
    assert r.code == 0 and "prepare/iu: image file missing dropped 3 of 4 studies (75%)" in caplog.text
    assert [x["id"] for x in _records(ws)] == ["CXR104_IM-0031-0001"]
    r = cli("prepare", "iu", "--annotation", ann, "--strict", "--name", "strict")
    assert r.code == 3 and "image file missing dropped 3 of 4 studies (75%)" in r.err and "(--strict)" in r.err
    assert not (ws / "prepare" / "strict").exists()


def test_embed_refuses_to_write_zero_images(tmp_path, cli, ws):
    ann = _iu_tree(tmp_path / "iu_xray")
    for p in (tmp_path / "iu_xray/images").rglob("*.png"):
        p.write_bytes(b"not a png")
    assert cli("prepare", "iu", "--annotation", ann).code == 0
    r = cli("embed", "--dataset", "iu", "--encoder", "tiny-medclip-vit", "--workers", "0", "--device", "cpu",
            "--on-error", "skip")
    assert r.code == 3 and "embed/iu/tiny-medclip-vit: 0 of 7 images kept: unreadable image ×7; e.g. " in r.err, r.err
    assert not (ws / "embed" / "iu" / "tiny-medclip-vit" / "features.h5").exists()


# --- a small R2Gen-layout MIMIC tree -------------------------------------------------------------
MIMIC_ENTRIES = [  # (dicom id, study, subject, split, report text of our own)
    ("d1-pa", "50000001", "10000032", "train", "Heart size: normal.  1. No effusion; no pneumothorax (stable)."),
    ("d1-lat", "50000001", "10000032", "train", "Heart size: normal.  1. No effusion; no pneumothorax (stable)."),
    ("d2-ap", "50000002", "10000032", "val", "Lines: ET tube 4-5 cm above the carina."),
    ("d3-lat", "50000003", "11000001", "test", "No acute process."),
    ("d5-ap", "50000005", "12000005", "test", "Lungs are clear."),
]


def _mimic_tree(root: Path, extra: list | None = None) -> Path:
    ann = {"train": [], "val": [], "test": []}
    for k, (dicom, study, subject, split, text) in enumerate(MIMIC_ENTRIES + (extra or [])):
        rel = f"p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg"
        path = root / "images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((40, 40), 30 * k, np.uint8)).save(path)
        ann[split].append({"id": dicom, "study_id": int(study), "subject_id": int(subject), "report": text,
                           "image_path": [rel], "split": split})
    (root / "annotation.json").write_text(json.dumps(ann))
    return root / "annotation.json"


def test_r2gen_mimic_copy_with_labels_and_views_then_embedded(tmp_path, cli, ws):
    from tests.test_prepare_mimic import make_tree
    ann = _mimic_tree(tmp_path / "mimic_cxr")
    jpg = make_tree(tmp_path / "mimic-cxr-jpg")  # the official tables: views + CheXpert labels
    r = cli("prepare", "mimic", "--annotation", ann, "--root", jpg)
    assert r.code == 0, r.err
    recs = _records(ws, "mimic")
    assert [(x["id"], x["split"], x["patient_id"], x["extra"]["study_id"]) for x in recs] == [
        ("d1-pa", "train", "10000032", "50000001"), ("d1-lat", "train", "10000032", "50000001"),
        ("d2-ap", "val", "10000032", "50000002"), ("d3-lat", "test", "11000001", "50000003"),
        ("d5-ap", "test", "12000005", "50000005")]
    assert recs[0]["images"] == [{"path": "p10/p10000032/s50000001/d1-pa.jpg", "view": "PA", "image_id": "d1-pa"}]
    assert [x["images"][0]["view"] for x in recs] == ["PA", "LATERAL", "AP", "LATERAL", "AP"]
    # R2GenGPT's MIMIC cleaner keeps ':' (spaced) and '-', unlike R2Gen's
    assert recs[0]["report"] == "heart size : normal . no effusion no pneumothorax stable ."
    assert recs[2]["report"] == "lines : et tube 4-5 cm above the carina ."
    assert recs[0]["labels"]["Pleural Effusion"] == 1 and recs[0]["labels"]["Atelectasis"] == -1
    assert recs[2]["labels"] == {}
    stats = json.loads((ws / "prepare/mimic/stats.json").read_text())
    assert stats["splits"] == {"test": 2, "train": 2, "val": 1} and stats["clean"] == "r2gengpt-mimic"
    assert stats["notes"] == {"entries without CheXpert labels": 3}  # studies 50000002, 3, 5
    r = cli("embed", "--dataset", "mimic", "--encoder", "tiny-medclip-vit", "--workers", "0", "--device", "cpu")
    assert r.code == 0 and "5 of 5 images" in r.out, r.err


def test_r2gen_mimic_copy_alone_and_with_r2gen_cleaner(tmp_path, cli, ws):
    ann = _mimic_tree(tmp_path / "mimic_cxr")
    assert cli("prepare", "mimic", "--annotation", ann).code == 0
    recs = _records(ws, "mimic")
    assert len(recs) == 5 and {i["view"] for x in recs for i in x["images"]} == {""}
    assert cli("prepare", "mimic", "--annotation", ann, "--clean", "r2gen", "--name", "r2gen").code == 0
    assert _records(ws, "r2gen")[2]["report"] == "lines et tube 4-5 cm above the carina ."
    assert json.loads((ws / "prepare/r2gen/stats.json").read_text())["clean"] == "r2gen-mimic"
    # views are unknown without --root: asking for AP/PA drops everything, and says why
    r = cli("prepare", "mimic", "--annotation", ann, "--views", "AP,PA", "--name", "frontal")
    assert r.code == 3 and "0 of 5 studies kept: no AP/PA image ×5; views are known only with --root" in r.err


def test_r2gen_mimic_bad_annotation(tmp_path, cli, ws):
    ann = _mimic_tree(tmp_path / "mimic_cxr")
    data = json.loads(ann.read_text())
    del data["val"][0]["study_id"]
    ann.write_text(json.dumps(data))
    r = cli("prepare", "mimic", "--annotation", ann)
    assert r.code == 3 and f"{ann}: val[0] ('d2-ap') has no 'study_id'" in r.err
    assert not (ws / "prepare" / "mimic").exists()


def test_images_parent_folder_is_pointed_at_its_images_subfolder(tmp_path, cli, ws):
    ann = _iu_tree(tmp_path / "iu_xray")
    r = cli("prepare", "iu", "--annotation", ann, "--images", tmp_path / "iu_xray")
    assert r.code == 3
    assert (f"0 of 4 studies kept: image file missing ×4; pass --images {tmp_path / 'iu_xray' / 'images'} "
            "(the folder the image paths start in)") in r.err, r.err
    r = cli("prepare", "mimic", "--root", tmp_path, "--images", tmp_path)
    assert r.code == 2 and "--images is only used with --annotation" in r.err


def test_an_r2gen_shaped_annotation_of_all_real_reports_gives_r2gen_counts(tmp_path, cli, ws):
    """R2Gen's iu_xray holds the 2,955 OpenI reports with findings and at least two images
    (2,790 + 150 + 14 + 1 by image count). An annotation of that shape, built here from the raw XML
    with regexes, joins completely and gives R2Gen's 2,069 / 296 / 590."""
    studies = []
    with tarfile.open(TGZ) as tar:
        for m in sorted(tar.getmembers(), key=lambda m: m.name):
            if m.isfile() and m.name.endswith(".xml"):
                text = tar.extractfile(m).read().decode("utf-8")
                images = re.findall(r'<parentImage id="([^"]+)"', text)
                findings = re.search(r'<AbstractText Label="FINDINGS">(.*?)</AbstractText>', text, re.S)
                if findings and findings.group(1).strip() and len(images) >= 2:
                    studies.append(images[0][: images[0].rindex("-")])
    assert len(studies) == 2955
    ann, bounds = {"train": [], "val": [], "test": []}, {"train": (0, 2069), "val": (2069, 2365), "test": (2365, 2955)}
    for split, (a, b) in bounds.items():
        ann[split] = [{"id": i, "report": "x", "image_path": [f"{i}/0.png", f"{i}/1.png"], "split": split}
                      for i in studies[a:b]]
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    r = cli("prepare", "iu", "--reports", TGZ, "--annotation", tmp_path / "annotation.json")
    assert r.code == 0, r.err
    stats = json.loads((ws / "prepare/iu/stats.json").read_text())
    assert stats["splits"] == {"test": 590, "train": 2069, "val": 296}
    assert "annotation.json ids without a matching report" not in stats["notes"]
    assert stats["dropped"] == {"no findings": 530, "not in annotation.json": 382, "no image": 88}


@pytest.mark.e2e
def test_generate_refuses_zero_predictions(tmp_path, cli, ws):
    """The same empty-result rule at the end of the chain: a split without records gives no preds.jsonl."""
    import torch
    torch.set_num_threads(1)
    ann = _iu_tree(tmp_path / "iu_xray")
    data = json.loads(ann.read_text())
    data["train"] += [dict(e, split="train") for e in data.pop("val")]
    data["val"] = []
    ann.write_text(json.dumps(data))
    assert cli("prepare", "iu", "--annotation", ann).code == 0
    assert cli("embed", "--dataset", "iu", "--encoder", "tiny-swin-grid", "--workers", "0", "--device", "cpu").code == 0
    r = cli("train", "--mode", "shallow", "--llm", "tiny-llama", "--encoder", "tiny-swin-grid", "--dataset", "iu",
            "--run", "r", "optim.max_steps=1", "optim.batch_size=2", "max_len=16")
    assert r.code == 0, r.err
    r = cli("generate", "--run", "r", "--split", "val", "max_new_tokens=4")
    assert r.code == 3 and "generate/r/val: 0 predictions to write" in r.err and "has no record in split 'val'" in r.err
    assert not (ws / "generate" / "r" / "val").exists()


def test_the_other_copys_annotation_names_the_right_command(tmp_path, cli, ws):
    mimic = _mimic_tree(tmp_path / "mimic_cxr")
    r = cli("prepare", "iu", "--annotation", mimic)
    assert r.code == 3 and (f"{mimic}: entries carry study_id and subject_id: this is R2Gen's mimic_cxr annotation; "
                            f"run `cxrgen prepare mimic --annotation {mimic}`") in r.err
    iu = _iu_tree(tmp_path / "iu_xray")
    r = cli("prepare", "mimic", "--annotation", iu)
    assert r.code == 3 and "this looks like R2Gen's iu_xray annotation; run `cxrgen prepare iu --annotation" in r.err
    assert not (ws / "prepare").exists() or not any((ws / "prepare").iterdir())


def test_embed_warns_when_most_images_are_unreadable_and_strict_refuses(tmp_path, cli, ws, caplog):
    ann = _iu_tree(tmp_path / "iu_xray")
    assert cli("prepare", "iu", "--annotation", ann).code == 0
    for p in sorted((tmp_path / "iu_xray/images").rglob("*.png"))[:4]:
        p.write_bytes(b"not a png")
    args = ("embed", "--dataset", "iu", "--encoder", "tiny-medclip-vit", "--workers", "0", "--device", "cpu",
            "--on-error", "skip")
    r = cli(*args, "--strict")
    assert r.code == 3 and "embed/iu/tiny-medclip-vit: unreadable image dropped 4 of 7 images (57%)" in r.err, r.err
    assert "(--strict)" in r.err and not (ws / "embed/iu/tiny-medclip-vit/features.h5").exists()
    r = cli(*args)
    assert r.code == 0 and "3 of 7 images, 4 skipped" in r.out
    assert "embed/iu/tiny-medclip-vit: unreadable image dropped 4 of 7 images (57%)" in caplog.text


def test_reproduce_takes_the_r2gen_iu_copy_alone(tmp_path, cli, ws):
    ann = _iu_tree(tmp_path / "iu_xray")
    (tmp_path / "w.pt").touch()
    r = cli("reproduce", "r2gengpt-shallow-iu", "--annotation", ann, "--encoder-weights", tmp_path / "w.pt",
            "--dry-run", "--json")
    assert r.code == 0, r.err
    cmds = json.loads(r.out)["commands"]
    assert cmds[0][3:] == ["prepare", "iu", "--annotation", str(ann), "--views", "all"]
    r = cli("reproduce", "r2gengpt-shallow-iu")
    assert r.code == 2 and "or only --annotation (R2Gen's iu_xray/annotation.json with images/ beside it)" in r.err
