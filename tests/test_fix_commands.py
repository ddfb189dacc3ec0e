"""`cxrgen status` names, for a stale artifact, a command that rebuilds that same artifact.

Before, a stale report/<run>/<split> got `cxrgen report --run R --split S`, which dropped the
`--compare` it was built with (the rebuilt page lost its baseline), and a stale score lost its
`--bootstrap`/`--metrics`. The fix now points at the artifact's own config.yaml.
"""

from __future__ import annotations

import json
import shlex

import pytest

from tests.conftest import run_cli
from tests.report.conftest import RUN, make_scored_workspace


@pytest.fixture(scope="module")
def ws_root(tmp_path_factory):
    return make_scored_workspace(tmp_path_factory.mktemp("fix") / "ws")


def _status(root) -> dict:
    r = run_cli("status", "--json", workspace=root)
    assert r.code == 0, r.err
    return {a["name"]: a for a in json.loads(r.out)["artifacts"]}


def _run_fix(root, fix: str):
    argv = shlex.split(fix)
    assert argv[0] == "cxrgen"
    r = run_cli(*argv[1:], workspace=root)
    assert r.code == 0, r.err
    return r


def test_stale_score_and_report_rebuild_with_their_own_options(ws_root):
    from cxrgen.config.schema import GenerateConfig
    from cxrgen.workspace.artifact import ArtifactBuild, upstream
    from cxrgen.workspace.layout import Workspace
    ws = Workspace.resolve(ws_root)
    entry, _ = upstream(ws, "prepare", "tiny")
    preds = (ws_root / "generate" / RUN / "test" / "preds.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(x) for x in preds.splitlines()]
    with ArtifactBuild(ws, "generate", ("normal", "test"), GenerateConfig(run="normal"), [entry]) as b:
        (b.work_dir / "preds.jsonl").write_text("".join(
            json.dumps({"id": x["id"], "prediction": "the lungs are clear .", "reference": x["reference"]}) + "\n"
            for x in rows))
        b.commit(["preds.jsonl"])
    r = run_cli("score", "--run", RUN, "--split", "test", "--metrics", "bleu,rouge_l,ce", "--bootstrap", "20",
                "--seed", "7", workspace=ws_root)
    assert r.code == 0, r.err
    r = run_cli("report", "--run", RUN, "--split", "test", "--compare", "normal/test", "--thumbnail-size", "0",
                workspace=ws_root)
    assert r.code == 0, r.err
    page = ws_root / "report" / RUN / "test" / "index.html"
    assert 'id="compare-labeler">normal/test' in page.read_text(encoding="utf-8")
    assert run_cli("status", "--quiet", workspace=ws_root).code == 0

    # the generated reports change (another decoding): score and report go stale
    with ArtifactBuild(ws, "generate", (RUN, "test"), GenerateConfig(run=RUN, beams=2), [entry], force=True) as b:
        (b.work_dir / "preds.jsonl").write_text(preds, encoding="utf-8")
        b.commit(["preds.jsonl"])
    st = _status(ws_root)
    score, report = st[f"score/{RUN}/test"], st[f"report/{RUN}/test"]
    assert (score["state"], score["reason"]) == ("stale", f"upstream generate/{RUN}/test changed")
    assert score["fix"] == f"cxrgen score --run {RUN} --split test --config {ws_root}/score/{RUN}/test/config.yaml"
    assert report["state"] == "stale"
    assert report["fix"] == f"cxrgen report --run {RUN} --split test --config {ws_root}/report/{RUN}/test/config.yaml"
    assert run_cli("status", "--quiet", workspace=ws_root).code == 1

    _run_fix(ws_root, score["fix"])
    doc = json.loads((ws_root / "score" / RUN / "test" / "scores.json").read_text(encoding="utf-8"))
    assert (doc["settings"]["bootstrap"], doc["settings"]["seed"]) == (20, 7)  # not the defaults 1000, 12345
    assert "meteor" not in doc["metrics"] and "cider" not in doc["metrics"] and "rouge_l" in doc["metrics"]

    st = _status(ws_root)
    assert st[f"score/{RUN}/test"]["state"] == "up-to-date"
    assert st[f"report/{RUN}/test"]["fix"] == report["fix"]
    _run_fix(ws_root, st[f"report/{RUN}/test"]["fix"])
    html = page.read_text(encoding="utf-8")
    assert 'id="compare-labeler">normal/test' in html  # the rebuilt page still has its baseline
    m = json.loads((ws_root / "report" / RUN / "test" / "manifest.json").read_text(encoding="utf-8"))
    assert ["normal", "test"] in [i["key"] for i in m["inputs"] if i.get("stage") == "generate"]
    assert m["config"]["compare"] == "normal/test" and m["config"]["thumbnail_size"] == 0
    assert run_cli("status", "--quiet", workspace=ws_root).code == 0


def test_fix_command_forms(tmp_path):
    from cxrgen.workspace.layout import fix_command
    folder = tmp_path / "generate" / "r" / "test-shuffled"
    assert fix_command("generate", ("r", "test-shuffled"), folder) == "cxrgen generate --run r --split test-shuffled"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("run: r\nsplit: test\nshuffle_features: true\nbeams: 3\n")
    # the folder is not a --split: the config (split test, shuffle_features) rebuilds it
    assert fix_command("generate", ("r", "test-shuffled"), folder) == f"cxrgen generate --run r --config {folder}/config.yaml"
    prep = tmp_path / "prepare" / "my set"
    prep.mkdir(parents=True)
    (prep / "config.yaml").write_text("dataset: iu\nname: x\n")
    assert fix_command("prepare", ("x",), prep) == f"cxrgen prepare iu --config '{prep}/config.yaml'"
    (prep / "config.yaml").write_text(": not yaml [")
    assert fix_command("prepare", ("x",), prep) == "cxrgen prepare x …"
    assert fix_command("embed", ("d", "e")) == "cxrgen embed --dataset d --encoder e"
