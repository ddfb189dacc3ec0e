"""CheXbert from local files, offline: a tiny random BERT twin saved in the released checkpoint's layout
(``{"model_state_dict": {"module.bert.…", "module.linear_heads.N.…"}}``) and a locally built WordPiece vocab."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from cxrgen.metrics.chexbert import CONDITIONS, load_checkpoint  # noqa: E402
from cxrgen.metrics.chexpert import CLASSES  # noqa: E402
from tests.score.conftest import SENTENCES, make_pairs, write_preds  # noqa: E402

# head k is biased towards class TARGET[k % 4] (0 blank, 1 positive, 2 negative, 3 uncertain); No Finding → 1
TARGET = (1, 2, 3, 0)
VALUE = {0: None, 1: 1, 2: 0, 3: -1}
EXPECTED = {c: (VALUE[TARGET[k % 4]] if k < 13 else 1) for k, c in enumerate(CONDITIONS)}


class Twin(torch.nn.Module):
    """CheXbert's layout written out independently of cxrgen's class: bert + 13 four-way + 1 two-way heads."""

    def __init__(self, config):
        super().__init__()
        self.bert = transformers.BertModel(config)
        self.linear_heads = torch.nn.ModuleList([torch.nn.Linear(config.hidden_size, 4) for _ in range(13)]
                                                + [torch.nn.Linear(config.hidden_size, 2)])


def _vocab() -> list[str]:
    words = sorted({w for s in SENTENCES for w in s.lower().replace(".", " . ").replace(",", " , ").split()})
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, "##s", "##ed"]


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """(weights file, tokenizer folder, twin module): seeded, heads biased so every class has a known label."""
    root = tmp_path_factory.mktemp("chexbert")
    tok = root / "tokenizer"
    tok.mkdir()
    vocab = _vocab()
    (tok / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=1, intermediate_size=128, max_position_embeddings=512)
    torch.manual_seed(0)
    model = Twin(config).eval()
    with torch.no_grad():
        for k, head in enumerate(model.linear_heads):
            head.weight.mul_(0.01)
            head.bias.zero_()
            head.bias[TARGET[k % 4] if k < 13 else 1] = 50.0
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = root / "chexbert.pth"
    torch.save({"epoch": 3, "model_state_dict": state, "optimizer_state_dict": {"state": {}, "param_groups": []}}, path)
    return path, tok, model


def test_released_layout_loads_with_no_missing_or_unexpected_keys(twin):
    path, _, ref = twin
    model, report = load_checkpoint(path)
    assert report == {"loaded": len(ref.state_dict()), "dropped_buffers": []}
    assert set(model.state_dict()) == set(ref.state_dict())
    assert model.bert.config.num_hidden_layers == 2 and model.bert.config.num_attention_heads == 1
    ids = torch.tensor([[2, 7, 9, 3]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        cls = ref.bert(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
        want = [h(cls) for h in ref.linear_heads]
        got = model(ids, mask)
    assert [tuple(g.shape) for g in got] == [(1, 4)] * 13 + [(1, 2)]
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def test_position_ids_buffer_of_older_transformers_is_dropped(twin, tmp_path):
    path, _, _ = twin
    blob = torch.load(path, weights_only=True)
    blob["model_state_dict"]["module.bert.embeddings.position_ids"] = torch.arange(512)[None]
    older = tmp_path / "chexbert.pth"
    torch.save(blob, older)
    _, report = load_checkpoint(older)
    assert report["dropped_buffers"] == ["bert.embeddings.position_ids"]


def test_a_pickle_with_code_is_refused_and_not_run(twin, tmp_path, cli):
    _, tok, _ = twin
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "chexbert.pth"
    torch.save({"model_state_dict": {}, "hook": Payload()}, bad)
    src = tmp_path / "r.txt"
    src.write_text("No pleural effusion.\n")
    r = cli("label", src, "--labeler", "chexbert", "--labeler-weights", bad, "--tokenizer", tok)
    assert r.code == 3 and r.err.count("\n") == 1
    assert f"{bad}: cannot be loaded safely (weights_only=True" in r.err
    assert not marker.exists()


def test_label_with_chexbert_gives_every_class(twin, cli, tmp_path):
    path, tok, _ = twin
    src = tmp_path / "r.txt"
    src.write_text("No pleural effusion.\nMild cardiomegaly is present.\n\n")
    r = cli("label", src, "--labeler", "chexbert", "--labeler-weights", path.parent, "--tokenizer", tok)
    assert r.code == 0, r.err
    rows = [json.loads(x) for x in r.out.splitlines()]
    assert len(rows) == 3
    for i, row in enumerate(rows, 1):
        assert list(row) == ["id", *CLASSES]
        assert row == {"id": str(i), **{c: EXPECTED[c] for c in CLASSES}}
    assert {v for v in EXPECTED.values()} == {1, 0, -1, None}


def test_score_with_chexbert_end_to_end(twin, cli, tmp_path):
    import shutil
    path, tok, _ = twin
    folder = tmp_path / "chexbert"  # chexbert.pth and the tokenizer in one folder: --labeler-weights DIR is enough
    folder.mkdir()
    shutil.copy(path, folder / "chexbert.pth")
    shutil.copy(tok / "vocab.txt", folder / "vocab.txt")
    preds = tmp_path / "p.jsonl"
    write_preds(preds, make_pairs(12, seed=3))
    r = cli("score", preds, "--metrics", "bleu,ce", "--labeler", "chexbert", "--labeler-weights", folder,
            "--bootstrap", "20", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    head = doc["ce"]["headline"]
    assert head["labeler"].startswith("chexbert (weights chexbert.pth sha256:") and doc["settings"]["labeler"] == head["labeler"]
    # every report gets EXPECTED, so predictions agree with the labeler's reference labels exactly
    assert doc["metrics"]["ce_micro_f1_14"] == 1.0 and doc["ci95"]["ce_micro_f1_14"] == [1.0, 1.0]
    positives = sum(1 for c in CLASSES if EXPECTED[c] == 1)
    assert doc["ce"]["variants"]["uncertain=neg"]["14"]["scores"]["micro_f1"] == 1.0
    assert sum(v["support"] for v in doc["ce"]["variants"]["uncertain=neg"]["14"]["per_class"].values()) == 12 * positives
    rules = json.loads(cli("score", preds, "--metrics", "bleu,ce", "--bootstrap", "0", "--json").out)
    assert rules["reference_fingerprint"] != doc["reference_fingerprint"]  # labelled differently: not comparable


def test_chexbert_without_weights_says_what_to_download(cli, tmp_path):
    preds = tmp_path / "p.jsonl"
    write_preds(preds, make_pairs(3, seed=3))
    r = cli("score", preds, "--metrics", "ce", "--labeler", "chexbert")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "chexbert.pth" in r.err and "--labeler-weights chexbert.pth --tokenizer bert-base-uncased/" in r.err
    r = cli("score", preds, "--metrics", "ce", "--labeler", "chexbert", "--labeler-weights", tmp_path)
    assert r.code == 2 and "needs local files" in r.err  # a folder without vocab.txt and no --tokenizer
    r = cli("score", preds, "--metrics", "ce", "--labeler", "chexbert", "--labeler-weights", tmp_path / "nope.pth",
            "--tokenizer", tmp_path)
    assert r.code == 2 and "nope.pth: no such file or folder" in r.err
    r = cli("score", preds, "--metrics", "ce", "--labeler", "chexbart")
    assert r.code == 2 and "unknown labeler 'chexbart' (did you mean 'chexbert'?)" in r.err


def test_workspace_score_records_the_chexbert_weights_as_an_input(twin, cli, ws):
    from cxrgen.config.schema import GenerateConfig
    from cxrgen.workspace.artifact import ArtifactBuild
    from cxrgen.workspace.hashing import file_sha256
    from cxrgen.workspace.layout import Workspace
    path, tok, _ = twin
    w = Workspace(ws)
    with ArtifactBuild(w, "generate", ("r1", "test"), GenerateConfig(), []) as b:
        write_preds(b.work_dir / "preds.jsonl", make_pairs(6, seed=4))
        b.commit(["preds.jsonl"])
    args = ("score", "--run", "r1", "--split", "test", "--metrics", "ce", "--labeler", "chexbert",
            "--labeler-weights", path, "--tokenizer", tok, "--bootstrap", "0", "--json")
    r = cli(*args)
    assert r.code == 0, r.err
    folder = w.artifact_dir("score", "r1", "test")
    manifest = json.loads((folder / "manifest.json").read_text())
    weights = [i for i in manifest["inputs"] if i.get("path") == str(path.resolve())]
    assert len(weights) == 1 and weights[0]["sha256"] == file_sha256(path)
    assert manifest["extra"]["ce"]["labeler"] == json.loads(r.out)["ce"]["headline"]["labeler"]
