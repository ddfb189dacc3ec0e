"""`cxrgen score` carries the error analysis into scores.json and per_sample.jsonl."""

import json

from tests.conftest import run_cli


def test_score_file_with_records_writes_error_analysis(tmp_path):
    recs = [{"id": "t1", "patient_id": "p1", "split": "train", "report": "the lungs are clear ."},
            {"id": "t2", "patient_id": "p2", "split": "train", "report": "there is a left effusion ."},
            {"id": "a", "patient_id": "p3", "split": "test", "report": "the lungs are clear ."},
            {"id": "b", "patient_id": "p4", "split": "test", "report": "heart is enlarged ."}]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    preds = [{"id": "a", "prediction": "the lungs are clear .", "reference": "the lungs are clear ."},
             {"id": "b", "prediction": "heart size is unchanged .", "reference": "heart is enlarged ."}]
    (tmp_path / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    r = run_cli("score", str(tmp_path / "preds.jsonl"), "--records", str(tmp_path / "records.jsonl"),
                "--metrics", "bleu", "--bootstrap", "0", "--out", str(tmp_path / "out"))
    assert r.code == 0, r.err
    assert "prior references without a prior 50.0% (1/2); identical to a training report 50.0%" in " ".join(r.out.split())
    doc = json.loads((tmp_path / "out" / "scores.json").read_text())
    ea = doc["error_analysis"]
    assert ea["hallucinated_priors"]["hallucinated"] == 1 and ea["hallucinated_priors"]["without_prior"] == 2
    assert ea["copying"]["identical_to_training"] == 1 and ea["copying"]["distinct_predictions"] == 2
    rows = [json.loads(x) for x in (tmp_path / "out" / "per_sample.jsonl").read_text().splitlines()]
    assert [(x["copied"], x["mentions_prior"], x["nearest_train_id"]) for x in rows] == [(True, False, "t1"), (False, True, "t1")]


def test_labels_only_records_skip_the_analysis(tmp_path):
    (tmp_path / "records.jsonl").write_text(json.dumps({"id": "a", "labels": {}}) + "\n")
    (tmp_path / "preds.jsonl").write_text(json.dumps({"id": "a", "prediction": "x y", "reference": "x y"}) + "\n")
    r = run_cli("score", str(tmp_path / "preds.jsonl"), "--records", str(tmp_path / "records.jsonl"),
                "--metrics", "bleu", "--bootstrap", "0", "--json")
    assert r.code == 0, r.err
    assert "has no 'patient_id' field" in json.loads(r.out)["error_analysis"]["skipped"]
