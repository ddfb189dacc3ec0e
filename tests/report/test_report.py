"""`cxrgen report`: the page's contents, redaction, errors, reuse, --compare, and the page in headless Chromium."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.report.browser import Dom, dump_dom, need_browser, screenshot
from tests.report.conftest import RUN
from tests.score.test_chexbert import twin  # noqa: F401 - the tiny CheXbert twin fixture


def _page(ws, *extra):
    r = run_cli("report", "--run", RUN, "--split", "test", *extra, workspace=ws)
    assert r.code == 0, r.err
    return ws / "report" / RUN / "test" / "index.html"


def _test_records(ws):
    rows = [json.loads(x) for x in (ws / "prepare" / "tiny" / "records.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "test"]


def test_page_is_self_contained_and_matches_scores(scored_ws):
    page = _page(scored_ws)
    folder = page.parent
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "index.html", "manifest.json"]
    html = page.read_text(encoding="utf-8")
    dom = Dom(html)
    tests = _test_records(scored_ws)
    assert len(dom.cards) == len(tests) and {c["id"] for c in dom.cards} == {r["id"] for r in tests}
    assert dom.external == [] and "<link" not in html and "<script src" not in html and "http" not in html
    by_id = {r["id"]: r for r in tests}
    assert all(c["images"] == len(by_id[c["id"]]["images"]) for c in dom.cards)
    assert html.count('src="data:image/jpeg;base64,') == sum(len(r["images"]) for r in tests)
    scores = json.loads((scored_ws / "score" / RUN / "test" / "scores.json").read_text())
    assert set(dom.metrics) == set(scores["metrics"])
    for k, v in scores["metrics"].items():
        assert dom.metrics[k]["cells"][1] == f"{v:.4f}" and float(dom.metrics[k]["data_value"]) == v
    assert html.count('<tr data-finding="') == 14
    n = len(tests)
    assert html.count("copy of a training report") >= n // 4 and html.count("refers to a prior that does not exist") == (n + 1) // 4
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"] == {"studies": n, "reports": n, "images": sum(len(r["images"]) for r in tests)}
    assert {i["stage"] for i in manifest["inputs"]} == {"score", "generate", "prepare"}


def test_redact_writes_labels_not_text(scored_ws):
    html = _page(scored_ws, "--redact").read_text(encoding="utf-8")
    tests = _test_records(scored_ws)
    assert html.count("[redacted] positive findings:") == 2 * len(tests)
    assert not any(r["report"] in html for r in tests)
    assert 'id="search"' not in html  # nothing to search
    _page(scored_ws)  # back to the full page for the other tests


def test_rerun_reuses_and_missing_score_is_one_line(scored_ws):
    page = _page(scored_ws)
    mtime = page.stat().st_mtime_ns
    assert _page(scored_ws).stat().st_mtime_ns == mtime
    r = run_cli("report", "--run", "nope", "--split", "test", workspace=scored_ws)
    assert r.code == 4 and r.err.count("\n") == 1
    assert "score/nope/test is missing" in r.err and "cxrgen score --run nope --split test" in r.err


def test_compare_with_a_preds_file_names_the_difference_from_score(scored_ws, tmp_path):
    for spec in (str(tmp_path / "preds.jsonl"), "other.jsonl", "a/b/c"):
        r = run_cli("report", "--run", RUN, "--split", "test", "--compare", spec, workspace=scored_ws)
        assert r.code == 2 and r.err.count("\n") == 1, r.err
        assert "report compares with a run of this workspace, RUN or RUN/SPLIT" in r.err
        assert "a preds.jsonl file is for `cxrgen score --compare`" in r.err


def test_compare_shows_paired_differences(scored_ws):
    from cxrgen.config.schema import GenerateConfig
    from cxrgen.workspace.artifact import ArtifactBuild, upstream
    from cxrgen.workspace.layout import Workspace
    ws = Workspace.resolve(scored_ws)
    entry, _ = upstream(ws, "prepare", "tiny")
    rows = [{"id": r["id"], "prediction": "the lungs are clear .", "reference": r["report"]} for r in _test_records(scored_ws)]
    with ArtifactBuild(ws, "generate", ("normal", "test"), GenerateConfig(run="normal"), [entry]) as b:
        (b.work_dir / "preds.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
        b.commit(["preds.jsonl"])
    html = _page(scored_ws, "--compare", "normal").read_text(encoding="utf-8")
    dom = Dom(html)
    cells = dom.metrics["rouge_l"]["cells"]
    assert len(cells) == 6 and cells[4].startswith("+")  # value, CI, other, Δ, p: the hand-made set is closer
    assert float(cells[1]) - float(cells[3]) == pytest.approx(float(cells[4]), abs=2e-4)
    labeler = json.loads((scored_ws / "score" / RUN / "test" / "scores.json").read_text())["settings"]["labeler"]
    assert (f'<p id="compare-labeler">normal/test is re-scored here under this run\'s score settings; the CE labels '
            f"of both come from one labeler: {labeler}.</p>") in html.replace("&#39;", "'")


def test_compare_refuses_a_scores_json_labelled_by_other_weights(scored_ws, twin):
    """score/<run>/<split>/scores.json labelled by CheXbert weights replaced since: the re-score for --compare
    would put another labeler's CE beside it, so the report refuses (exit 3, one line, no page)."""
    import torch

    from cxrgen.config.schema import GenerateConfig
    from cxrgen.workspace.artifact import ArtifactBuild, upstream
    from cxrgen.workspace.hashing import file_sha256
    from cxrgen.workspace.layout import Workspace
    path, tok, _ = twin
    ws = Workspace.resolve(scored_ws)
    entry, _ = upstream(ws, "prepare", "tiny")
    with ArtifactBuild(ws, "generate", ("cb", "test"), GenerateConfig(run="cb"), [entry]) as b:
        (b.work_dir / "preds.jsonl").write_bytes(ws.preds_path(RUN, "test").read_bytes())
        b.commit(["preds.jsonl"])
    weights = path.parent / "replaced" / "chexbert.pth"
    weights.parent.mkdir()
    weights.write_bytes(path.read_bytes())
    r = run_cli("score", "--run", "cb", "--split", "test", "--metrics", "bleu,ce", "--labeler", "chexbert",
                "--labeler-weights", weights, "--tokenizer", tok, "--bootstrap", "0", workspace=scored_ws)
    assert r.code == 0, r.err
    old = file_sha256(weights)
    ckpt = torch.load(weights, weights_only=True)
    ckpt["model_state_dict"]["module.linear_heads.0.bias"][0] += 1.0
    torch.save(ckpt, weights)
    new = file_sha256(weights)
    r = run_cli("report", "--run", "cb", "--split", "test", "--compare", RUN, workspace=scored_ws)
    assert r.code == 3
    assert r.err == (f"error: refusing to compare {scored_ws}/score/cb/test/scores.json (labeler chexbert (weights "
                     f"chexbert.pth sha256:{old[:12]})) with {scored_ws}/generate/cb/test/preds.jsonl re-scored for "
                     f"--compare {RUN}/test (labeler chexbert (weights chexbert.pth sha256:{new[:12]})): their CE labels "
                     "come from different labelers; re-score with the same --labeler: `cxrgen score --run cb --split "
                     "test --force` with the labeler options you want on the page\n")
    assert not (scored_ws / "report" / "cb").exists()


def test_page_in_headless_chromium(scored_ws, tmp_path):
    need_browser()
    page = _page(scored_ws)
    dom = Dom(dump_dom(page))
    n = len(_test_records(scored_ws))
    assert len(dom.cards) == n and not any(c["hidden"] for c in dom.cards)
    assert dom.text_by_id["shown"].strip() == f"{n} of {n} shown"  # the page's script ran in the browser
    assert dom.disagree_chips > 0
    scores = json.loads((scored_ws / "score" / RUN / "test" / "scores.json").read_text())
    assert {k: m["cells"][1] for k, m in dom.metrics.items()} == {k: f"{v:.4f}" for k, v in scores["metrics"].items()}
    # the URL fragment presets the filter: only studies with a label disagreement stay visible
    filtered = Dom(dump_dom(page, "disagree=1"))
    want = sum(1 for c in dom.cards if c["disagree"])
    assert 0 < want < n and sum(not c["hidden"] for c in filtered.cards) == want
    assert filtered.text_by_id["shown"].strip() == f"{want} of {n} shown"
    screenshot(page, tmp_path / "report.png")
