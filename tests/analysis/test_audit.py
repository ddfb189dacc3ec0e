"""`cxrgen audit`: none in the synthetic default split; planted leaks (patient, image copy) are found."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def synthetic_ws(tmp_path_factory):
    from cxrgen.config.schema import PrepareConfig
    from cxrgen.stages import prepare
    from cxrgen.workspace.layout import Workspace
    ws = Workspace.resolve(tmp_path_factory.mktemp("audit") / "ws")
    prepare.run(PrepareConfig(dataset="synthetic", n=40, name="syn"), ws=ws)
    return ws


def test_synthetic_default_split_has_no_leak(synthetic_ws):
    r = run_cli("audit", "--dataset", "syn", "--strict", "--json", workspace=synthetic_ws.root)
    assert r.code == 0, r.err
    res = json.loads(r.out)
    n_images = sum(len(json.loads(x)["images"]) for x in synthetic_ws.records_path("syn").read_text().splitlines())
    assert res["patients"]["count"] == 0 and res["images"]["count"] == 0 and res["leaks"] == 0
    assert res["images"]["hashed"] == n_images and res["images"]["unreadable_count"] == 0
    assert res["records"] == sum(res["splits"].values())


def _plant(ws):
    """prepare/leaky: syn's records with one test study moved to a training patient and one test image
    replaced by a byte copy of a training image under a new name."""
    from cxrgen.config.schema import PrepareConfig
    from cxrgen.workspace.artifact import ArtifactBuild
    from cxrgen.workspace.manifest import read_manifest
    rows = [json.loads(x) for x in ws.records_path("syn").read_text().splitlines()]
    root = read_manifest(ws.artifact_dir("prepare", "syn")).extra["root"]
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    test[0]["patient_id"] = train[0]["patient_id"]
    src = train[1]["images"][0]["path"]
    copy = src.rsplit("/", 1)[0] + "/copied-" + src.rsplit("/", 1)[1]
    shutil.copyfile(f"{root}/{src}", f"{root}/{copy}")
    test[1]["images"][0]["path"] = copy
    with ArtifactBuild(ws, "prepare", ("leaky",), PrepareConfig(name="leaky"), []) as b:
        (b.work_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        b.commit(["records.jsonl"], extra={"root": root})
    n_patient = sum(r["patient_id"] == train[0]["patient_id"] for r in rows)
    return test[0]["id"], train[0]["id"], test[1]["id"], train[1]["id"], n_patient


def test_planted_leaks_are_found(synthetic_ws):
    moved, same_patient, copied, original, n_patient = _plant(synthetic_ws)
    r = run_cli("audit", "--dataset", "leaky", "--json", workspace=synthetic_ws.root)
    assert r.code == 0, r.err  # without --strict: a report, exit 0
    res = json.loads(r.out)
    p, im = res["patients"], res["images"]
    assert (p["count"], p["records"], p["pairs"]) == (1, n_patient, {"test/train": 1}) and n_patient >= 2
    assert moved in p["examples"][0]["splits"]["test"] and same_patient in p["examples"][0]["splits"]["train"]
    assert (im["count"], im["records"], im["pairs"]) == (1, 2, {"test/train": 1})
    assert im["examples"][0]["splits"] == {"test": [copied], "train": [original]}
    assert res["leaks"] == 2
    strict = run_cli("audit", "--dataset", "leaky", "--strict", workspace=synthetic_ws.root)
    assert strict.code == 1
    assert _last_line(strict) == ("2 leaks found: 1 patient and 1 image in more than one split; "
                                  "no report text is shared across splits; --json lists examples")


def test_identical_reports_count_for_strict_only_on_request(synthetic_ws):
    res = json.loads(run_cli("audit", "--dataset", "syn", "--json", "--no-images", workspace=synthetic_ws.root).out)
    rows = [json.loads(x) for x in synthetic_ws.records_path("syn").read_text().splitlines()]
    by_text = {}
    for r in rows:
        by_text.setdefault(" ".join(r["report"].split()).casefold(), set()).add(r["split"])
    assert res["reports"]["count"] == sum(len(s) > 1 for s in by_text.values())
    assert res["images"] == {"skipped": "--no-images"}
    code = run_cli("audit", "--dataset", "syn", "--strict", "--strict-reports", "--no-images", workspace=synthetic_ws.root).code
    assert code == (1 if res["reports"]["count"] else 0)


def _shared_reports(ws, n_shared: int) -> str:
    """prepare/dup-N: syn's records with unique report texts, except N test records that copy a training
    record's text (no patient or image is shared)."""
    from cxrgen.config.schema import PrepareConfig
    from cxrgen.workspace.artifact import ArtifactBuild
    from cxrgen.workspace.manifest import read_manifest
    rows = [json.loads(x) for x in ws.records_path("syn").read_text().splitlines()]
    for r in rows:
        r["report"] = f"report of study {r['id']} ."
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    for i in range(n_shared):
        test[i]["report"] = train[i]["report"].upper()  # case and spacing do not hide a copy
    name = f"dup-{n_shared}"
    root = read_manifest(ws.artifact_dir("prepare", "syn")).extra["root"]
    with ArtifactBuild(ws, "prepare", (name,), PrepareConfig(name=name), []) as b:
        (b.work_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        b.commit(["records.jsonl"], extra={"root": root})
    return name


def _last_line(r) -> str:
    """The closing line, as one line (the console wraps it at 80 columns)."""
    return " ".join(r.out.split("└")[-1].split("┘", 1)[-1].split())


def test_shared_reports_are_named_in_the_last_line_not_called_no_leak(synthetic_ws):
    name = _shared_reports(synthetic_ws, 2)
    res = json.loads(run_cli("audit", "--dataset", name, "--json", workspace=synthetic_ws.root).out)
    assert (res["patients"]["count"], res["images"]["count"], res["reports"]["count"], res["reports"]["records"]) == (0, 0, 2, 4)
    assert res["leaks"] == 0
    for flags in ((), ("--strict",)):
        r = run_cli("audit", "--dataset", name, *flags, workspace=synthetic_ws.root)
        assert r.code == 0, r.err
        assert _last_line(r) == ("no patient or image leak; 2 report texts are identical across splits (templated "
                                 "normal reports are common; --strict-reports makes this an error); --json lists examples")
        assert "no leak found" not in r.out


def test_strict_reports_alone_fails_on_shared_reports(synthetic_ws):
    name = _shared_reports(synthetic_ws, 1)
    r = run_cli("audit", "--dataset", name, "--strict-reports", workspace=synthetic_ws.root)
    assert r.code == 1, r.err
    assert _last_line(r) == ("no patient or image leak; 1 report text is identical across splits (an error with "
                             "--strict-reports); --json lists examples")
    assert run_cli("audit", "--dataset", name, "--strict-reports", "--strict", workspace=synthetic_ws.root).code == 1
    r = run_cli("audit", "--dataset", name, "--strict-reports", "--json", workspace=synthetic_ws.root)
    assert r.code == 1 and json.loads(r.out)["leaks"] == 1
    assert run_cli("audit", "--dataset", "syn", "--strict-reports", "--no-images", workspace=synthetic_ws.root).code == \
        (1 if json.loads(run_cli("audit", "--dataset", "syn", "--json", "--no-images",
                                 workspace=synthetic_ws.root).out)["reports"]["count"] else 0)


def test_help_documents_both_strict_flags(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    r = run_cli("audit", "--help")
    assert r.code == 0
    text = " ".join(r.out.replace("<bool>", "").split())
    assert "--strict exit 1 when a patient or an identical image file is in more than one split" in text
    assert ("--strict-reports exit 1 when a patient, an identical image or an identical report text is in more than "
            "one split (implies --strict)") in text
    assert "--strict-reports exits 1 for them too" in text  # and the description says why they are apart


def test_missing_dataset_is_one_line(tmp_path):
    r = run_cli("audit", "--dataset", "nope", workspace=tmp_path / "ws")
    assert r.code == 4 and "prepare/nope is missing" in r.err and r.err.count("\n") == 1
