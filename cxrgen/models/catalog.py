"""Registry entries as plain data, so `cxrgen list` and `--help` never import torch.

Each entry's ``target`` ('module:attr') is imported only when the entry is used. Every real entry
has a ``tiny-*`` twin: random-initialised, built from a config with the same code path, used by
the tests and the demo (no model hub here).
"""

from __future__ import annotations

from cxrgen.registry import Entry, Registry

# --- data sets (prepare) -------------------------------------------------------------------
DATASETS: Registry[Entry] = Registry("dataset")
DATASETS.register("mimic", Entry("cxrgen.data.mimic:read", {}),
                  "MIMIC-CXR-JPG 2.0/2.1 + MIMIC-CXR reports (PhysioNet, credentialed access)")
DATASETS.register("iu", Entry("cxrgen.data.iu:read", {}),
                  "IU X-ray / OpenI: NLMCXR_reports.tgz, XML dir or Kaggle indiana_reports.csv")
DATASETS.register("synthetic", Entry("cxrgen.data.synthetic:read", {}),
                  "synthetic CXRs with visible findings and matching reports (made locally)")

# --- image encoders (embed) ----------------------------------------------------------------
ENCODERS: Registry[Entry] = Registry("encoder")
_E = "cxrgen.models.encoders"
ENCODERS.register("medclip-vit", Entry(f"{_E}.medclip:build", {"dim": 512, "tokens": 0}),
                  "MedCLIP vision (Swin-T → Linear 768→512, L2-normalised), 512-d; --encoder-weights pytorch_model.bin")
ENCODERS.register("tiny-medclip-vit", Entry(f"{_E}.medclip:build", {"dim": 512, "tokens": 0, "tiny": True}),
                  "random tiny MedCLIP twin (1-stage Swin, 7×7 grid flattened → 512, L2-normalised; tests, demo)")
ENCODERS.register("xrv-densenet121-res224-all", Entry(f"{_E}.xrv:build", {"dim": 1024, "tokens": 0, "scores": 18}),
                  "torchxrayvision DenseNet-121 res224-all: 1024-d + 18 pathology scores; --encoder-weights FILE")
ENCODERS.register("tiny-xrv-densenet", Entry(f"{_E}.xrv:build", {"dim": 32, "tokens": 0, "scores": 18, "tiny": True}),
                  "random small torchxrayvision DenseNet: 32-d + 18 scores (tests)")
ENCODERS.register("swin-base-grid", Entry(f"{_E}.swin:build", {"dim": 1024, "tokens": 49}),
                  "R2GenGPT's Swin-B patch4 window7 224 last hidden state, 49×1024 grid; --encoder-weights HF id, dir or file")
ENCODERS.register("tiny-swin-grid", Entry(f"{_E}.swin:build", {"dim": 64, "tokens": 49, "tiny": True}),
                  "random tiny Swin grid encoder (tests)")
ENCODERS.register("vit-base", Entry(f"{_E}.vit:build", {"dim": 768, "tokens": 197}),
                  "timm ViT-B/16 224 patch features 197×768 (dual-encoder recipe); --encoder-weights file, dir or timm hub name")
ENCODERS.register("clip-vit-base", Entry(f"{_E}.vit:build", {"dim": 768, "tokens": 197, "arch": "vit_base_patch16_clip_224"}),
                  "timm CLIP ViT-B/16 image tower patch features 197×768; --encoder-weights file, dir or timm hub name")
ENCODERS.register("tiny-vit", Entry(f"{_E}.vit:build", {"dim": 64, "tokens": 17, "tiny": True}),
                  "random tiny timm ViT (tests)")

# --- language models (train) ---------------------------------------------------------------
LLMS: Registry[Entry] = Registry("llm")
_L = "cxrgen.models.llms:build"
LLMS.register("gpt2", Entry(_L, {"hf": "openai-community/gpt2"}), "GPT-2 small (124M), d=768")
LLMS.register("gpt2-medium", Entry(_L, {"hf": "openai-community/gpt2-medium"}), "GPT-2 medium (355M), d=1024")
LLMS.register("qwen1.5-0.5b", Entry(_L, {"hf": "Qwen/Qwen1.5-0.5B"}), "Qwen1.5-0.5B, d=1024")
LLMS.register("llama2-7b-chat", Entry(_L, {"hf": "meta-llama/Llama-2-7b-chat-hf"}), "Llama-2-7B-chat (R2GenGPT), d=4096")
LLMS.register("llama2-7b", Entry(_L, {"hf": "meta-llama/Llama-2-7b-hf"}), "Llama-2-7B base (dual content/topic), d=4096")
LLMS.register("llama3.1-8b", Entry(_L, {"hf": "meta-llama/Llama-3.1-8B"}),
              "Llama 3.1 8B base (LLaMA-XR's model; EOS <|end_of_text|>), d=4096")
LLMS.register("llama3.1-8b-instruct", Entry(_L, {"hf": "meta-llama/Llama-3.1-8B-Instruct"}),
              "Llama-3.1-8B-Instruct (LLaMA-XR Instruct variant), d=4096")
LLMS.register("tiny-gpt2", Entry(_L, {"tiny": "gpt2"}), "random 2-layer GPT-2 with a local tokenizer (tests, demo)")
LLMS.register("tiny-qwen2", Entry(_L, {"tiny": "qwen2"}), "random 2-layer Qwen2 with a local tokenizer (tests)")
LLMS.register("tiny-llama", Entry(_L, {"tiny": "llama"}), "random 2-layer Llama with a local tokenizer (tests)")

# --- training recipes (train --mode) -------------------------------------------------------
MODES: Registry[Entry] = Registry("mode")
_R = "cxrgen.models.recipes"
MODES.register("prefix", Entry(f"{_R}.prefix:PrefixRecipe", {}),
               "resource-efficient MRG: ClipCap mapper → prefix, LLM frozen (Table I)")
MODES.register("finetune", Entry(f"{_R}.prefix:FinetuneRecipe", {}),
               "resource-efficient MRG: mapper + LLM trained (Table II)")
MODES.register("shallow", Entry(f"{_R}.r2gengpt:ShallowRecipe", {}),
               "R2GenGPT shallow: Swin-B frozen, projector only (4,206,592 params at d=4096)")
MODES.register("delta", Entry(f"{_R}.r2gengpt:DeltaRecipe", {}),
               "R2GenGPT delta: + LoRA r16 on Swin query/value, images encoded on the fly (4,976,640)")
MODES.register("deep", Entry(f"{_R}.r2gengpt:DeepRecipe", {}),
               "R2GenGPT deep: + whole Swin-B trained, images encoded on the fly (90,949,816)")
MODES.register("qlora", Entry(f"{_R}.qlora:QloraRecipe", {}),
               "LLaMA-XR: xrv pathology scores as text, 4-bit NF4 LLM + LoRA r16 (41,943,040 params)")
MODES.register("dual", Entry(f"{_R}.dual:DualRecipe", {}),
               "dual content/topic encoders → projector, LLM frozen; 0.5·LM + 0.5·InfoNCE (τ 0.07)")
MODES.register("dual-vit", Entry(f"{_R}.dual:DualVitRecipe", {}),
               "dual with the paper's trainable ImageNet ViT run on the fly (224×224, no crop); only the LLM frozen")
MODES.register("lm", Entry(f"{_R}.lm:LanguageModelRecipe", {}),
               "the LLM alone on report text (tiny twins' stand-in for pretraining; exports final/hf)")
