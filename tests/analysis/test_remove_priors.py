"""`prepare --remove-priors`: targets rewritten, originals kept, counts in stats.json."""

from __future__ import annotations

import json

from cxrgen.metrics.priors import mentions_prior
from tests.conftest import run_cli


def _records(ws, name):
    return [json.loads(x) for x in (ws / "prepare" / name / "records.jsonl").read_text().splitlines()]


def test_remove_priors_on_synthetic_prior_mentions(tmp_path):
    ws = tmp_path / "ws"
    common = ("prepare", "synthetic", "--n", "40", "--prior-mentions", "0.5")
    assert run_cli(*common, "--name", "with", workspace=ws).code == 0
    r = run_cli(*common, "--name", "without", "--remove-priors", workspace=ws)
    assert r.code == 0, r.err
    before, after = _records(ws, "with"), _records(ws, "without")
    mentioning = [x for x in before if mentions_prior(x["report"])]
    stats = json.loads((ws / "prepare" / "with" / "stats.json").read_text())
    assert len(mentioning) == stats["notes"]["synthetic: reports given a prior reference (prior_mentions)"]
    assert 10 <= len(mentioning) <= 30  # about half of 40 (the same draw with and without the rewrite)
    assert [x["id"] for x in after] == [x["id"] for x in before]
    assert not any(mentions_prior(x["report"]) for x in after)
    changed = [x for x in after if "report_with_priors" in x["extra"]]
    assert {x["id"] for x in changed} == {x["id"] for x in mentioning}
    by_id = {x["id"]: x for x in before}
    assert all(x["extra"]["report_with_priors"] == by_id[x["id"]]["report"] for x in changed)
    assert all(x["report"] == by_id[x["id"]]["report"] for x in after if x not in changed)
    notes = json.loads((ws / "prepare" / "without" / "stats.json").read_text())["notes"]
    assert notes["--remove-priors: reports rewritten"] == len(mentioning)
    # the synthetic sentence comes first: 4 of the 5 are dropped whole, 'Compared to the prior radiograph,
    # the lungs are clear.' keeps 'the lungs are clear .' (R2Gen cleaning has removed the comma)
    kept = 0
    for x in changed:
        first, rest = by_id[x["id"]]["report"].split(" . ", 1)
        if first.startswith("compared to the prior radiograph"):
            assert x["report"] == "the lungs are clear . " + rest
            kept += 1
        else:
            assert x["report"] == rest
    assert notes["--remove-priors: sentences dropped"] == len(mentioning) - kept


def test_default_synthetic_reports_are_unchanged(tmp_path):
    ws = tmp_path / "ws"
    assert run_cli("prepare", "synthetic", "--n", "20", "--name", "a", workspace=ws).code == 0
    assert run_cli("prepare", "synthetic", "--n", "20", "--name", "b", "--remove-priors", workspace=ws).code == 0
    a, b = _records(ws, "a"), _records(ws, "b")
    assert [x["report"] for x in a] == [x["report"] for x in b] and not any(mentions_prior(x["report"]) for x in a)
    assert "--remove-priors: reports rewritten" not in json.loads((ws / "prepare" / "b" / "stats.json").read_text())["notes"]
