"""The bad-input corpus: each case gives a one-line error (no traceback) with the exact exit code of its
error kind (Case.code, the *exit* column of docs/faults.md), or a counted skip, and never leaves a
half-written artifact. ``python tests/faults/test_bad_inputs.py`` rewrites the table
in docs/faults.md from CASES (a test checks that it is current)."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tests.faults.harness import Case

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "faults.md"


# --- inputs ---------------------------------------------------------------------------------------
def _jsonl(tmp: Path, name: str, rows: list, raw: bytes | None = None) -> Path:
    p = tmp / name
    p.write_bytes(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows).encode())
    return p


def _pred(i, pred="no acute findings .", ref="no acute findings ."):
    return {"id": str(i), "prediction": pred, "reference": ref}


def _dicom_bytes(pixels: bool = True, photometric: str = "MONOCHROME1") -> bytes:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 4, 4, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PhotometricInterpretation = photometric
    if pixels:
        ds.PixelData = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _corrupt(mode: str) -> Callable:
    def setup(tmp, ws):
        # the first frontal image of the records (DICOM content is recognised by its DICM magic)
        rec = json.loads((ws / "prepare/syn/records.jsonl").read_text().splitlines()[0])
        root = Path(json.loads((ws / "prepare/syn/manifest.json").read_text())["extra"]["root"])
        img = root / rec["images"][0]["path"]
        data = img.read_bytes()
        if mode == "truncated jpeg":
            img.write_bytes(data[: len(data) // 3])
        elif mode == "zero-byte":
            img.write_bytes(b"")
        elif mode == "not an image":
            img.write_bytes(b"%PDF-1.4 this is a pdf, not an x-ray\n" * 10)
        elif mode == "missing":
            img.unlink()
        elif mode == "truncated dicom":
            img.write_bytes(_dicom_bytes()[:300])
        elif mode == "dicom without pixels":
            img.write_bytes(_dicom_bytes(pixels=False))
        return ["embed", "--dataset", "syn", "--encoder", "tiny-medclip-vit", "--workers", "0", "--force"]
    return setup


def _corrupt_png(tmp, ws):
    from PIL import Image
    p = tmp / "iu" / "img.png"
    p.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(p)
    p.write_bytes(p.read_bytes()[:2000])  # cut inside the image data
    from cxrgen.data.images import read_xray
    return ["python", lambda: read_xray(p)]


def _huge_png(tmp, ws):
    from PIL import Image
    p = tmp / "huge.png"
    Image.new("L", (20000, 20000)).save(p, optimize=False)  # 400 MP: over Pillow's decompression-bomb limit
    from cxrgen.data.images import read_xray
    return ["python", lambda: read_xray(p)]


def _mono1_16bit(tmp, ws):
    from cxrgen.data.images import read_xray
    (tmp / "m1.dcm").write_bytes(_dicom_bytes(photometric="MONOCHROME1"))
    return ["python", lambda: read_xray(tmp / "m1.dcm")]


def _mimic_tree(tmp: Path, **kw) -> Path:
    from tests.test_prepare_mimic import make_tree
    return make_tree(tmp / "mimic", **kw)


def _gz(path: Path, text: str) -> None:
    with gzip.open(path, "wt") as f:
        f.write(text)


def _mimic(edit: Callable[[Path], list] | None = None) -> Callable:
    def setup(tmp, ws):
        root = _mimic_tree(tmp)
        extra = edit(root) if edit else []
        return ["prepare", "mimic", "--root", str(root), "--name", "m", *extra]
    return setup


def _missing_columns(root):
    _gz(root / "mimic-cxr-2.0.0-split.csv.gz", "dicom_id,study_id\nd1-pa,50000001\n")
    return []


def _dup_dicom(root):
    with gzip.open(root / "mimic-cxr-2.0.0-metadata.csv.gz", "at") as f:
        f.write("d1-pa,10000032,50000001,CHEST,PA,1,1\n")
    return []


def _traversal(root):
    _gz(root / "mimic-cxr-2.0.0-metadata.csv.gz",
        "dicom_id,subject_id,study_id,ViewPosition,path\nd1-pa,10000032,50000001,PA,../../etc/passwd\n")
    return []


def _bad_zip(root):
    z = root.parent / "mimic-cxr-reports.zip"
    z.write_bytes(b"PK\x03\x04 not really a zip")
    return ["--reports", str(z)]


def _zero_report(root):
    (root / "files/p10/p10000032/s50000001.txt").write_bytes(b"")
    return []


def _non_utf8(root):
    p = root / "files/p10/p10000032/s50000001.txt"
    p.write_bytes(p.read_bytes().replace(b"cough", b"coug\xff"))
    return []


def _iu_bad_tgz(tmp, ws):
    p = tmp / "NLMCXR_reports.tgz"
    p.write_bytes(b"\x1f\x8b\x08 definitely not gzip")
    return ["prepare", "iu", "--reports", str(p), "--name", "iu"]


def _iu_csv_missing_columns(tmp, ws):
    p = tmp / "indiana_reports.csv"
    p.write_text("uid,findings\n1,normal heart\n")
    (tmp / "indiana_projections.csv").write_text("uid,filename,projection\n1,1_IM-0001-1001.dcm.png,Frontal\n")
    return ["prepare", "iu", "--reports", str(p), "--name", "iu"]


def _iu_r2gen_without_annotation(tmp, ws):
    import torchxrayvision
    tgz = Path(torchxrayvision.__file__).parent / "data" / "NLMCXR_reports.tgz"
    return ["prepare", "iu", "--reports", str(tgz), "--split", "r2gen", "--name", "iu"]


def _r2gen_iu(edit: Callable[[dict], None] | None = None, images: bool = True, args=()) -> Callable:
    """R2Gen's iu_xray copy (annotation.json + images/<id>/0.png), edited into a bad one."""
    def setup(tmp, ws):
        root = tmp / "iu_xray"
        (root / "images").mkdir(parents=True)
        if images:
            (root / "images" / "CXR1_1_IM-0001").mkdir()
            (root / "images" / "CXR1_1_IM-0001" / "0.png").write_bytes(b"png")
        ann = {"train": [{"id": "CXR1_1_IM-0001", "report": "No effusion.", "image_path": ["CXR1_1_IM-0001/0.png"],
                          "split": "train"}], "val": [], "test": []}
        if edit:
            edit(ann)
        (root / "annotation.json").write_text(json.dumps(ann))
        return ["prepare", "iu", "--annotation", str(root / "annotation.json"), "--name", "iu", *args]
    return setup


def _two_splits(ann):
    ann["test"].append(dict(ann["train"][0], split="test"))


def _escaping(ann):
    ann["train"][0]["image_path"] = ["../../../etc/passwd"]


def _r2gen_folders_without_annotation(tmp, ws):
    import torchxrayvision
    tgz = Path(torchxrayvision.__file__).parent / "data" / "NLMCXR_reports.tgz"
    _r2gen_iu()(tmp, ws)
    return ["prepare", "iu", "--reports", str(tgz), "--images", str(tmp / "iu_xray" / "images"), "--name", "iu"]


def _score(rows=None, raw=None, extra=()):
    def setup(tmp, ws):
        return ["score", str(_jsonl(tmp, "preds.jsonl", rows or [], raw)), "--metrics", "bleu,rouge_l",
                "--out", str(tmp / "scores"), *extra]
    return setup


def _compare_mismatch(tmp, ws):
    a = _jsonl(tmp, "a.jsonl", [_pred(i) for i in range(4)])
    b = _jsonl(tmp, "b.jsonl", [_pred(i, ref="other reference") for i in range(4)])
    return ["score", str(a), "--compare", str(b), "--metrics", "bleu", "--out", str(tmp / "scores")]


def _train(*extra):
    def setup(tmp, ws):
        return ["train", "--mode", "prefix", "--llm", "tiny-gpt2", "--dataset", "syn", "--encoder", "tiny-medclip-vit",
                "--run", "bad", *extra]
    return setup


def _bad_yaml(tmp, ws):
    p = tmp / "cfg.yaml"
    p.write_text("optim:\n  lr: [1, 2\n")
    return _train("--config", str(p))(tmp, ws)


def _other_mode_checkpoint(tmp, ws):
    return ["train", "--mode", "finetune", "--llm", "tiny-gpt2", "--dataset", "syn", "--encoder", "tiny-medclip-vit",
            "--run", "ft", "--resume", str(ws / "train/r/final")]


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('CXRGEN_FAULT_MARKER', '/tmp/cxrgen-pwned')}",))


def _pickle_checkpoint(tmp, ws):
    ck = tmp / "step-000001"
    shutil.copytree(ws / "train/r/final", ck)
    os.environ["CXRGEN_FAULT_MARKER"] = str(tmp / "PWNED")
    (ck / "optimizer.pt").write_bytes(pickle.dumps({"optimizer": _Boom()}))
    return ["train", "--mode", "prefix", "--llm", "tiny-gpt2", "--dataset", "syn", "--encoder", "tiny-medclip-vit",
            "--run", "evil", "--resume", str(ck), "--resume-from-other"]


def _generate_missing_run(tmp, ws):
    return ["generate", "--run", "nope", "--split", "test"]


def _embed_before_prepare(tmp, ws):
    return ["embed", "--dataset", "never-prepared", "--encoder", "tiny-medclip-vit"]


def _read_only(tmp, ws):
    os.environ["CXRGEN_FAULT_ERRNO"] = "EROFS"  # simulated: root ignores chmod, so writes fail by injection
    return ["prepare", "synthetic", "--n", "10", "--name", "ro", "--root", str(tmp / "ro-data")]


def _disk_full(tmp, ws):
    os.environ["CXRGEN_FAULT_ERRNO"] = "ENOSPC"
    return ["score", str(_jsonl(tmp, "p.jsonl", [_pred(i) for i in range(3)])), "--metrics", "bleu",
            "--out", str(tmp / "full")]


CASES = [
    # prepare
    Case("CSV with missing columns", "prepare", _mimic(_missing_columns), r"split\.csv\.gz line 1: missing column\(s\) 'split'",
         "error naming file, line and column", code=3),
    Case("duplicated dicom_id", "prepare", _mimic(_dup_dicom), r"duplicate dicom_id d1-pa \(first on line 2\)",
         "error naming both lines", code=3),
    Case("path traversal in a record", "prepare", _mimic(_traversal), r"'\.\./\.\./etc/passwd' escapes its root",
         "error; nothing outside the root is read", code=3),
    Case("unreadable reports zip", "prepare", _mimic(_bad_zip), r"not a readable zip archive", "error", code=3),
    Case("zero-byte report", "prepare", _mimic(_zero_report), "skip:prepare/m/stats.json:dropped.no findings=2",
         "counted skip (no findings)", code=0),
    Case("non-UTF-8 report", "prepare", _mimic(_non_utf8),
         "skip:prepare/m/stats.json:dropped.unreadable report (not UTF-8 / malformed)=1",
         "counted skip; `on_error=fail` makes it an error naming file and line", code=0),
    Case("report files missing", "prepare", _mimic(), "skip:prepare/m/stats.json:dropped.no report file=1",
         "counted skip; `on_error=fail` makes it an error", code=0),
    Case("corrupt IU tarball", "prepare", _iu_bad_tgz, r"NLMCXR_reports\.tgz", "error naming the archive", code=3),
    Case("IU CSV with missing columns", "prepare", _iu_csv_missing_columns, r"indiana_reports\.csv.*missing column",
         "error naming file and column", code=3),
    Case("r2gen split without annotation.json", "prepare", _iu_r2gen_without_annotation, r"--annotation",
         "error asking for --annotation", code=2),
    Case("R2Gen annotation.json not in R2Gen's format", "prepare", _r2gen_iu(lambda a: a.update(train=[["CXR1"]])),
         r"annotation\.json: train\[0\] has no 'id'; expected R2Gen's annotation\.json", "error naming the file and the format", code=3),
    Case("R2Gen image_path escaping the images folder", "prepare", _r2gen_iu(_escaping),
         r"annotation\.json: train\[0\] \('CXR1_1_IM-0001'\): image_path '\.\./\.\./\.\./etc/passwd' escapes its root",
         "error naming the file and the entry; nothing outside the folder is read", code=3),
    Case("R2Gen id in two splits", "prepare", _r2gen_iu(_two_splits),
         r"id 'CXR1_1_IM-0001' is in both train and test", "error naming the id and both splits", code=3),
    Case("R2Gen copy with an empty images/", "prepare", _r2gen_iu(images=False),
         r"prepare/iu: 0 of 1 studies kept: image file missing ×1", "error naming the top drop reason and the fix; nothing written", code=3),
    Case("R2Gen image folders without annotation.json", "prepare", _r2gen_folders_without_annotation,
         r"image file missing ×\d+; .*holds R2Gen-style folders \(<id>/0\.png\): pass --annotation",
         "error saying to pass the annotation", code=3),
    Case("read-only workspace", "prepare", _read_only, r"cannot write \((the file system is read-only|permission denied)\)",
         "error; previous artifacts untouched", code=6),
    # embed
    Case("truncated JPEG", "embed", _corrupt("truncated jpeg"), r"\.jpg: unreadable image",
         "error naming the file; `--on-error skip` counts it and lists its id in the manifest", code=3),
    Case("zero-byte image", "embed", _corrupt("zero-byte"), r"\.jpg: (unreadable image|not an image)", "error naming the file", code=3),
    Case("non-image file with an image name", "embed", _corrupt("not an image"), r"\.jpg: (not an image|unreadable image)",
         "error naming the file", code=3),
    Case("missing image file", "embed", _corrupt("missing"), r"\.jpg: image file not found", "error naming the file", code=3),
    Case("truncated DICOM", "embed", _corrupt("truncated dicom"), r"\.jpg: (unreadable|cannot decode|DICOM file without pixel data \(truncated)", "error naming the file", code=3),
    Case("DICOM without pixel data", "embed", _corrupt("dicom without pixels"), r"\.jpg: DICOM file without pixel data",
         "error naming the file", code=3),
    Case("corrupt PNG", "embed", _corrupt_png, r"img\.png: unreadable image", "error naming the file", code=3),
    Case("huge image (decompression bomb)", "embed", _huge_png, r"huge\.png: unreadable image .*(decompression bomb|exceeds)",
         "error naming the file (Pillow's pixel limit)", code=3),
    Case("MONOCHROME1 16-bit DICOM", "embed", _mono1_16bit, "ok", "read: inverted, scaled to [0, 1]", code=0),
    Case("embed before prepare", "embed", _embed_before_prepare,
         r"prepare/never-prepared is missing .*run `cxrgen prepare", "error naming the command to run first", code=4),
    # train / generate
    Case("unknown config key", "train", _train("optim.learning_rate=1"), r"unknown config key 'optim\.learning_rate'.*valid keys: optim\.lr",
         "error listing the valid keys", code=2),
    Case("wrong value type", "train", _train("prefix_len=ten"), r"prefix_len='ten' is not a valid int", "error naming key and type", code=2),
    Case("invalid YAML config", "train", _bad_yaml, r"cfg\.yaml: not valid YAML", "error naming the file", code=2),
    Case("unknown LLM alias", "train", _train("llm=gpt5"), r"unknown llm 'gpt5'|gpt5", "error listing the registry", code=2),
    Case("checkpoint from another mode", "train", _other_mode_checkpoint, r"checkpoint of mode 'prefix', not 'finetune'",
         "error naming both modes", code=3),
    Case("pickle checkpoint with code in it", "train", _pickle_checkpoint, r"optimizer\.pt: refused",
         "refused (weights_only); the payload never runs", code=3),
    Case("generate without a trained run", "generate", _generate_missing_run, r"train/nope is missing .*run `cxrgen train",
         "error naming the command to run first", code=4),
    # score
    Case("malformed preds.jsonl line", "score", _score(raw=b'{"id": "1", "prediction": "a", "reference": "a"}\n{oops\n'),
         r"preds\.jsonl line 2: not valid JSON", "error with the line number; no scores.json", code=3),
    Case("preds missing a field", "score", _score([{"id": "1", "prediction": "a"}]), r"line 1: missing field\(s\) 'reference'",
         "error with the line number", code=3),
    Case("duplicate prediction ids", "score", _score([_pred(1), _pred(1)]), r"line 2: duplicate id '1' \(first on line 1\)",
         "error naming both lines", code=3),
    Case("empty preds file", "score", _score(raw=b""), r"no predictions \(empty file\)", "error", code=3),
    Case("non-UTF-8 preds file", "score", _score(raw=b'{"id": "1", "prediction": "\xff", "reference": "a"}\n'),
         r"preds\.jsonl line 1: not valid", "error with the line number", code=3),
    Case("--compare on another reference set", "score", _compare_mismatch, r"refusing to compare .* reference sets differ",
         "refused", code=3),
    Case("disk full while writing scores", "score", _disk_full, r"cannot write \(the disk is full\)",
         "error; no partial scores.json", code=6),
]
from tests.faults.hostile import HOSTILE, UPSTREAM  # noqa: E402  (they reuse the helpers above)
CASES += HOSTILE + UPSTREAM


# --- the shared pipeline workspace (prepare → embed → train 2 steps → generate → score) -----------
@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from tests.conftest import run_cli
    ws = tmp_path_factory.mktemp("pipeline") / "ws"
    steps = [("prepare", "synthetic", "--n", "24", "--name", "syn", "--root", str(ws.parent / "data")),
             ("embed", "--dataset", "syn", "--encoder", "tiny-medclip-vit", "--workers", "0"),
             ("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--dataset", "syn", "--encoder", "tiny-medclip-vit",
              "--run", "r", "optim.max_steps=2", "optim.batch_size=4"),
             ("generate", "--run", "r", "--split", "test", "--max-new-tokens", "8"),
             ("score", "--run", "r", "--split", "test", "--metrics", "bleu")]  # report's upstream (hostile.UPSTREAM)
    for s in steps:
        r = run_cli(*s, workspace=ws)
        assert r.code == 0, r.err
    return ws


def _copy(pipeline: Path, tmp: Path) -> Path:
    ws = tmp / "ws"
    shutil.copytree(pipeline, ws, symlinks=True)
    data = tmp / "data"
    shutil.copytree(pipeline.parent / "data", data)
    # the copied prepare manifest must point at the copied images
    m = ws / "prepare/syn/manifest.json"
    m.write_text(m.read_text().replace(str(pipeline.parent / "data"), str(data)))
    return ws


def _snapshot(ws: Path) -> dict:
    return {str(p.relative_to(ws)): p.read_bytes() for p in ws.rglob("manifest.json")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, pipeline, tmp_path, monkeypatch):
    from cxrgen.errors import CxrgenError
    from tests.conftest import run_cli
    ws = _copy(pipeline, tmp_path)
    args = case.setup(tmp_path, ws)
    before = _snapshot(ws)
    try:
        if args[0] == "python":  # a reader-level case: call the function directly
            if case.expect == "ok":
                out = args[1]()
                # returned normally (0), or a case that ran its own process returns (its exit code, …)
                assert (out[0] if case.code else 0) == case.code, out
                if case.check:
                    case.check(out, tmp_path, ws)
                else:
                    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1 and out[0, 0] == 1.0
                return
            with pytest.raises(CxrgenError) as e:
                args[1]()
            msg = str(e.value)
            assert e.value.exit_code == case.code, (type(e.value).__name__, e.value.exit_code, msg)
            assert "\n" not in msg
            assert __import__("re").search(case.expect, msg), msg
            if case.check:
                case.check(e.value, tmp_path, ws)
            return
        fault = os.environ.pop("CXRGEN_FAULT_ERRNO", None)
        if fault:  # every new file in the workspace fails to be created, as on a full or read-only disk
            import errno
            import tempfile

            def fail(*a, **k):
                raise OSError(getattr(errno, fault), os.strerror(getattr(errno, fault)))
            monkeypatch.setattr(tempfile, "mkstemp", fail)
            monkeypatch.setattr(os, "replace", fail)
        r = run_cli(*args, workspace=ws)
        monkeypatch.undo()
    finally:
        os.environ.pop("CXRGEN_FAULT_ERRNO", None)
    if case.expect == "ok":  # a recovered or accepted case: exit code and the check's assertions
        assert r.code == case.code, (r.code, r.out[-500:], r.err[-2000:])
        assert "Traceback" not in r.err, r.err
        if case.check:
            case.check(r, tmp_path, ws)
        return
    if case.skip:
        spec = case.expect[len("skip:"):]
        path, _, rest = spec.partition(":")
        key, _, n = rest.rpartition("=")
        assert r.code == case.code == 0, r.err
        doc = json.loads((ws / path).read_text())
        for k in key.split("."):
            doc = doc[k]
        assert doc == int(n)
        return
    import re
    assert case.code not in (0, 1, 130), f"{case.name}: an error case needs the code of its error kind"
    assert r.code == case.code, (r.code, r.out[-500:], r.err[-2000:])   # by kind: cxrgen/errors.py
    # stderr also carries the log (progress before the failure); the error is its one last line
    lines = r.err.splitlines()
    assert lines[-1].startswith("error: ") and sum(ln.startswith("error: ") for ln in lines) == 1, r.err
    assert r.err.endswith("\n") and "Traceback" not in r.err, r.err
    assert re.search(case.expect, r.err), r.err
    # previous artifacts untouched, and nothing half-written under a final name
    assert {k: v for k, v in _snapshot(ws).items() if k in before} == before
    from cxrgen.workspace.layout import Workspace
    from cxrgen.workspace.status import workspace_status
    for st in workspace_status(Workspace(ws)):
        # (stale is fine: some cases edit an input on purpose; corrupt or an unfinished final folder is not)
        if st.name in case.corrupt:
            continue
        assert st.state in ("up-to-date", "partial", "stale"), (st.name, st.state, st.reason)
        if st.state == "partial":
            assert st.path.endswith(".partial"), st.name
    assert not (tmp_path / "PWNED").exists()
    assert not (tmp_path / "scores" / "scores.json").exists() and not (tmp_path / "full" / "scores.json").exists()
    if case.check:
        case.check(r, tmp_path, ws)


def render_doc() -> str:
    lines = ["# Bad inputs and faults: what cxrgen does", "",
             "Generated from `tests/faults/test_bad_inputs.py` (`python tests/faults/test_bad_inputs.py`); each row is a test.",
             "An *error* is one line on stderr (`error: …`), an exit code by error kind (2 config, 3 bad input,",
             "4 missing upstream artifact, 5 missing dependency, 6 write failure, 75 lock held), no traceback,",
             "no half-written artifact; the *exit* column is the exact code the test asserts;",
             "a *skip* is counted in the artifact's stats/manifest; *recovered*/*accepted* rows exit 0 and the test",
             "checks the result.", "",
             f"{len(CASES)} cases.", "", "| stage | input | exit | outcome |", "|---|---|---|---|"]
    lines += [f"| {c.stage} | {c.name} | {c.code} | {c.doc} |" for c in CASES]
    lines += ["", "Crash faults (tests/faults/test_kill.py): `kill -9` at several points of embed, train and generate, then a",
              "rerun: the results equal an uninterrupted run's, and no stage reports up-to-date for a partial folder.", ""]
    return "\n".join(lines)


def test_doc_table_is_current():
    assert DOC.read_text() == render_doc(), "run `python tests/faults/test_bad_inputs.py` to update docs/faults.md"


def test_at_least_ninety_cases():
    assert len(CASES) >= 90 and len({c.name for c in CASES}) == len(CASES)


if __name__ == "__main__":
    import sys
    sys.path.insert(0, str(REPO))
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render_doc())
    print(f"wrote {DOC}")
