"""The published settings that ``cxrgen reproduce`` runs, with the numbers their papers report.

Every number is copied from the cited table (test split); ``None`` where the paper gives none.
Metric keys follow ``scores.json``: bleu_1..bleu_4, meteor, rouge_l, cider, and for clinical
efficacy (R2GenGPT Table 2, MIMIC-CXR) ce_precision, ce_recall, ce_f1.

Two parameter counts are kept apart: ``trainable_params`` is cxrgen's exact count of what its recipe
trains for the setting (counted on the meta device, asserted by tests/recipes/test_counts.py), and
``paper_params`` is the paper's own statement, verbatim (often rounded, sometimes of another thing).
``differs`` lists every known way the setting departs from what the paper (or its released code) did;
``cxrgen reproduce`` prints it before running and ``--json`` carries it.
Pure data: importing this module imports nothing heavy (``cxrgen reproduce --list`` stays instant).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RESEFF = ("Abdullah, Hamza & Kim, Resource-Efficient Medical Report Generation using Large Language Models "
          "(Kyung Hee University)")
R2GENGPT = "Wang, Liu, Wang & Zhou, R2GenGPT: Radiology report generation with frozen LLMs, Meta-Radiology 1(3), 2023"
LLAMA_XR = ("Jahangir, Kabir, Akter, Jahan & Chau, LLaMA-XR: A Novel Framework for Radiology Report Generation "
            "using LLaMA and QLoRA Fine Tuning, 2025")
DUAL = "Nguyen, Omer & Choo, Vision-Language Model for Medical Report Generation (SKKU, Korean), 2025"

METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider", "ce_precision", "ce_recall", "ce_f1")
EXACT = "cxrgen exact (meta-device count of the recipe)"


@dataclass(frozen=True)
class Setting:
    name: str
    paper: str                     # full citation
    table: str                     # where the numbers come from
    config: str                    # cxrgen/presets/<config>
    dataset: str                   # iu | mimic (prepare reader)
    mode: str
    encoder: str
    cached_features: bool          # False: the recipe encodes images on the fly (no embed step)
    decoding: dict = field(default_factory=dict)   # GenerateConfig keys
    numbers: dict = field(default_factory=dict)    # metric → value in the paper
    trainable_params: int | None = None             # cxrgen's exact count (see module docstring)
    paper_params: str = ""                          # the paper's statement, verbatim ("" if none)
    encoder_weights: str = ""      # default image-encoder weights ("" → --encoder-weights is required)
    prepare: tuple[str, ...] = ()  # prepare options beyond the reader's defaults
    data_name: str = ""            # workspace name of the prepared set ("" → the reader's name)
    score: tuple[str, ...] = ()    # score options (scoring convention of the paper)
    differs: tuple[str, ...] = ()  # how this setting departs from the paper
    source: str = ""               # mimic: "" (MIMIC-CXR-JPG root) or "r2gen" (R2Gen's annotation.json copy)

    @property
    def short(self) -> str:
        """The method's name, e.g. 'R2GenGPT'."""
        return {R2GENGPT: "R2GenGPT", LLAMA_XR: "LLaMA-XR", DUAL: "dual content/topic",
                RESEFF: "resource-efficient MRG"}.get(self.paper, self.paper)

    @property
    def data(self) -> str:
        """Workspace name of the prepared data set this setting trains and scores on."""
        return self.data_name or self.dataset


def _nlg(b1, b2, b3, b4, rouge, meteor, cider):
    return {"bleu_1": b1, "bleu_2": b2, "bleu_3": b3, "bleu_4": b4, "rouge_l": rouge, "meteor": meteor, "cider": cider}


def _bleu(b1, b2, b3, b4):
    """The resource-efficient paper reports BLEU in percent; scores.json holds fractions."""
    return {"bleu_1": b1 / 100, "bleu_2": b2 / 100, "bleu_3": b3 / 100, "bleu_4": b4 / 100}


# --- resource-efficient MRG (Tables I–III; MIMIC-CXR, unique AP/PA image-report pairs) ------------
# Mapper at ClipCap's transformer settings (prefix 40, clip 40, 8 layers): 53,587,968 at d=768 and
# 88,227,840 at d=1024; finetune adds the whole LLM (Qwen1.5-0.5B: 463,987,712).
_RE_MAPPER = {768: 53_587_968, 1024: 88_227_840}
_RE_LLM = {"qwen1.5-0.5b": 463_987_712}
_RE_PREPARE = ("--per-image", "--views", "AP,PA", "--clean", "lower")
_RE_DIFFERS = (
    "report section not stated: cxrgen uses the FINDINGS section (MIT-LCP parser), so images whose report "
    "has none are dropped; the paper keeps 243,334 AP/PA pairs (237,972 / 1,959 / 3,403)",
    "mapper size, optimizer and schedule not stated: ClipCap's transformer-mapper values (prefix 40, clip 40, "
    "8 layers, 8 heads, AdamW lr 2e-5, 5,000 warm-up steps, batch 40, 10 epochs, no gradient clipping)",
    "MedCLIP release not stated: the ViT checkpoint given with --encoder-weights",
    "decoding not stated: greedy, at most 100 new tokens",
    "BLEU implementation not stated: coco-caption (pycocoevalcap) corpus BLEU on the cleaned strings",
    "checkpoint not stated: the final one is tested",
)


def _reseff(mode: str, llm: str, d: int, table: str, numbers: dict, paper_params: str,
            extra: tuple[str, ...] = ()) -> Setting:
    name = f"{mode}-{llm}-mimic"
    trainable = _RE_MAPPER[d] + (_RE_LLM[llm] if mode == "finetune" else 0)
    return Setting(name, RESEFF, table, f"{mode}-{llm}.yaml", "mimic", mode, "medclip-vit", cached_features=True,
                   decoding={"beams": 1, "max_new_tokens": 100}, numbers=numbers, trainable_params=trainable,
                   paper_params=paper_params, prepare=_RE_PREPARE, data_name="mimic-ap-pa-images-lower",
                   differs=extra + _RE_DIFFERS)


_RESEFF = [
    _reseff("prefix", "gpt2", 768, "Table I (GPT-2 small)", _bleu(23.1, 12.4, 7.3, 5.0),
            "225M parameters needed at inference (Table I)"),
    _reseff("prefix", "gpt2-medium", 1024, "Table I (GPT-2 medium)", _bleu(24.6, 13.3, 7.8, 4.9),
            "456M parameters needed at inference (Table I)"),
    _reseff("prefix", "qwen1.5-0.5b", 1024, "Table I / Table II 'Prefix Tuning' / Table III 'Ours' (Qwen1.5-0.5B)",
            _bleu(34.2, 20.0, 13.0, 8.5),
            "601M at inference, 101M trainable in the mapping network (Table I, §III-B)",
            ("trainable mapper: 88,227,840 at prefix/clip 40 (ClipCap transformer), not the paper's 101M; no "
             "ClipCap setting gives 101M exactly (docs/manual/reproduce.md)",)),
    _reseff("finetune", "qwen1.5-0.5b", 1024, "Table II 'Fine Tuning' (Qwen1.5-0.5B)", _bleu(33.6, 19.9, 12.7, 8.6),
            "", ("the learning rate of the LLM is not stated: the mapper's (2e-5) is used for both",)),
]

# --- R2GenGPT ---------------------------------------------------------------------------------------
def _decoding(name: str) -> dict:
    """Decoding keys of ``cxrgen/presets/generate/<name>.yaml``: the one place R2GenGPT's test-time
    decoding is written (beam 3 from the paper §4.2; penalties and lengths from its released scripts)."""
    from importlib import resources

    import yaml
    text = resources.files("cxrgen").joinpath("presets", "generate", f"{name}.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text))


_R2_DECODE = {ds: _decoding(f"r2gengpt-{ds}") for ds in ("iu", "mimic")}
# R2GenGPT Table 1 (BLEU-1..4, ROUGE, METEOR, CIDEr); Table 2 (MIMIC-CXR CE precision, recall, F1; params)
_R2_TABLE1 = {
    ("shallow", "iu"): _nlg(0.466, 0.301, 0.211, 0.156, 0.370, 0.202, 0.405),
    ("delta", "iu"): _nlg(0.470, 0.299, 0.213, 0.162, 0.369, 0.211, 0.419),
    ("deep", "iu"): _nlg(0.488, 0.316, 0.228, 0.173, 0.377, 0.211, 0.438),
    ("shallow", "mimic"): _nlg(0.365, 0.237, 0.163, 0.117, 0.277, 0.136, 0.145),
    ("delta", "mimic"): _nlg(0.380, 0.244, 0.167, 0.119, 0.281, 0.145, 0.195),
    ("deep", "mimic"): _nlg(0.411, 0.267, 0.186, 0.134, 0.297, 0.160, 0.269),
}
_R2_TABLE2 = {"shallow": (0.341, 0.312, 0.325), "delta": (0.366, 0.350, 0.358), "deep": (0.392, 0.387, 0.389)}
_R2_PARAMS = {"shallow": 4_206_592, "delta": 4_976_640, "deep": 90_949_816}
_R2_STATED = {"shallow": "4.2M trainable (Table 2)", "delta": "5.0M trainable (Table 2)",
              "deep": "90.9M trainable (Table 2)"}
_R2_MAXLEN = {"iu": 60, "mimic": 100}
_R2_DIFFERS = (
    "validation runs at each epoch end of cxrgen's val split, as released; the val split is whatever "
    "prepare produced (IU without --annotation: a seeded split, not R2Gen's 296 reports)",
)
_R2_IU_DIFFERS = (
    "split: R2Gen's annotation.json when --annotation is given (2,069 / 296 / 590), else a seeded 70/10/20 "
    "split by patient; reports cleaned with cxrgen's R2Gen rules",
)
_R2_MIMIC_DIFFERS = (
    "CE: references and predictions both labelled with cxrgen's rule-based CheXpert re-implementation "
    "(not the CheXpert labeler); uncertain counted as negative (R2Gen's compute_ce.py); micro over 14 labels",
)

SETTINGS: dict[str, Setting] = {s.name: s for s in _RESEFF}
for _mode in ("shallow", "delta", "deep"):
    for _ds, _label in (("iu", "IU-Xray"), ("mimic", "MIMIC-CXR")):
        _nums = dict(_R2_TABLE1[(_mode, _ds)])
        _table = f"Table 1 ({_label}, R2GenGPT ({_mode.capitalize()}))"
        _score: tuple[str, ...] = ("--truncate-references", str(_R2_MAXLEN[_ds]))   # released code: max_length
        _prep: tuple[str, ...] = ()
        if _ds == "mimic":   # R2Gen's annotation entries, all views, R2GenGPT's MIMIC cleaner (paper §4.1)
            _nums.update(zip(("ce_precision", "ce_recall", "ce_f1"), _R2_TABLE2[_mode]))
            _table += " + Table 2"
            _score += ("--uncertain", "neg", "--reference-labels", "labeler")
            _prep = ("--views", "all", "--clean", "r2gengpt")
        _name = f"r2gengpt-{_mode}-{_ds}"
        SETTINGS[_name] = Setting(_name, R2GENGPT, _table, f"{_name}.yaml", _ds, _mode, "swin-base-grid",
                                  cached_features=_mode == "shallow", numbers=_nums,
                                  decoding={**_R2_DECODE[_ds], "checkpoint": "best"},   # best 0.5·B4 + 0.5·CIDEr
                                  trainable_params=_R2_PARAMS[_mode], paper_params=_R2_STATED[_mode],
                                  encoder_weights="microsoft/swin-base-patch4-window7-224", score=_score,
                                  differs=_R2_DIFFERS + (_R2_IU_DIFFERS if _ds == "iu" else _R2_MIMIC_DIFFERS),
                                  prepare=_prep, data_name="mimic-r2gen" if _ds == "mimic" else "",
                                  source="r2gen" if _ds == "mimic" else "")

# --- LLaMA-XR ---------------------------------------------------------------------------------------
_XR_NUMBERS = {"bleu_1": 0.317, "bleu_2": 0.276, "bleu_3": 0.200, "bleu_4": 0.180, "rouge_l": 0.433, "meteor": 0.336}
_XR_SCORE = ("--convention", "llama-xr")   # LlamaXR.ipynb: per-report NLTK / rouge_score means
_XR_DIFFERS = (
    "optimizer: standard AdamW instead of 8-bit AdamW (adamw_8bit); Unsloth's kernels are not used",
    "no early stopping and no load_best_model_at_end: the final checkpoint is tested",
    "LoRA alpha and dropout not stated: 16 and 0 (the Unsloth notebook's values)",
    "split: R2Gen's annotation.json when --annotation is given, else a seeded 70/10/20 split by patient; the "
    "released notebook splits examples 70 / 7.5 / 22.5 (seed 42)",
    "decoding: greedy, at most 100 new tokens; the released notebook decodes greedily with "
    "no_repeat_ngram_size 3 and up to 700 new tokens",
    "test set: the whole test split is scored; the released notebook scores its first 100 test reports",
    "METEOR of the llama-xr convention needs NLTK's WordNet data, which cxrgen never downloads (one-line error "
    "saying how to install it)",
    "views: frontal/lateral from the OpenI DICOM ViewPosition that torchxrayvision ships (blank for 2,586 of "
    "7,470 images, PA for both images of 1,001 studies; a labelled lateral in 683 of 3,337 studies); "
    "otherwise the prepared image order decides, frontal first",
)
SETTINGS["llama-xr-iu"] = Setting(
    "llama-xr-iu", LLAMA_XR, "Table 3 (IU X-ray, LLaMA-XR (this study))", "llama-xr-iu.yaml", "iu", "qlora",
    "xrv-densenet121-res224-all", cached_features=True, decoding={}, numbers=dict(_XR_NUMBERS),
    trainable_params=41_943_040, paper_params="41,943,040 trainable (§3.5)", prepare=("--clean", "none"),
    data_name="iu-raw", score=_XR_SCORE, differs=_XR_DIFFERS)
SETTINGS["llama-xr-instruct-iu"] = Setting(
    "llama-xr-instruct-iu", LLAMA_XR, "Table 3 (IU X-ray, LLaMA-XR (this study)) — Instruct variant",
    "llama-xr-instruct-iu.yaml", "iu", "qlora", "xrv-densenet121-res224-all", cached_features=True, decoding={},
    numbers=dict(_XR_NUMBERS), trainable_params=41_943_040, paper_params="41,943,040 trainable (§3.5)",
    prepare=("--clean", "none"), data_name="iu-raw", score=_XR_SCORE,
    differs=("LLM: Llama-3.1-8B-Instruct, not the paper's base Llama 3.1 8B, and the loss on the response only "
             "(the paper's SFTTrainer puts it on the whole text)",) + _XR_DIFFERS)

# --- dual content/topic encoder ---------------------------------------------------------------------
SETTINGS["dual-iu"] = Setting(
    "dual-iu", DUAL, "Table 1 (IU X-Ray, Ours)", "dual-iu.yaml", "iu", "dual-vit", "vit-base", cached_features=False,
    decoding={}, numbers=_nlg(0.489, 0.314, 0.229, 0.165, 0.379, 0.23, 0.453), trainable_params=125_175_808,
    encoder_weights="timm/vit_base_patch16_224.augreg2_in21k_ft_in1k",
    differs=(
        "ViT checkpoint not named (\"pretrained on ImageNet\", from Hugging Face): "
        "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k unless --encoder-weights says otherwise",
        "encoder depths, heads, schedule, max report length (60) and decoding (greedy) not stated: cxrgen's choices",
        "contrastive target: the mean of the frozen LLM's last hidden states over the report tokens (the paper "
        "says only that the report is encoded with the frozen LLaMA)",
        "split: R2Gen's annotation.json when --annotation is given, else a seeded 70/10/20 split by patient",
        "checkpoint not stated: the final one is tested",
    ))
