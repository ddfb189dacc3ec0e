"""CheXbert (Smit et al., EMNLP 2020) from local files: 14 CheXpert labels per report.

The released checkpoint ``chexbert.pth`` (stanfordmlgroup/CheXbert; also ``StanfordAIMI/RRG_scorers``)
is a ``torch.save`` dict whose ``model_state_dict`` holds BERT-base (``bert.*``) plus ``linear_heads.0``
… ``linear_heads.13``: 13 four-way heads (blank / positive / negative / uncertain) for the 13 findings in
CheXbert's order and one two-way head (blank / positive) for No Finding, all on the [CLS] vector; the
model was wrapped in ``DataParallel``, so every key starts with ``module.``. Source of the layout, the
class order and the class meanings: CheXbert ``src/models/bert_labeler.py`` and ``src/constants.py``.

cxrgen never downloads it: ``--labeler-weights`` names the file (or a folder holding it) and
``--tokenizer`` the bert-base-uncased tokenizer folder. The file is read with
``torch.load(weights_only=True)`` (or safetensors), so a pickle that carries code is refused. The BERT
shape comes from the weights (``config.json`` beside them wins; otherwise heads = hidden / 64, as in
every BERT release). Reports are whitespace-normalised and truncated to 512 tokens ([CLS] … [SEP]), as
CheXbert's own tokenisation does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

from cxrgen.errors import CheckpointError, ConfigError

# CheXbert src/constants.py CONDITIONS (head order); the 14th head is No Finding
CONDITIONS = ("Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
              "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
              "Fracture", "Support Devices", "No Finding")
# CheXbert CLASS_MAPPING {0: Blank, 1: Positive, 2: Negative, 3: Uncertain} → CheXpert labeler values
HEAD_VALUES = (None, 1, 0, -1)
MAX_TOKENS = 512  # BERT's position limit; CheXbert keeps the first 511 tokens and [SEP]

WHAT_TO_DOWNLOAD = (
    "--labeler chexbert needs local files, never downloaded by cxrgen: the CheXbert checkpoint chexbert.pth "
    "(huggingface.co/StanfordAIMI/RRG_scorers, or the link in github.com/stanfordmlgroup/CheXbert) and the "
    "bert-base-uncased tokenizer (`huggingface-cli download bert-base-uncased vocab.txt tokenizer_config.json "
    "config.json --local-dir bert-base-uncased`); pass them as --labeler-weights chexbert.pth --tokenizer "
    "bert-base-uncased/ (or put both in one folder and pass --labeler-weights FOLDER)")


def build_model(config):
    """CheXbert's architecture on transformers' BertModel: ``bert`` + ``linear_heads`` (13 × 4-way, 1 × 2-way)."""
    import torch
    from transformers import BertModel

    class CheXbertModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel(config, add_pooling_layer=True)
            hidden = config.hidden_size
            self.linear_heads = torch.nn.ModuleList([torch.nn.Linear(hidden, 4) for _ in range(13)]
                                                    + [torch.nn.Linear(hidden, 2)])

        def forward(self, input_ids, attention_mask):
            """(B, T) ids and mask → 14 logit tensors, (B, 4) × 13 then (B, 2), from the [CLS] vector."""
            cls = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, 0]
            return [head(cls) for head in self.linear_heads]

    return CheXbertModel()


def config_from_state(state: dict, config_json: Optional[Path] = None):
    """A BertConfig matching the checkpoint's tensors (``config_json`` when given is used as is)."""
    from transformers import BertConfig
    if config_json is not None and config_json.is_file():
        return BertConfig.from_json_file(str(config_json))
    try:
        vocab, hidden = state["bert.embeddings.word_embeddings.weight"].shape
        layers = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"bert\.encoder\.layer\.(\d+)\.", k)))
        inter = state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0]
        positions = state["bert.embeddings.position_embeddings.weight"].shape[0]
        types = state["bert.embeddings.token_type_embeddings.weight"].shape[0]
    except (KeyError, ValueError):
        raise CheckpointError("not a CheXbert checkpoint: no bert.embeddings / bert.encoder.layer.N weights") from None
    return BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=max(1, hidden // 64), intermediate_size=inter,
                      max_position_embeddings=positions, type_vocab_size=types)


def weight_file(weights: str) -> Path:
    p = Path(weights).expanduser()
    if p.is_dir():
        found = [p / "chexbert.pth"] if (p / "chexbert.pth").is_file() else \
            sorted(p.glob("*.safetensors")) or sorted(p.glob("*.pth")) or sorted(p.glob("*.pt"))
        if not found:
            raise ConfigError(f"--labeler-weights {weights}: no chexbert.pth (or .safetensors/.pth) in this folder")
        return found[0]
    if not p.is_file():
        raise ConfigError(f"--labeler-weights {weights}: no such file or folder; {WHAT_TO_DOWNLOAD}")
    return p


def load_checkpoint(path: Path) -> tuple[object, dict]:
    """(model, keys report) from a chexbert.pth / .safetensors; strict: any missing or unexpected key is an error.

    ``bert.embeddings.position_ids`` (``arange(512)``, a buffer, not a weight) is the one key allowed on one
    side only: transformers 2.x (CheXbert's) did not save it, 4.x saves it, 5.x does not keep it.
    """
    from cxrgen.models.encoders.base import load_into, load_state_dict
    state = load_state_dict(path)  # weights_only=True; unwraps model_state_dict and the module. prefix
    config_json = path.parent / "config.json"
    model = build_model(config_from_state(state, config_json if config_json.is_file() else None))
    own = model.state_dict()
    dropped = [k for k in ("bert.embeddings.position_ids",) if k in state and k not in own]
    for k in dropped:
        state.pop(k)
    load_into(model, state, str(path), ignore=("bert.embeddings.position_ids",))
    model.eval()
    return model, {"loaded": len(state), "dropped_buffers": dropped}


def check_files(weights: str, tokenizer: str) -> tuple[Path, Path]:
    """(weight file, tokenizer folder) CheXbert would load, checked without loading anything (dry runs use
    it too). The tokenizer defaults to the weights folder when it holds vocab.txt. Raises ConfigError: nothing
    given (says what to download), a path that does not exist, a tokenizer folder without vocab.txt."""
    if weights and not tokenizer and (Path(weights).expanduser() / "vocab.txt").is_file():
        tokenizer = weights  # one folder holding chexbert.pth and the tokenizer files
    if not weights or not tokenizer:
        raise ConfigError(WHAT_TO_DOWNLOAD)
    path = weight_file(weights)
    tok_dir = Path(tokenizer).expanduser()
    if not (tok_dir / "vocab.txt").is_file() and not (tok_dir / "tokenizer.json").is_file():
        raise ConfigError(f"--tokenizer {tokenizer}: no vocab.txt or tokenizer.json there; {WHAT_TO_DOWNLOAD}")
    return path, tok_dir


class CheXbertLabeler:
    """``label_many(texts)`` → {class: 1 | 0 | -1 | None} for the 14 CheXpert classes, from CheXbert."""

    def __init__(self, model, tokenizer, *, name: str, device: str = "cpu", batch_size: int = 16):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.device, self.batch_size = device, batch_size

    @classmethod
    def from_files(cls, weights: str, tokenizer: str, *, device: str = "auto", batch_size: int = 16) -> "CheXbertLabeler":
        """Load ``weights`` (chexbert.pth, .safetensors, or a folder with one) and the tokenizer folder
        (default: the weights folder, when it holds vocab.txt).

        Raises ConfigError (nothing given: says what to download and how to pass it; a path that does not
        exist) or CheckpointError (pickled code, not a CheXbert layout, missing/unexpected keys).
        """
        path, tok_dir = check_files(weights, tokenizer)
        from transformers import BertTokenizerFast

        from cxrgen.workspace.hashing import file_sha256
        model, _ = load_checkpoint(path)
        tok = BertTokenizerFast.from_pretrained(str(tok_dir), local_files_only=True)
        if len(tok) > model.bert.config.vocab_size:
            raise ConfigError(f"--tokenizer {tokenizer}: {len(tok)} tokens but {path} embeds "
                              f"{model.bert.config.vocab_size}; use the bert-base-uncased tokenizer")
        from cxrgen.models.runtime import resolve_device
        dev = resolve_device(device)   # the one place that reads auto/cpu/cuda:N (and refuses CUDA without it)
        name = f"chexbert (weights {path.name} sha256:{file_sha256(path)[:12]})"
        return cls(model.to(dev), tok, name=name, device=dev, batch_size=batch_size)

    def logits(self, texts: Sequence[str]) -> list:
        """14 logit tensors (N, 4) × 13 and (N, 2) for ``texts`` (whitespace-normalised, ≤ 512 tokens)."""
        import torch
        clean = [" ".join((t or "").split()) for t in texts]
        enc = self.tokenizer(clean, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            return self.model(enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device))

    def label_many(self, texts: Iterable[str]) -> list[dict[str, Optional[int]]]:
        from cxrgen.metrics.chexpert import CLASSES
        texts = list(texts)
        out: list[dict[str, Optional[int]]] = []
        for i in range(0, len(texts), self.batch_size):
            heads = self.logits(texts[i:i + self.batch_size])
            pred = [h.argmax(dim=1).tolist() for h in heads]
            for j in range(len(pred[0])):
                row = {c: HEAD_VALUES[pred[k][j]] for k, c in enumerate(CONDITIONS)}
                out.append({c: row[c] for c in CLASSES})
        return out
