"""`cxrgen demo` exactly as the README runs it: the report must follow the image."""

import json
import re

import pytest

from tests.conftest import run_cli


@pytest.mark.e2e
def test_demo_beats_both_baselines_and_reruns_from_cache(tmp_path):
    ws = tmp_path / "ws"
    r = run_cli("demo", "--json", workspace=ws)
    assert r.code == 0, r.err[-2000:]
    res = json.loads(r.out)["results"]
    assert list(res) == ["trained (prefix)", "shuffled images", "most common report"]
    trained = res["trained (prefix)"]
    for baseline in ("shuffled images", "most common report"):
        assert trained["ce_macro_f1_14"] >= res[baseline]["ce_macro_f1_14"] + 0.1, (baseline, res)
        assert trained["ce_micro_f1_14"] >= res[baseline]["ce_micro_f1_14"] + 0.15, (baseline, res)
    # a rerun reuses every artifact and gives the same table
    again = run_cli("demo", "--json", workspace=ws)
    assert again.code == 0 and json.loads(again.out)["results"] == res
    st = json.loads(run_cli("status", "--json", workspace=ws).out)["artifacts"]
    assert {a["state"] for a in st} == {"up-to-date"} and len(st) == 10  # prepare, embed, 2 train, 3 generate, 3 score
    _report_in_browser(ws, tmp_path)


def _report_in_browser(ws, tmp_path):
    """`cxrgen report` on the demo run beside the majority baseline, loaded by headless Chromium."""
    from tests.report.browser import Dom, dump_dom, need_browser, screenshot
    r = run_cli("report", "--run", "demo-prefix", "--split", "test", "--compare", "demo-majority/test", workspace=ws)
    assert r.code == 0, r.err
    page = ws / "report" / "demo-prefix" / "test" / "index.html"
    scores = json.loads((ws / "score" / "demo-prefix" / "test" / "scores.json").read_text())
    n = scores["counts"]["reports"]
    html = page.read_text(encoding="utf-8")
    curves = html[html.index('<section id="curves">'):html.index("</section>", html.index('<section id="curves">'))]
    assert "<svg" in curves and "No metrics.jsonl points" not in curves      # the demo run's loss curves
    rows = re.findall(r'<tr data-finding="([^"]+)">(.*?)</tr>', html, re.S)
    assert len(rows) == 14
    assert all(r.count('<span class="ci">[') == 3 for _, r in rows)          # P, R, F1 intervals on every finding
    assert any(" → " in r for _, r in rows)                                     # a confusion ("missed → said instead")
    need_browser()
    dom = Dom(dump_dom(page))
    assert len(dom.cards) == n and dom.text_by_id["shown"].strip() == f"{n} of {n} shown"
    assert dom.disagree_chips > 0 and any(c["disagree"] for c in dom.cards)
    assert {k: m["cells"][1] for k, m in dom.metrics.items()} == {k: f"{v:.4f}" for k, v in scores["metrics"].items()}
    assert all(len(m["cells"]) == 6 for m in dom.metrics.values())  # with the majority baseline's column and Δ
    assert dom.external == []
    screenshot(page, tmp_path / "demo-report.png")


def test_render_names_the_ce_setting():
    from cxrgen.stages.demo import COLUMNS, render
    metrics = {k: 0.5 for k, _ in COLUMNS}
    head = {"reference": "ref=dataset", "uncertain": "pos", "labeler": "cxrgen-rules-2"}
    lines = render({"results": {"trained (prefix)": metrics}, "ce": head}).splitlines()
    assert lines[2] == "| trained (prefix) | " + " | ".join(["0.500"] * len(COLUMNS)) + " |"
    assert lines[-1] == "CE columns: ref=dataset, uncertain=pos, labeler cxrgen-rules-2."
    assert render({"results": {"x": metrics}}).splitlines()[-1].startswith("| x |")
