"""Language models: registry names → configs, tokenizers and (optionally) real weights.

    llm = load_llm("qwen1.5-0.5b", meta=True)           # architecture only, no download (dry-run)
    llm = load_llm("gpt2", dtype=torch.bfloat16)        # real weights: HF id (cache/hub) or --llm-weights DIR
    llm = load_llm("tiny-gpt2")                          # random tiny model + locally built tokenizer
    llm.model, llm.tokenizer, llm.hidden_size, llm.eos_id, llm.pad_id

A name is resolved in this order: a registry alias (`cxrgen list llms`), an existing local directory
(config.json + weights + tokenizer files, as written by ``save_pretrained``), else a Hugging Face id.
The architecture configs of the registry's named models are built in (the exact values of their
config.json), so parameter counting on the meta device never touches the network.
``tiny-*`` models are initialised from a fixed seed, so the frozen LLM of a prefix run is rebuilt
identically at generation time without saving its weights.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxrgen.errors import CheckpointError, ConfigError, DependencyError
from cxrgen.models.seed import seeded

# --- built-in architecture configs (config.json values of the named models) -----------------------
_GPT2_COMMON = dict(model_type="gpt2", activation_function="gelu_new", attn_pdrop=0.1, embd_pdrop=0.1,
                    resid_pdrop=0.1, layer_norm_epsilon=1e-5, initializer_range=0.02, n_ctx=1024,
                    n_positions=1024, vocab_size=50257, bos_token_id=50256, eos_token_id=50256,
                    tie_word_embeddings=True)
ARCH_CONFIGS: dict[str, dict[str, Any]] = {
    "gpt2": dict(_GPT2_COMMON, n_embd=768, n_layer=12, n_head=12),
    "gpt2-medium": dict(_GPT2_COMMON, n_embd=1024, n_layer=24, n_head=16),
    "qwen1.5-0.5b": dict(model_type="qwen2", vocab_size=151936, hidden_size=1024, intermediate_size=2816,
                         num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                         hidden_act="silu", max_position_embeddings=32768, rms_norm_eps=1e-6,
                         rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False,
                         sliding_window=32768, max_window_layers=21, attention_dropout=0.0,
                         initializer_range=0.02, bos_token_id=151643, eos_token_id=151643),
    "llama2-7b-chat": dict(model_type="llama", vocab_size=32000, hidden_size=4096, intermediate_size=11008,
                           num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                           hidden_act="silu", max_position_embeddings=4096, rms_norm_eps=1e-5,
                           rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False,
                           initializer_range=0.02, bos_token_id=1, eos_token_id=2),
    "llama3.1-8b-instruct": dict(model_type="llama", vocab_size=128256, hidden_size=4096,
                                 intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                                 num_key_value_heads=8, hidden_act="silu", max_position_embeddings=131072,
                                 rms_norm_eps=1e-5, rope_theta=500000.0,
                                 rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                               "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                                 tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
                                 initializer_range=0.02, bos_token_id=128000,
                                 eos_token_id=[128001, 128008, 128009]),
}
ARCH_CONFIGS["llama2-7b"] = dict(ARCH_CONFIGS["llama2-7b-chat"])  # base model: same architecture
# Llama 3.1 8B base: the Instruct architecture; its EOS is <|end_of_text|> (128001) alone
ARCH_CONFIGS["llama3.1-8b"] = dict(ARCH_CONFIGS["llama3.1-8b-instruct"], eos_token_id=128001)

# tiny twins: same model classes, 2 layers, d=64 (tiny-gpt2: d=128, so a frozen random LM has room to be steered); the vocabulary comes from the local tokenizer.
# initializer_range 0.2 (not 0.02): a frozen random LM initialised at 0.02 has near-uniform logits
# (|logit| < 1) that no prefix can steer, so a prefix run on a tiny model could never learn anything.
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "gpt2": dict(model_type="gpt2", n_embd=128, n_layer=2, n_head=4, n_positions=512, n_ctx=512,
                 attn_pdrop=0.0, embd_pdrop=0.0, resid_pdrop=0.0, tie_word_embeddings=True,
                 initializer_range=0.2),
    "qwen2": dict(model_type="qwen2", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  tie_word_embeddings=True, initializer_range=0.2),
    "llama": dict(model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  tie_word_embeddings=False, initializer_range=0.2),
}

# --- a small radiology-style corpus for the tiny tokenizers (byte-level BPE covers any other text) --
_CORPUS = """
the lungs are clear. there is no focal consolidation, pleural effusion or pneumothorax.
the cardiomediastinal silhouette is within normal limits. heart size is normal.
the heart is enlarged consistent with cardiomegaly. mild cardiomegaly is unchanged.
there is a small left pleural effusion. moderate right pleural effusion with adjacent atelectasis.
bibasilar atelectasis. patchy opacity in the right lower lobe concerning for pneumonia.
pulmonary edema with vascular congestion. mild interstitial edema. no pulmonary edema.
a right apical pneumothorax is present. no pneumothorax is seen. small left pneumothorax.
there is a nodule in the left upper lobe, a lung lesion. no suspicious pulmonary nodules.
enlarged cardiomediastinum. the mediastinum is widened. lung opacity in both lower lobes.
consolidation in the left lower lobe. fracture of the right posterior rib. no acute fracture.
support devices: endotracheal tube, nasogastric tube and right internal jugular central line in place.
pacemaker leads terminate in the right atrium and ventricle. sternotomy wires are intact.
pleural thickening at the left apex. no acute cardiopulmonary process. no finding.
impression: no acute cardiopulmonary abnormality. findings: as above. compared with the prior study.
frontal and lateral views of the chest were obtained. pa and lateral chest radiograph. ap portable view.
osseous structures are unremarkable. the hila are normal. degenerative changes of the thoracic spine.
there is no focal consolidation. there is no pulmonary edema. there is no pleural effusion or pneumothorax.
a moderate right pleural effusion is present with blunting of the costophrenic angle.
a large left pleural effusion. small bilateral pleural effusions. trace left pleural effusion.
the cardiac silhouette is normal in size. the cardiac silhouette is enlarged. moderate to severe cardiomegaly.
a 2 cm rounded nodule is seen in the right upper lung. no pulmonary nodules are identified.
there is airspace opacity in the right lower lobe consistent with consolidation or pneumonia.
an endotracheal tube terminates 4 cm above the carina. the endotracheal tube tip is 3 cm above the carina.
a right internal jugular central venous catheter terminates in the mid svc. right ij central line tip projects over the svc.
an enteric tube courses below the diaphragm, tip in the stomach. the nasogastric tube tip is in the stomach.
a left chest wall pacemaker is present with a lead in the right ventricle. dual lead pacemaker is unchanged.
there is a small apical pneumothorax on the left. a large right pneumothorax with mediastinal shift.
lungs are well expanded and clear. heart size is normal. no acute osseous abnormality.
history: shortness of breath. evaluate for pneumonia. comparison: chest radiograph from the prior day.
"""
_FINDINGS = ("no finding", "enlarged cardiomediastinum", "cardiomegaly", "lung lesion", "lung opacity", "edema",
             "consolidation", "pneumonia", "atelectasis", "pneumothorax", "pleural effusion", "pleural other",
             "fracture", "support devices", "left", "right", "small", "moderate", "large", "mild", "severe")
EOS_TOKEN, PAD_TOKEN, BOS_TOKEN = "<|endoftext|>", "<|pad|>", "<|bos|>"
TINY_VOCAB = 1024


@dataclass
class LLM:
    """A causal LM with its tokenizer. ``source`` is the HF id or folder the weights came from."""
    name: str
    model: Any
    tokenizer: Any
    source: str
    tiny: bool = False

    @property
    def hidden_size(self) -> int:
        return hidden_size(self.model.config)

    @property
    def eos_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_id

    def embed(self, ids):
        return self.model.get_input_embeddings()(ids)


@dataclass(frozen=True)
class LLMSpec:
    name: str
    hf: str = ""          # Hugging Face id (registry aliases)
    local: str = ""       # local directory
    tiny: str = ""        # tiny family (gpt2, qwen2, llama)

    @property
    def source(self) -> str:
        return self.local or self.hf or f"tiny-{self.tiny}"


def resolve(name: str, weights: str = "") -> LLMSpec:
    """Registry alias, local dir, or HF id. ``weights`` (a local dir) replaces the alias's HF id."""
    from cxrgen.models.catalog import LLMS
    if name in LLMS:
        info = LLMS.get(name).info
        if info.get("tiny"):
            if weights:
                raise ConfigError(f"llm {name!r} is a random tiny model; it takes no --llm-weights (got {weights!r})")
            return LLMSpec(name, tiny=info["tiny"])
        return LLMSpec(name, hf=info["hf"], local=_local(weights) if weights else "")
    if weights:
        return LLMSpec(name, hf=name, local=_local(weights))
    if Path(name).expanduser().is_dir():
        return LLMSpec(name, local=_local(name))
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        return LLMSpec(name, hf=name)
    LLMS.get(name)  # raises the did-you-mean error listing the aliases
    raise AssertionError("unreachable")


def _local(path: str) -> str:
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ConfigError(f"llm weights {path!r}: not a directory; give a folder written by save_pretrained "
                          "(config.json, *.safetensors, tokenizer files)")
    if not (p / "config.json").is_file():
        raise CheckpointError(f"{p}: no config.json; give a folder written by save_pretrained")
    return str(p.absolute())


def context_length(config: Any) -> int | None:
    """Hard position limit of a model with learned absolute position embeddings (GPT-2's ``n_positions``:
    position ids past it index out of the embedding table, a CUDA assert or an IndexError deep in the
    model); ``None`` for rotary models (Llama, Qwen), whose ``max_position_embeddings`` is a training
    length, not a limit."""
    v = getattr(config, "n_positions", None)
    return v if isinstance(v, int) and v > 0 else None


def check_generation_length(config: Any, input_len: int, max_new_tokens: int) -> None:
    """ConfigError if ``input_len`` (prefix/prompt positions) + ``max_new_tokens`` exceed the model's
    hard position limit (:func:`context_length`)."""
    from cxrgen.errors import ConfigError
    n = context_length(config)
    if n is not None and input_len + max_new_tokens > n:
        raise ConfigError(f"--max-new-tokens {max_new_tokens}: with {input_len} input positions this exceeds the "
                          f"model's context of {n} tokens; use --max-new-tokens {max(1, n - input_len)} or less")


def hidden_size(config: Any) -> int:
    for k in ("hidden_size", "n_embd", "d_model"):
        v = getattr(config, k, None)
        if isinstance(v, int):
            return v
    raise ConfigError(f"cannot tell the hidden size of a {type(config).__name__}")


def arch_config(spec: LLMSpec, vocab_size: int | None = None):
    """The transformers config of a model, without downloading weights where it is built in."""
    from transformers import AutoConfig
    if spec.tiny:
        kw = dict(TINY_CONFIGS[spec.tiny])
        mt = kw.pop("model_type")
        tok = tiny_tokenizer()
        kw.update(vocab_size=vocab_size or len(tok), bos_token_id=tok.bos_token_id,
                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        return AutoConfig.for_model(mt, **kw)
    if spec.name in ARCH_CONFIGS and not spec.local:
        kw = dict(ARCH_CONFIGS[spec.name])
        return AutoConfig.for_model(kw.pop("model_type"), **kw)
    src = spec.local or spec.hf
    try:
        return AutoConfig.from_pretrained(src)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"llm {spec.name!r}: cannot read the config of {src!r} ({_short(e)}); "
                              "download it first or pass a local folder with --llm-weights") from None


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__


# --- tokenizers --------------------------------------------------------------------------------------
def _cache_dir() -> Path:
    base = os.environ.get("CXRGEN_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "cxrgen")
    return Path(base).expanduser()


@functools.lru_cache(maxsize=1)
def tiny_tokenizer():
    """A byte-level BPE tokenizer trained locally on the built-in corpus (deterministic; cached on disk)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [line.strip() for line in _CORPUS.strip().splitlines()] + list(_FINDINGS)
    key = hashlib.sha256(("\n".join(corpus) + f"|{TINY_VOCAB}|v2").encode()).hexdigest()[:16]
    path = _cache_dir() / "tokenizers" / f"tiny-bpe-{key}.json"
    tok = None
    if path.is_file():
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception:  # a corrupt cache file: rebuild it
            tok = None
    if tok is None:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=TINY_VOCAB, min_frequency=1, show_progress=False,
                                      special_tokens=[EOS_TOKEN, PAD_TOKEN, BOS_TOKEN],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(corpus * 4, trainer=trainer)
        try:
            from cxrgen.utils.io import atomic_write_text
            atomic_write_text(path, tok.to_str())
        except Exception:  # the cache is an optimisation only
            pass
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN,
                                   bos_token=BOS_TOKEN, unk_token=None, model_max_length=512)


def load_tokenizer(spec: LLMSpec):
    if spec.tiny:
        return tiny_tokenizer()
    from transformers import AutoTokenizer
    src = spec.local or spec.hf
    try:
        tok = AutoTokenizer.from_pretrained(src)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"llm {spec.name!r}: cannot load the tokenizer of {src!r} ({_short(e)}); "
                              "download the model first or pass a local folder with --llm-weights") from None
    if tok.eos_token_id is None:
        raise CheckpointError(f"llm {spec.name!r}: the tokenizer of {src!r} has no EOS token")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token  # padding is masked out; EOS doubles as pad (GPT-2, Llama)
    return tok


# --- models ------------------------------------------------------------------------------------------
def load_llm(name: str, *, weights: str = "", meta: bool = False, dtype: Any = None, device: Any = None,
             quantization_config: Any = None, model_kwargs: dict | None = None) -> LLM:
    """Build or load a causal LM.

    ``meta=True``: architecture only on the meta device (parameter counting; no weights, no download).
    ``quantization_config``: passed to ``from_pretrained`` (e.g. a 4-bit BitsAndBytesConfig built by
    the qlora recipe). ``model_kwargs``: extra ``from_pretrained`` arguments (attn_implementation, …).
    """
    import torch
    from transformers import AutoModelForCausalLM

    spec = resolve(name, weights)
    if meta:
        cfg = arch_config(spec)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(cfg)
        tok = tiny_tokenizer() if spec.tiny else None
        return LLM(name, model, tok, spec.source, tiny=bool(spec.tiny))
    if spec.tiny:
        tok = tiny_tokenizer()
        cfg = arch_config(spec)
        with seeded():  # frozen tiny weights are rebuilt from the one tiny seed, never saved
            model = AutoModelForCausalLM.from_config(cfg)
        if dtype is not None:
            model = model.to(dtype)
        if device is not None:
            model = model.to(device)
        return LLM(name, model, tok, spec.source, tiny=True)
    tok = load_tokenizer(spec)
    kw = dict(model_kwargs or {})
    if dtype is not None:
        kw["dtype"] = dtype
    if quantization_config is not None:
        kw["quantization_config"] = quantization_config
        if device is not None:
            kw["device_map"] = {"": device}
    src = spec.local or spec.hf
    try:
        model = AutoModelForCausalLM.from_pretrained(src, **kw)
    except ImportError as e:
        raise DependencyError(f"llm {spec.name!r}: {_short(e)} (for 4-bit: pip install 'cxrgen[gpu]')") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"llm {spec.name!r}: cannot load weights from {src!r} ({_short(e)}); "
                              "download them first (huggingface-cli download …) or pass a local folder "
                              "with --llm-weights") from None
    if device is not None and quantization_config is None:
        model = model.to(device)
    return LLM(name, model, tok, spec.source)


def build(name: str, **kw: Any) -> LLM:
    """Registry target of every LLMS entry (``cxrgen.models.llms:build``)."""
    return load_llm(name, **kw)


def count_params(module: Any) -> tuple[int, int]:
    """(total, trainable) parameters, counting shared tensors once (works on the meta device)."""
    seen: set[int] = set()
    total = trainable = 0
    for p in module.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n = p.numel()
        # 4-bit bitsandbytes params store two values per byte
        if p.__class__.__name__ == "Params4bit":
            n *= 2
        total += n
        trainable += n if p.requires_grad else 0
    return total, trainable
