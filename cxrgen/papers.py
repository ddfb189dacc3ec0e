"""The published settings that ``cxrgen reproduce`` runs, with the numbers their papers report.

Every number is copied from the cited table (test split); ``None`` where the paper gives none.
Metric keys follow ``scores.json``: bleu_1..bleu_4, meteor, rouge_l, cider, and for clinical
efficacy (R2GenGPT Table 2, MIMIC-CXR) ce_precision, ce_recall, ce_f1.
Pure data: importing this module imports nothing heavy (``cxrgen reproduce --list`` stays instant).
"""

from __future__ import annotations

from dataclasses import dataclass, field

R2GENGPT = "Wang, Liu, Wang & Zhou, R2GenGPT: Radiology report generation with frozen LLMs, Meta-Radiology 1(3), 2023"
LLAMA_XR = "Aithal et al., LLaMA-XR: A Novel Framework for Radiology Report Generation using LLaMA and QLoRA Fine Tuning, 2025"
DUAL = "Nguyen, Omer & Choo, Vision-Language Model for Medical Report Generation (SKKU, Korean), 2025"

METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider", "ce_precision", "ce_recall", "ce_f1")


@dataclass(frozen=True)
class Setting:
    name: str
    paper: str                     # full citation
    table: str                     # where the numbers come from
    config: str                    # examples/configs/<config>
    dataset: str                   # iu | mimic (prepare reader)
    mode: str
    encoder: str
    cached_features: bool          # False: the recipe encodes images on the fly (no embed step)
    decoding: dict = field(default_factory=dict)   # GenerateConfig keys
    numbers: dict = field(default_factory=dict)    # metric → value in the paper
    trainable_params: int | None = None             # as stated in the paper
    encoder_weights: str = ""      # default image-encoder weights ("" → --encoder-weights is required)

    @property
    def short(self) -> str:
        """The method's name, e.g. 'R2GenGPT'."""
        return {R2GENGPT: "R2GenGPT", LLAMA_XR: "LLaMA-XR", DUAL: "dual content/topic"}.get(self.paper, self.paper)


def _nlg(b1, b2, b3, b4, rouge, meteor, cider):
    return {"bleu_1": b1, "bleu_2": b2, "bleu_3": b3, "bleu_4": b4, "rouge_l": rouge, "meteor": meteor, "cider": cider}


_R2_DECODE = {"iu": dict(beams=3, repetition_penalty=2.0, length_penalty=2.0, min_new_tokens=40, max_new_tokens=100),
              "mimic": dict(beams=3, repetition_penalty=2.0, length_penalty=2.0, min_new_tokens=80, max_new_tokens=120)}
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
# exact counts of our implementation; the paper rounds them to 4.2M / 5.0M / 90.9M (Table 2)
_R2_PARAMS = {"shallow": 4_206_592, "delta": 4_976_640, "deep": 90_949_816}

SETTINGS: dict[str, Setting] = {}
for _mode in ("shallow", "delta", "deep"):
    for _ds, _label in (("iu", "IU-Xray"), ("mimic", "MIMIC-CXR")):
        _nums = dict(_R2_TABLE1[(_mode, _ds)])
        _table = f"Table 1 ({_label}, R2GenGPT ({_mode.capitalize()}))"
        if _ds == "mimic":
            _nums.update(zip(("ce_precision", "ce_recall", "ce_f1"), _R2_TABLE2[_mode]))
            _table += " + Table 2"
        _name = f"r2gengpt-{_mode}-{_ds}"
        SETTINGS[_name] = Setting(_name, R2GENGPT, _table, f"{_name}.yaml", _ds, _mode, "swin-base-grid",
                                  cached_features=_mode == "shallow", decoding=_R2_DECODE[_ds], numbers=_nums,
                                  trainable_params=_R2_PARAMS[_mode],
                                  encoder_weights="microsoft/swin-base-patch4-window7-224")
SETTINGS["llama-xr-iu"] = Setting(
    "llama-xr-iu", LLAMA_XR, "Table 3 (IU X-ray, LLaMA-XR (this study))", "llama-xr-iu.yaml", "iu", "qlora",
    "xrv-densenet121-res224-all", cached_features=True, decoding={},
    numbers={"bleu_1": 0.317, "bleu_2": 0.276, "bleu_3": 0.200, "bleu_4": 0.180, "rouge_l": 0.433, "meteor": 0.336},
    trainable_params=41_943_040)
SETTINGS["dual-iu"] = Setting(
    "dual-iu", DUAL, "Table 1 (IU X-Ray, Ours)", "dual-iu.yaml", "iu", "dual", "vit-base", cached_features=True,
    decoding={}, numbers=_nlg(0.489, 0.314, 0.229, 0.165, 0.379, 0.23, 0.453),
    encoder_weights="timm/vit_base_patch16_224.augreg2_in21k_ft_in1k")
