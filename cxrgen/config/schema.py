"""One typed config per stage. Each stage module owns the meaning of its fields.

Fields marked ``runtime=True`` do not change an artifact's content (batch sizes, workers, device,
progress) and are left out of the fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cxrgen.config.base import config_field as F
from cxrgen.errors import ConfigError
from cxrgen.utils.device import normalize_device

# Upper bounds of the settings that size a model or a sequence: far above every published setting (the
# longest LLM context used here is 4,096 tokens; ClipCap's prefix is 10–40), low enough that a typo cannot
# ask for tens of GB before the first step (prefix_len=100000000 tried to allocate 51 GB). Lower bounds of
# train's keys stay in stages/train.validate, which names every bad value at once.
MAX_TOKENS = 32_768
MAX_PREFIX = 1_024


@dataclass(frozen=True)
class PrepareConfig:
    dataset: Literal["mimic", "iu", "synthetic"] = F("synthetic", "data set reader")
    name: str = F("", "workspace name of the prepared data set (default: the reader's name)")
    # where the data lies is not what it is: the readers fingerprint these inputs by content (files by
    # sha256, report trees by relative names, sizes and mtimes), so a moved data set keeps its fingerprint
    # and nothing downstream goes stale; the path is still recorded (manifest inputs, extra.root, config.yaml)
    root: str = F("", "data set root (MIMIC-CXR-JPG root, IU image dir, synthetic output dir)", runtime=True)
    reports: str = F("", "reports: MIMIC dir or mimic-cxr-reports.zip; IU NLMCXR_reports.tgz, XML dir or indiana_reports.csv",
                     runtime=True)
    projections: str = F("", "IU Kaggle indiana_projections.csv", runtime=True)
    # not runtime: R2Gen's MIMIC image folder (377k files) is not hashed, so its path stands for its content
    images: str = F("", "IU image directory, or the image folder of R2Gen's annotation.json (optional)")
    views: tuple[str, ...] = F(("AP", "PA"), "views kept (ViewPosition); empty keeps all")
    per_image: bool = F(False, "one record per image instead of per study")
    sections: Literal["findings", "impression", "findings+impression"] = F("findings", "sections that form the report")
    clean: Literal["r2gen", "r2gengpt", "lower", "none"] = F("r2gen", "report cleaning convention")
    deid: Literal["keep", "normalize"] = F("keep", "keep MIMIC's '___' de-identification markers or normalise them")
    split: Literal["official", "r2gen", "random"] = F("official", "split policy (IU: r2gen or random)")
    annotation: str = F("", "R2Gen annotation.json (iu_xray or mimic_cxr) for --split r2gen", runtime=True)
    val_frac: float = F(0.1, "random split: validation fraction (by patient)")
    test_frac: float = F(0.2, "random split: test fraction (by patient)")
    seed: int = F(0, "seed for random splits and synthetic data")
    n: int = F(2000, "synthetic: number of studies (at least 3: one patient per split)", lo=3, hi=1_000_000)
    layout: Literal["mimic", "iu"] = F("mimic", "synthetic: on-disk layout")
    image_size: int = F(320, "synthetic: image side in pixels (256–512)")
    on_error: Literal["fail", "skip"] = F("skip", "unreadable/missing report: fail, or skip and count")
    remove_priors: bool = F(False, "rewrite targets without references to previous exams (original kept in extra.report_with_priors)")
    prior_mentions: float = F(0.0, "synthetic: share of studies whose report refers to a prior exam that does not exist (as MIMIC reports do)")
    workers: int = F(0, "synthetic: processes drawing images (0: one per CPU core, at most 4)", runtime=True,
                     lo=0, cpus=True)

    def __post_init__(self) -> None:
        if self.per_image and self.dataset == "iu" and not self.images:
            pass  # IU records list image ids from the XML even without pixels
        if not 0.0 <= self.prior_mentions <= 1.0:
            raise ConfigError(f"prior_mentions={self.prior_mentions} must be in [0, 1]")
        if not 0 <= self.val_frac < 1 or not 0 <= self.test_frac < 1 or self.val_frac + self.test_frac >= 1:
            raise ConfigError("--val-frac and --test-frac must be in [0, 1) and sum to less than 1")


@dataclass(frozen=True)
class EmbedConfig:
    dataset: str = F("synthetic", "prepared data set to embed")
    encoder: str = F("tiny-medclip-vit", "encoder registry name (`cxrgen list encoders`)")
    encoder_weights: str = F("", "encoder weights: Hugging Face id, local dir or file (default: the encoder's "
                                 "source; --encoder-weights)", was="weights")
    allow_random_weights: bool = F(False, "let a real encoder without weights embed with random weights "
                                          "(tiny-* encoders always may)", runtime=True)
    dtype: Literal["float16", "float32"] = F("float16", "storage dtype of features.h5")
    on_error: Literal["fail", "skip"] = F("fail", "unreadable image: fail, or skip and list it in the manifest")
    batch_size: int = F(32, "images per forward pass", runtime=True, lo=1, hi=65536)
    workers: int = F(2, "DataLoader workers decoding images (capped at the CPUs available)", runtime=True,
                     lo=0, cpus=True)
    device: str = F("auto", "cpu, cuda, cuda:N or auto", runtime=True)
    shard_size: int = F(1024, "images per resumable shard", runtime=True, lo=1, hi=1_000_000)

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", normalize_device(self.device))
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be ≥ 1, got {self.batch_size}")
        if self.workers < 0:
            raise ConfigError(f"--workers must be ≥ 0, got {self.workers}")
        if self.shard_size < 1:
            raise ConfigError(f"shard_size must be ≥ 1, got {self.shard_size}")


@dataclass(frozen=True)
class MapperConfig:
    kind: Literal["transformer", "mlp"] = F("transformer", "ClipCap mapper type")
    layers: int = F(8, "transformer layers", lo=1, hi=64)
    heads: int = F(8, "attention heads", lo=1, hi=128)
    mlp_ratio: float = F(2.0, "MLP hidden size / d", lo=0.0, hi=64.0)
    in_dim: int = F(512, "image embedding size", lo=1, hi=65536)


@dataclass(frozen=True)
class LoraSpec:
    r: int = F(16, "LoRA rank", lo=1, hi=4096)
    alpha: int = F(16, "LoRA alpha")
    dropout: float = F(0.1, "LoRA dropout")
    targets: tuple[str, ...] = F((), "target module names (default: the recipe's)")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = F(2e-5, "peak learning rate")
    weight_decay: float = F(0.0, "AdamW weight decay")
    warmup_steps: int = F(0, "linear warm-up steps")
    schedule: Literal["cosine", "linear", "constant"] = F("cosine", "decay after warm-up")
    epochs: int = F(1, "passes over the training split")
    max_steps: int = F(0, "stop after this many optimizer steps (0: epochs decide)")
    batch_size: int = F(8, "examples per optimizer step per process (before accumulation)", hi=65536)
    grad_accum: int = F(1, "gradient accumulation steps", hi=65536)
    max_grad_norm: float = F(1.0, "gradient clipping (0: off)")


@dataclass(frozen=True)
class SelectDecoding:
    """How the val split is decoded for ``select=val:...`` (use the setting's test decoding)."""
    beams: int = F(1, "beam width (R2GenGPT: 3)", hi=64)
    max_new_tokens: int = F(100, "maximum generated tokens", hi=MAX_TOKENS)
    min_new_tokens: int = F(0, "minimum generated tokens")
    repetition_penalty: float = F(1.0, "repetition penalty (R2GenGPT: 2.0)")
    length_penalty: float = F(1.0, "beam length penalty (R2GenGPT: 2.0)")
    truncate_references: int = F(0, "cut val references to N tokens of the run's tokenizer before scoring "
                                     "(R2GenGPT: max_length; 0: off)")


@dataclass(frozen=True)
class DualConfig:
    """The dual content/topic encoder recipe (``--mode dual``); see cxrgen/models/dual.py."""
    content_layers: int = F(2, "content encoder: transformer layers over the visual tokens", lo=1, hi=64)
    topic_layers: int = F(2, "topic encoder: cross-attention layers of the topic queries", lo=1, hi=64)
    heads: int = F(8, "attention heads of both encoders", lo=1, hi=128)
    topics: tuple[str, ...] = F(("findings", "impression"), "topic words whose LLM embeddings seed the topic queries")
    temperature: float = F(0.07, "InfoNCE temperature (paper §3.1: 0.07)")
    infonce_weight: float = F(0.5, "loss = (1 - w)·LM + w·InfoNCE (paper §3.1: 0.5/0.5)")
    target: Literal["hidden", "embeddings"] = F("hidden", "contrastive report target: mean of the frozen LLM's last "
                                                         "hidden states over the report (paper §2) or, cheaper, of its "
                                                         "input embeddings")

    def __post_init__(self) -> None:
        if not 0.0 <= self.infonce_weight <= 1.0:
            raise ConfigError(f"dual.infonce_weight={self.infonce_weight} must be in [0, 1]")
        if self.temperature <= 0:
            raise ConfigError(f"dual.temperature={self.temperature} must be > 0")
        if not self.topics:
            raise ConfigError("dual.topics must name at least one topic word, e.g. dual.topics=findings,impression")


@dataclass(frozen=True)
class TrainConfig:
    mode: str = F("prefix", "training recipe (`cxrgen list modes`)")
    llm: str = F("tiny-gpt2", "language model alias, Hugging Face id or local dir (`cxrgen list llms`)")
    run: str = F("", "run name (default: <mode>-<llm>-<dataset>)")
    dataset: str = F("synthetic", "prepared data set")
    encoder: str = F("", "embed artifact to read (default: the recipe's encoder)")
    llm_weights: str = F("", "LLM weights override (local dir; --llm-weights)", was="weights")
    max_len: int = F(100, "max report tokens (the target is truncated, EOS always kept)", hi=MAX_TOKENS)
    loss_on: Literal["response", "all"] = F("response", "LM loss on the report + EOS only, or on the prompt text "
                                                        "too (LLaMA-XR's SFTTrainer: all)")
    prefix_len: int = F(10, "prefix tokens produced by the mapper", hi=MAX_PREFIX)
    clip_len: int = F(10, "tokens the image embedding is first expanded to", hi=MAX_PREFIX)
    mapper: MapperConfig = F(default_factory=MapperConfig, help="mapper architecture")
    lora: LoraSpec = F(default_factory=LoraSpec, help="LoRA adapter settings")
    optim: OptimConfig = F(default_factory=OptimConfig, help="optimizer and schedule")
    seed: int = F(42, "seed for init, shuffling and dropout")
    val_every: int = F(0, "validate every N steps (0: at the end of each epoch)")
    select: str = F("", "checkpoint selection: '' (final only) or val:<metric>[+<metric>] — generate on the val "
                        "split at each validation, keep the best mean in best/ (R2GenGPT: val:bleu_4+cider)")
    select_decoding: SelectDecoding = F(default_factory=SelectDecoding, help="decoding of the val split for select")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = F("auto", "autocast dtype and a frozen LLM's weight dtype on GPU (auto: bf16 on GPU, fp32 on CPU)")
    grad_checkpointing: bool = F(False, "recompute activations to save memory", runtime=True)
    save_every: int = F(500, "checkpoint every N steps", runtime=True)
    keep_last: int = F(2, "step checkpoints to keep", runtime=True, hi=1000)
    log_every: int = F(10, "metrics.jsonl every N steps", runtime=True)
    workers: int = F(0, "DataLoader workers (capped at the CPUs available)", runtime=True, lo=0, cpus=True)
    device: str = F("auto", "cpu, cuda, cuda:N or auto", runtime=True)
    # --- recipe-specific (issue 7): R2GenGPT delta/deep, LLaMA-XR qlora, dual ---
    encoder_weights: str = F("", "delta/deep/dual-vit: weights of the encoder trained on the fly (HF id, local dir or file; "
                                 "default: microsoft/swin-base-patch4-window7-224 or an ImageNet ViT-B/16)")
    quant: Literal["auto", "nf4", "none"] = F("auto", "qlora: LLM weights in 4-bit NF4 + double quantisation "
                                                     "(auto: nf4 on CUDA, none on CPU)")
    dual: DualConfig = F(default_factory=DualConfig, help="dual content/topic encoder settings")

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", normalize_device(self.device))


@dataclass(frozen=True)
class GenerateConfig:
    run: str = F("", "training run to generate with (default: the only/latest run)")
    split: Literal["train", "val", "test"] = F("test", "split to generate for")
    checkpoint: str = F("final", "checkpoint folder inside the run (final, best — the select=val:... choice —, step-000500, latest)")
    beams: int = F(1, "beam width (1: greedy)", hi=64)
    max_new_tokens: int = F(100, "maximum generated tokens")   # bounded by the model's context (stages/generate)
    min_new_tokens: int = F(0, "minimum generated tokens")
    repetition_penalty: float = F(1.0, "repetition penalty (R2GenGPT: 2.0)")
    length_penalty: float = F(1.0, "beam length penalty (R2GenGPT: 2.0)")
    shuffle_features: bool = F(False, "control: give each study another study's image features")
    seed: int = F(0, "seed of the --shuffle-features permutation")
    limit: int = F(0, "only the first N records of the split (0: all)")
    batch_size: int = F(16, "studies per batch", runtime=True, hi=65536)
    device: str = F("auto", "cpu, cuda, cuda:N or auto", runtime=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", normalize_device(self.device))


@dataclass(frozen=True)
class ScoreConfig:
    metrics: tuple[str, ...] = F(("bleu", "meteor", "rouge_l", "cider", "ce"), "metric groups to compute")
    tokenize: Literal["none", "ptb"] = F("none", "none: score strings as given (R2Gen/R2GenGPT); ptb: PTB tokenizer")
    uncertain: Literal["pos", "neg"] = F("pos", "headline CE binarisation of uncertain (-1) labels")
    bootstrap: int = F(1000, "bootstrap resamples for 95% intervals (0: off)", hi=1_000_000)
    seed: int = F(12345, "bootstrap / permutation seed")
    permutations: int = F(10000, "approximate randomization trials for --compare (0: off)", hi=10_000_000)
    reference_labels: str = F("auto", "headline CE reference labels: auto (data set labels when present, else the "
                                      "labeler on the reference text) | labeler | dataset; both are always reported")
    labeler: str = F("rules", "CheXpert-14 labeler: rules (cxrgen's, offline) | chexbert (local chexbert.pth)")
    labeler_weights: str = F("", "chexbert: chexbert.pth or a folder holding it (never downloaded)")
    tokenizer: str = F("", "chexbert: folder with the bert-base-uncased tokenizer (vocab.txt)")
    convention: Literal["coco", "llama-xr"] = F("coco", "coco: coco-caption corpus scores; llama-xr: LLaMA-XR's per-report "
                                                       "NLTK BLEU / rouge_score ROUGE-L / NLTK METEOR after dropping 'XXXX' reports")
    truncate_references: int = F(0, "cut references to N tokens of the run's tokenizer before scoring (R2GenGPT: "
                                     "max_length 60 IU, 100 MIMIC; 0: off)")
    reference_tokenizer: str = F("", "tokenizer for --truncate-references: LLM alias, HF id or folder (workspace mode: "
                                     "the run's LLM)")
    max_report_chars: int = F(100_000, "longest prediction/reference accepted (the scorers' time and memory grow with it)",
                              runtime=True, lo=1, hi=100_000_000)
    device: str = F("auto", "chexbert: cpu, cuda, cuda:N or auto", runtime=True)
    batch_size: int = F(16, "chexbert: reports per forward pass", runtime=True, lo=1, hi=65536)

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", normalize_device(self.device))
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be ≥ 1, got {self.batch_size}")
        if self.max_report_chars < 1:
            raise ConfigError(f"max_report_chars={self.max_report_chars} must be ≥ 1")


@dataclass(frozen=True)
class ReportConfig:
    run: str = F("", "run whose generated reports to show (default: the latest finished training run)")
    split: str = F("test", "folder under generate/<run>/ (test, val, test-shuffled, …)")
    compare: str = F("", "another scored system on the same references, RUN or RUN/SPLIT: metrics side by side, paired differences")
    redact: bool = F(False, "replace report text by its finding labels (no free text in the page)")
    max_studies: int = F(1000, "study cards on the page, the worst first (report CE F1, then ROUGE-L)")
    thumbnail_size: int = F(192, "longest side of the embedded X-ray thumbnails in pixels (0: no images)")

    def __post_init__(self) -> None:
        if self.max_studies < 1:
            raise ConfigError(f"--max-studies must be ≥ 1, got {self.max_studies}")
        if not 0 <= self.thumbnail_size <= 1024:
            raise ConfigError(f"--thumbnail-size must be in [0, 1024] pixels, got {self.thumbnail_size}")


@dataclass(frozen=True)
class DemoConfig:
    n: int = F(1200, "synthetic studies")
    seed: int = F(0, "seed for data, init and shuffling")
    encoder: str = F("tiny-medclip-vit", "image encoder (tiny twin: no download)")
    llm: str = F("tiny-gpt2", "language model (tiny twin: no download)")
    lm_epochs: int = F(4, "epochs of text-only training that stand in for the tiny LLM's pretraining")
    lm_lr: float = F(3e-3, "peak learning rate of the text-only step")
    epochs: int = F(8, "prefix-tuning epochs (mapper only, LLM frozen)")
    lr: float = F(1e-3, "peak learning rate of prefix tuning")
    batch_size: int = F(16, "training batch size")
    max_len: int = F(64, "max report tokens")
    max_new_tokens: int = F(64, "generation length limit")
    bootstrap: int = F(200, "bootstrap resamples for the score intervals")
