"""`cxrgen score` and `cxrgen label` end to end: outputs, workspace mode, comparisons and bad input."""

from __future__ import annotations

import json

import pytest

from cxrgen.metrics.chexpert import CLASSES
from cxrgen.metrics.labelers import RulesLabeler
from tests.score.conftest import make_pairs, write_preds

RULES = RulesLabeler.name

FAST = ("--metrics", "bleu,rouge_l,cider,ce")


@pytest.fixture
def preds(tmp_path):
    p = tmp_path / "a.jsonl"
    write_preds(p, make_pairs(30, seed=1))
    return p


def test_score_file_writes_scores_and_per_sample(cli, preds, tmp_path, meteor):
    out = tmp_path / "out"
    r = cli("score", preds, "--out", out, "--bootstrap", "50", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert json.loads((out / "scores.json").read_text()) == doc
    assert {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"} <= set(doc["metrics"])
    assert len(doc["metrics"]) == 7 + 18  # 3 averages x P/R/F1 x 14/5 classes
    assert "ce_micro_f1_14" in doc["metrics"] and "ce_macro_f1_5" in doc["metrics"]
    assert set(doc["ci95"]) == set(doc["metrics"])
    assert doc["counts"] == {"reports": 30, "empty_predictions": 0, "empty_references": 0}
    assert set(doc["ce"]["variants"]) == {"uncertain=pos", "uncertain=neg"}
    assert set(doc["ce"]["variants"]["uncertain=neg"]) == {"14", "5"}
    assert doc["settings"]["reference_labels"] == f"ref=labeler (headline): {RULES} on the reference text"
    assert doc["ce"]["headline"] == {"reference": "ref=labeler", "uncertain": "pos", "labeler": RULES}
    assert list(doc["ce"]["references"]) == ["labeler"]  # no data set labels: one source
    assert doc["settings"]["tokenize"] == "none" and doc["packages"]["pycocoevalcap"] == "1.2"
    assert len(doc["reference_fingerprint"]) == 64
    rows = [json.loads(x) for x in (out / "per_sample.jsonl").read_text().splitlines()]
    assert [x["id"] for x in rows] == [f"s{i:03d}" for i in range(30)]
    assert set(rows[0]) == {"id", "bleu_4", "meteor", "rouge_l", "cider", "labels", "reference_labels"}
    assert list(rows[0]["labels"]) == list(CLASSES)
    # the headline CE equals the uncertain=pos variant
    assert doc["metrics"]["ce_micro_f1_14"] == doc["ce"]["variants"]["uncertain=pos"]["14"]["scores"]["micro_f1"]


def test_uncertain_neg_headline_and_records_labels(cli, preds, tmp_path):
    records = tmp_path / "records.jsonl"
    with open(records, "w") as f:
        for i in range(30):
            labels = {c: None for c in CLASSES}
            labels["Cardiomegaly"] = 1.0
            f.write(json.dumps({"id": f"s{i:03d}", "labels": labels}) + "\n")
    r = cli("score", preds, *FAST, "--records", records, "--uncertain", "neg", "--bootstrap", "0", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["settings"]["reference_labels"] == (f"ref=dataset (headline): data set labels from {records}; "
                                                   f"ref=labeler: {RULES} on the reference text")
    assert doc["ci95"] == {}
    neg = doc["ce"]["variants"]["uncertain=neg"]["14"]
    assert doc["ce"]["references"]["dataset"]["variants"]["uncertain=neg"]["14"] == neg
    assert doc["metrics"]["ce_micro_f1_14"] == neg["scores"]["micro_f1"]
    assert neg["per_class"]["Cardiomegaly"]["support"] == 30
    assert neg["per_class"]["Edema"]["support"] == 0
    # the labeler's labels of the references, side by side under their own keys
    lab = doc["ce"]["references"]["labeler"]["variants"]["uncertain=neg"]["14"]
    assert doc["metrics"]["ce_micro_f1_14@ref=labeler"] == lab["scores"]["micro_f1"]
    assert lab["per_class"]["Cardiomegaly"]["support"] < 30
    assert len([k for k in doc["metrics"] if k.startswith("ce_")]) == 36


def test_compare_same_references(cli, preds, tmp_path):
    other = tmp_path / "b.jsonl"
    pairs = make_pairs(30, seed=2)
    write_preds(other, list(reversed(pairs)))  # line order does not matter
    r = cli("score", preds, *FAST, "--compare", other, "--bootstrap", "100", "--permutations", "200", "--json")
    assert r.code == 0, r.err
    cmp = json.loads(r.out)["compare"]
    assert cmp["paired_bootstrap"]["resamples"] == 100 and cmp["randomization"]["trials"] == 200
    res = cmp["randomization"]["results"]["bleu_4"]
    assert 0 < res["p"] <= 1 and res["delta"] == pytest.approx(cmp["delta"]["bleu_4"], abs=1e-12)
    r2 = cli("score", preds, *FAST, "--compare", other, "--bootstrap", "100", "--permutations", "200", "--json")
    assert json.loads(r2.out)["compare"]["paired_bootstrap"] == cmp["paired_bootstrap"]
    doc = json.loads(r.out)  # both sides labelled by the one configured labeler, recorded with the pair
    assert cmp["labeler"] == doc["settings"]["labeler"] and cmp["labeler"].startswith("cxrgen-rules-2 ")
    assert cmp["reference_fingerprint"] == doc["reference_fingerprint"]


def test_runs_of_different_labelers_or_references_refuse_to_be_compared():
    from cxrgen.errors import InputError
    from cxrgen.stages.score import comparable
    rules = {"settings": {"labeler": "cxrgen-rules-2"}, "reference_fingerprint": "a" * 64}
    chexbert = {"settings": {"labeler": "chexbert (weights chexbert.pth sha256:0123456789ab)"},
                "reference_fingerprint": "b" * 64}
    comparable(rules, "a/scores.json", dict(rules), "b/scores.json")  # same labeler, same references: fine
    with pytest.raises(InputError) as e:
        comparable(rules, "a/scores.json", chexbert, "b/scores.json")
    assert str(e.value) == ("refusing to compare a/scores.json (labeler cxrgen-rules-2) with b/scores.json (labeler "
                            "chexbert (weights chexbert.pth sha256:0123456789ab)): their CE labels come from different "
                            "labelers; re-score both with the same --labeler")
    with pytest.raises(InputError) as e:
        comparable({"settings": {"labeler": None}, "reference_fingerprint": "c" * 64}, "a/scores.json",
                   rules, "b/scores.json")
    assert "(labeler none, no ce) with b/scores.json (labeler cxrgen-rules-2)" in str(e.value)
    with pytest.raises(InputError) as e:
        comparable(rules, "a/scores.json", {**rules, "reference_fingerprint": "d" * 64}, "b/scores.json")
    assert str(e.value) == ("refusing to compare a/scores.json with b/scores.json (both labeler cxrgen-rules-2): their "
                            "reference fingerprints differ (aaaaaaaaaaaa vs dddddddddddd); score both against the same "
                            "ids and reference texts; re-score both with the same --labeler")


def test_compare_refuses_different_references(cli, preds, tmp_path):
    other = tmp_path / "b.jsonl"
    pairs = make_pairs(30, seed=2, ref_seed=9)
    write_preds(other, pairs)
    out = tmp_path / "out"
    r = cli("score", preds, *FAST, "--compare", other, "--out", out)
    assert r.code == 3
    assert r.err.startswith("error: refusing to compare") and "reference sets differ" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not (out / "scores.json").exists()


@pytest.mark.parametrize("lines,message", [
    (['{"id": "a", "prediction": "x", "reference": "y"}', '{"id": "b", "prediction": "x"'],
     "line 2: not valid JSON (Expecting ',' delimiter at column 30)"),  # column 30: just past the last character
    (['{"id": "a", "prediction": "x"}'], "line 1: missing field(s) 'reference'"),
    (['{"id": "a", "prediction": "x", "reference": "y"}', "", '{"id": "a", "prediction": "z", "reference": "y"}'],
     "line 3: duplicate id 'a' (first on line 1)"),
    (['{"id": "a", "prediction": null, "reference": "y"}'], "line 1: field 'prediction' must be a string"),
    ([], "no predictions (empty file)"),
])
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, lines, message):
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + ("\n" if lines else ""))
    out = tmp_path / "out"
    r = cli("score", p, *FAST, "--out", out)
    assert r.code == 3
    assert r.err.startswith((f"error: {p} {message}", f"error: {p}: {message}")), r.err
    assert r.err.count("\n") == 1
    assert not out.exists()


def test_ids_missing_from_records_are_refused(cli, preds, tmp_path):
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"id": "s000", "labels": {"Edema": 1}}) + "\n")
    r = cli("score", preds, *FAST, "--records", records)
    assert r.code == 3 and "29 of 30 prediction ids are not in" in r.err and "(first: 's001')" in r.err


def test_unknown_metric_group(cli, preds):
    r = cli("score", preds, "--metrics", "bleu,spice")
    assert r.code == 2 and "unknown 'spice'" in r.err and "bleu,meteor,rouge_l,cider,ce" in r.err


def test_workspace_mode(cli, ws, tmp_path):
    from cxrgen.config.schema import GenerateConfig, PrepareConfig
    from cxrgen.workspace.artifact import ArtifactBuild
    from cxrgen.workspace.layout import Workspace
    w = Workspace(ws)
    r = cli("score", "--run", "r1", "--split", "test", *FAST)
    assert r.code == 4 and "generate/r1/test is missing" in r.err and "cxrgen generate --run r1 --split test" in r.err
    pairs = make_pairs(20, seed=4)
    with ArtifactBuild(w, "prepare", ("synthetic",), PrepareConfig(), []) as b:
        with open(b.work_dir / "records.jsonl", "w") as f:
            for rid, _, _ in pairs:
                f.write(json.dumps({"id": rid, "labels": {c: (1.0 if c == "Edema" else None) for c in CLASSES}}) + "\n")
        prep = b.commit(["records.jsonl"])
    entry = {"kind": "artifact", "stage": "prepare", "key": ["synthetic"], "fingerprint": prep.fingerprint}
    with ArtifactBuild(w, "generate", ("r1", "test"), GenerateConfig(), [entry]) as b:
        write_preds(b.work_dir / "preds.jsonl", pairs)
        b.commit(["preds.jsonl"])
    r = cli("score", "--run", "r1", "--split", "test", *FAST, "--bootstrap", "20", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    folder = w.artifact_dir("score", "r1", "test")
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "manifest.json", "per_sample.jsonl", "scores.json"]
    assert doc["settings"]["reference_labels"].startswith("ref=dataset (headline): data set labels from ")
    assert doc["ce"]["variants"]["uncertain=pos"]["14"]["per_class"]["Edema"]["support"] == 20
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {i["stage"] for i in manifest["inputs"] if i["kind"] == "artifact"} == {"generate", "prepare"}
    mtime = (folder / "scores.json").stat().st_mtime_ns
    r = cli("score", "--run", "r1", "--split", "test", *FAST, "--bootstrap", "20")
    assert r.code == 0 and (folder / "scores.json").stat().st_mtime_ns == mtime  # up to date: reused


def test_label_jsonl_and_text(cli, tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({"id": "x1", "report": "No pleural effusion. Mild cardiomegaly."}) + "\n"
                   + json.dumps({"id": "x2", "report": "Cannot exclude pneumonia."}) + "\n")
    r = cli("label", src, "--field", "report")
    assert r.code == 0, r.err
    rows = [json.loads(x) for x in r.out.splitlines()]
    assert list(rows[0]) == ["id", *CLASSES]
    assert rows[0]["id"] == "x1" and rows[0]["Pleural Effusion"] == 0 and rows[0]["Cardiomegaly"] == 1
    assert rows[0]["No Finding"] is None and rows[1]["Pneumonia"] == -1 and rows[1]["Edema"] is None
    txt = tmp_path / "r.txt"
    txt.write_text("Heart size is normal.\nSmall left effusion.\n")
    out = tmp_path / "labels.jsonl"
    r = cli("label", txt, "--out", out)
    assert r.code == 0 and r.out == ""
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in rows] == ["1", "2"]
    assert rows[0]["Cardiomegaly"] == 0 and rows[1]["Pleural Effusion"] == 1
    r = cli("label", src, "--field", "text")
    assert r.code == 3 and "line 1: missing field 'text'" in r.err


def test_verbatim_prediction_scores_one_under_ref_labeler_beside_ref_dataset(cli, tmp_path):
    """A prediction equal to its reference scores CE 1.0 against the labeler's reference labels, while the data
    set's labels (MIMIC's come from the impression, not the findings) can disagree; both are printed, named."""
    pairs = [(rid, ref, ref) for rid, _, ref in make_pairs(30, seed=1)]
    preds = tmp_path / "same.jsonl"
    write_preds(preds, pairs)
    records = tmp_path / "records.jsonl"
    with open(records, "w") as f:
        for rid, _, _ in pairs:
            f.write(json.dumps({"id": rid, "labels": {c: (1.0 if c == "Edema" else None) for c in CLASSES}}) + "\n")
    r = cli("score", preds, *FAST, "--records", records, "--reference-labels", "labeler", "--bootstrap", "20", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["ce"]["headline"]["reference"] == "ref=labeler"
    for subset in ("14", "5"):
        assert doc["metrics"][f"ce_micro_f1_{subset}"] == 1.0
        assert doc["ce"]["variants"]["uncertain=neg"][subset]["scores"]["example_empty1_f1"] == 1.0
    assert doc["metrics"]["ce_micro_f1_14@ref=dataset"] < 0.5
    assert doc["ci95"]["ce_micro_f1_14@ref=dataset"][1] < 0.6  # bootstrapped like every metric
    r = cli("score", preds, *FAST, "--records", records, "--reference-labels", "labeler", "--bootstrap", "0")
    assert r.code == 0, r.err
    rows = {line.split()[1]: line for line in r.out.splitlines() if line.startswith("│ ce_")}
    assert "1.0000" in rows["ce_micro_f1_14"] and "ref=labeler unc=pos" in rows["ce_micro_f1_14"]
    assert "ref=dataset unc=pos" in rows["ce_micro_f1_14@ref=dataset"]
    assert f"CE labeler: {RULES}" in " ".join(r.out.split())


def test_reference_labels_dataset_needs_records(cli, preds, tmp_path):
    out = tmp_path / "out"
    r = cli("score", preds, *FAST, "--reference-labels", "dataset", "--out", out)
    assert r.code == 3 and r.err.count("\n") == 1
    assert "--reference-labels dataset: no data set labels (no prepared data set labels given)" in r.err
    assert "--records records.jsonl" in r.err and not out.exists()
