"""Paper scoring conventions: R2GenGPT's reference truncation and LLaMA-XR's per-report NLTK / rouge_score
averages (XXXX reports dropped, WordNet missing → one line)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.score.conftest import make_pairs, write_preds

NLG = ("--metrics", "bleu,rouge_l,cider", "--bootstrap", "0", "--json")


def _score(cli, path, *extra):
    r = cli("score", str(path), *NLG, *extra)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_truncated_references_score_exactly_like_references_cut_by_hand(cli, tmp_path):
    """--truncate-references N = scoring references cut to the first N tokens of the tokenizer by hand."""
    from cxrgen.models.llms import tiny_tokenizer
    tok = tiny_tokenizer()
    pairs = make_pairs(20, seed=3)
    write_preds(tmp_path / "a.jsonl", pairs)
    n = 36   # reference lengths here run from 15 to 69 tokens
    by_hand = []
    for rid, hyp, ref in pairs:
        ids = tok(ref)["input_ids"]
        by_hand.append((rid, hyp, tok.decode(ids[:n]).strip() if len(ids) > n else ref))
    write_preds(tmp_path / "hand.jsonl", by_hand)
    cut = _score(cli, tmp_path / "a.jsonl", "--truncate-references", str(n), "--reference-tokenizer", "tiny-gpt2")
    hand = _score(cli, tmp_path / "hand.jsonl")
    whole = _score(cli, tmp_path / "a.jsonl")
    assert cut["metrics"] == hand["metrics"]
    assert cut["metrics"] != whole["metrics"]
    n_cut = sum(1 for (_, _, r), (_, _, h) in zip(pairs, by_hand) if r != h)
    assert n_cut == 12
    tr = cut["settings"]["truncate_references"]
    assert (tr["tokens"], tr["tokenizer"], tr["truncated"]) == (n, "tiny-gpt2", n_cut)
    assert whole["settings"]["truncate_references"] == {"tokens": 0}
    assert cut["reference_fingerprint"] == hand["reference_fingerprint"]


def test_truncation_needs_a_tokenizer_in_file_mode(cli, tmp_path):
    write_preds(tmp_path / "a.jsonl", make_pairs(3, seed=1))
    r = cli("score", str(tmp_path / "a.jsonl"), *NLG, "--truncate-references", "10")
    assert r.code == 2 and "--truncate-references counts tokens of a tokenizer: add --reference-tokenizer" in r.err
    r = cli("score", str(tmp_path / "a.jsonl"), *NLG, "--truncate-references", "-1")
    assert r.code == 2 and "--truncate-references -1" in r.err


def test_llama_xr_convention_is_the_notebooks_per_report_mean(cli, tmp_path):
    pytest.importorskip("nltk")
    pytest.importorskip("rouge_score")
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_score import rouge_scorer
    pairs = make_pairs(12, seed=5)
    pairs[2] = (pairs[2][0], pairs[2][1], "Heart size normal. XXXX are normal.")   # dropped: reference
    pairs[7] = (pairs[7][0], "The xxxx is clear.", pairs[7][2])                    # dropped: prediction
    write_preds(tmp_path / "a.jsonl", pairs)
    r = cli("score", str(tmp_path / "a.jsonl"), "--convention", "llama-xr", "--metrics", "bleu,rouge_l,cider",
            "--bootstrap", "20", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    kept = [p for i, p in enumerate(pairs) if i not in (2, 7)]
    sm = SmoothingFunction().method1
    weights = [(1, 0, 0, 0), (0.5, 0.5, 0, 0), (0.33, 0.33, 0.33, 0), (0.25, 0.25, 0.25, 0.25)]
    for n, w in enumerate(weights, 1):
        want = np.mean([sentence_bleu([ref.split()], hyp.split(), weights=w, smoothing_function=sm)
                        for _, hyp, ref in kept])
        assert doc["metrics"][f"bleu_{n}"] == pytest.approx(want, abs=1e-12)
    sc = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    assert doc["metrics"]["rouge_l"] == pytest.approx(np.mean([sc.score(ref, hyp)["rougeL"].fmeasure
                                                               for _, hyp, ref in kept]), abs=1e-12)
    assert doc["counts"]["reports"] == 10 and doc["counts"]["dropped_by_convention"] == 2
    assert doc["dropped_ids"] == [pairs[2][0], pairs[7][0]]
    assert doc["settings"]["convention"] == "llama-xr" and "cider" in doc["metrics"]   # cider stays coco's
    lo, hi = doc["ci95"]["bleu_4"]
    assert lo <= doc["metrics"]["bleu_4"] <= hi
    # coco-caption on the same file gives other numbers (corpus BLEU, all 12 reports)
    coco = _score(cli, tmp_path / "a.jsonl")
    assert coco["counts"]["reports"] == 12 and coco["metrics"]["bleu_4"] != doc["metrics"]["bleu_4"]


def test_llama_xr_meteor_without_wordnet_is_one_line(cli, tmp_path, monkeypatch):
    nltk = pytest.importorskip("nltk")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "no-nltk-data")])
    write_preds(tmp_path / "a.jsonl", make_pairs(3, seed=1))
    r = cli("score", str(tmp_path / "a.jsonl"), "--convention", "llama-xr", "--metrics", "bleu,meteor")
    assert r.code != 0 and len(r.err.strip().splitlines()) == 1
    assert "WordNet" in r.err and "python -m nltk.downloader -d ~/nltk_data wordnet" in r.err
    assert "Traceback" not in r.err


def test_llama_xr_refuses_compare(cli, tmp_path):
    write_preds(tmp_path / "a.jsonl", make_pairs(3, seed=1))
    write_preds(tmp_path / "b.jsonl", make_pairs(3, seed=2))
    r = cli("score", str(tmp_path / "a.jsonl"), "--convention", "llama-xr", "--metrics", "bleu",
            "--compare", str(tmp_path / "b.jsonl"))
    assert r.code == 2 and "--compare needs --convention coco" in r.err
