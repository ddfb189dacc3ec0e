"""Encoders: exact preprocessing, weight loading by key mapping, tiny twins end to end, features carry findings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxrgen.errors import CheckpointError
from cxrgen.models.encoders import load_encoder
from tests.conftest import run_cli
from tests.embed.conftest import draw_xray, read_h5

TINY = ["tiny-medclip-vit", "tiny-xrv-densenet", "tiny-swin-grid", "tiny-vit"]


def test_medclip_preprocess_hand_computed():
    """A 2×4 image is smaller than 224: pasted black-padded at (110, 111), no resize, then normalised."""
    img = np.array([[0, 51, 102, 153], [204, 255, 255, 0]], np.float32) / 255
    x = load_encoder("tiny-medclip-vit").preprocess(img)
    mean, std = 0.5862785803043838, 0.27950088968644304
    expect = np.full((1, 224, 224), (0 - mean) / std, np.float32)
    expect[0, 111:113, 110:114] = (img - mean) / std
    assert x.shape == (1, 224, 224) and x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), expect, rtol=0, atol=1e-6)


def test_medclip_preprocess_pads_then_resizes():
    from PIL import Image
    img = np.zeros((300, 200), np.float32)
    img[:, :] = 1.0
    x = load_encoder("medclip-vit", load_weights=False).preprocess(img)
    sq = Image.new("L", (300, 300), 0)
    sq.paste(Image.new("L", (200, 300), 255), (50, 0))
    ref = (np.asarray(sq.resize((224, 224), Image.BICUBIC), np.float32) / 255 - 0.5862785803043838) / 0.27950088968644304
    np.testing.assert_allclose(x[0].numpy(), ref, atol=1e-6)
    assert x[0, 112, 0] < -2 and x[0, 112, 112] > 1.4  # black side bands, white centre


def test_xrv_preprocess_hand_computed():
    """224×300: centre crop columns 38..262 (no resize needed), scaled to [-1024, 1024]."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(224, 300)).astype(np.float32) / 255
    x = load_encoder("tiny-xrv-densenet").preprocess(img)
    expect = (2 * img[:, 38:262] - 1) * 1024
    assert x.shape == (1, 224, 224)
    np.testing.assert_allclose(x[0].numpy(), expect, atol=1e-3)
    assert float(x.max()) <= 1024 and float(x.min()) >= -1024


def test_swin_preprocess_hand_computed():
    from cxrgen.models.encoders.swin import preprocess_swin
    img = np.zeros((224, 224), np.float32)
    img[:112] = 1.0
    x = preprocess_swin(img)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    assert x.shape == (3, 224, 224)
    for c in range(3):
        np.testing.assert_allclose(x[c, 0, 0].item(), (1 - mean[c]) / std[c], atol=1e-6)
        np.testing.assert_allclose(x[c, 200, 5].item(), (0 - mean[c]) / std[c], atol=1e-6)


def test_vit_preprocess_hand_computed():
    """tiny-vit: 71×71 → short side floor(64/0.9)=71 (no resize) → centre crop 64 from offset 4, mean/std 0.5."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(71, 71)).astype(np.float32) / 255
    x = load_encoder("tiny-vit").preprocess(img)
    assert x.shape == (3, 64, 64)
    np.testing.assert_allclose(x[1].numpy(), (img[4:68, 4:68] - 0.5) / 0.5, atol=1e-6)


def _old_swin_keys(state: dict) -> dict:
    """The transformers-4 layout that released checkpoints use."""
    import re
    out = {}
    for k, v in state.items():
        k = k.replace(".attention.q_proj.", ".attention.self.query.").replace(".attention.k_proj.", ".attention.self.key.")
        k = k.replace(".attention.v_proj.", ".attention.self.value.").replace(".attention.o_proj.", ".attention.output.dense.")
        k = k.replace(".attention.relative_position_bias.relative_position_bias_table", ".attention.self.relative_position_bias_table")
        k = re.sub(r"\.mlp\.fc1\.", ".intermediate.dense.", k)
        k = re.sub(r"\.mlp\.fc2\.", ".output.dense.", k)
        out[k] = v
        if k.endswith("attention.self.relative_position_bias_table"):
            out[k.replace("relative_position_bias_table", "relative_position_index")] = torch.zeros(49, dtype=torch.long)
    return out


def _perturbed(model) -> dict:
    g = torch.Generator().manual_seed(7)
    return {k: v + 0.01 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
            for k, v in model.state_dict().items()}


def test_medclip_checkpoint_key_mapping(tmp_path):
    """A MedCLIP-format checkpoint (vision_model.model.* with old Swin names, text keys, logit_scale) loads exactly."""
    ref = load_encoder("tiny-medclip-vit")
    state = _perturbed(ref.model)
    ckpt = {"vision_model." + k: v for k, v in _old_swin_keys(state).items()}
    assert any(".attention.self.query." in k for k in ckpt) and "vision_model.projection_head.weight" in ckpt
    ckpt["text_model.projection_head.weight"] = torch.zeros(512, 768)
    ckpt["logit_scale"] = torch.tensor(2.6)
    torch.save(ckpt, tmp_path / "pytorch_model.bin")
    for weights in (tmp_path / "pytorch_model.bin", tmp_path):  # the file, or the folder holding it
        enc = load_encoder("tiny-medclip-vit", str(weights))
        got = enc.model.state_dict()
        for k, v in state.items():
            assert torch.equal(got[k], v), k
        assert enc.weights_source.endswith("pytorch_model.bin")
        assert enc.weights_sha256() != ref.weights_sha256()
    x = torch.stack([enc.preprocess(draw_xray(1) / 255.0)])
    with torch.no_grad():
        f = enc.model(x)["features"]
    assert f.shape == (1, 512)
    np.testing.assert_allclose(f.norm(dim=-1).numpy(), [1.0], atol=1e-5)


def test_medclip_checkpoint_mismatch_is_one_line(tmp_path):
    torch.save({"vision_model.projection_head.weight": torch.zeros(512, 768)}, tmp_path / "bad.bin")
    with pytest.raises(CheckpointError, match=r"bad\.bin: weights do not match the architecture: \d+ missing"):
        load_encoder("tiny-medclip-vit", str(tmp_path / "bad.bin"))


def test_swin_file_weights_old_and_new_names(tmp_path):
    from safetensors.torch import save_file

    from cxrgen.models.encoders.swin import build_swin_base
    base = build_swin_base(tiny=True)
    state = _perturbed(base)
    torch.save(_old_swin_keys(state), tmp_path / "old.bin")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "new.safetensors"))
    for f in ("old.bin", "new.safetensors"):
        m = build_swin_base(weights=str(tmp_path / f), tiny=True)
        assert all(torch.equal(m.state_dict()[k], v) for k, v in state.items()), f
    names = {n.rsplit(".", 1)[-1] for n, _ in base.named_modules()}
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2"} <= names


def test_swin_base_lora_targets_count():
    from peft import LoraConfig, get_peft_model

    from cxrgen.models.encoders.swin import LORA_TARGETS, build_swin_base
    m = build_swin_base(config_only=True)
    assert m.config.hidden_size == 1024 and sum(p.numel() for p in m.parameters()) == 86_743_224
    pm = get_peft_model(m, LoraConfig(r=16, lora_alpha=16, target_modules=list(LORA_TARGETS)))
    assert sum(p.numel() for p in pm.parameters() if p.requires_grad) == 770_048


def test_xrv_full_architecture_and_weights(tmp_path):
    import torchxrayvision as xrv
    enc = load_encoder("xrv-densenet121-res224-all", load_weights=False)
    assert enc.param_count() == 6_966_034 and enc.output_shape == (1024,)
    assert enc.score_labels == tuple(xrv.datasets.default_pathologies) and len(enc.score_labels) == 18
    tiny = load_encoder("tiny-xrv-densenet")
    state = _perturbed(tiny.model.model)
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "xrv.safetensors"))
    loaded = load_encoder("tiny-xrv-densenet", str(tmp_path / "xrv.safetensors"))
    assert all(torch.equal(loaded.model.model.state_dict()[k], v) for k, v in state.items())


def test_pickled_module_refused_then_converted(tmp_path):
    """The torchxrayvision release is a pickled whole model: refused by the safe loader, converted once."""
    from cxrgen.models.encoders.convert import main as convert_main
    tiny = load_encoder("tiny-xrv-densenet")
    torch.save(tiny.model.model, tmp_path / "release.pt")  # whole module, as the xrv release
    with pytest.raises(CheckpointError, match=r"release\.pt: cannot be loaded safely .*convert"):
        load_encoder("tiny-xrv-densenet", str(tmp_path / "release.pt"))
    assert convert_main([str(tmp_path / "release.pt"), str(tmp_path / "xrv.safetensors")]) == 0
    enc = load_encoder("tiny-xrv-densenet", str(tmp_path / "xrv.safetensors"))
    assert enc.weights_sha256() == tiny.weights_sha256()


def test_vit_weights_file_drops_head(tmp_path):
    tiny = load_encoder("tiny-vit")
    state = _perturbed(tiny.model.model)
    state["head.weight"] = torch.zeros(10, 64)
    state["head.bias"] = torch.zeros(10)
    torch.save(state, tmp_path / "vit.pth")
    enc = load_encoder("tiny-vit", str(tmp_path / "vit.pth"))
    assert torch.equal(enc.model.model.state_dict()["cls_token"], state["cls_token"])
    assert load_encoder("vit-base", load_weights=False).output_shape == (197, 768)
    clip = load_encoder("clip-vit-base", load_weights=False)
    assert clip.output_shape == (197, 768) and clip.param_count() == 85_799_424
    assert clip.preprocess.mean == (0.48145466, 0.4578275, 0.40821073) and clip.preprocess.crop_pct == 0.95


def test_tiny_random_init_is_reproducible_and_isolated():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = load_encoder("tiny-medclip-vit").weights_sha256()
    after = torch.rand(1)
    assert torch.equal(before, after)  # building did not consume the caller's RNG
    assert load_encoder("tiny-medclip-vit").weights_sha256() == a


@pytest.mark.parametrize("name", TINY)
def test_every_tiny_encoder_end_to_end_into_hdf5(prepared, name):
    from cxrgen.data.features import FeatureStore
    ws, ids = prepared(5)
    r = run_cli("embed", "--dataset", "fixture", "--encoder", name, "--workers", "1", "--batch-size", "4",
                workspace=ws)
    assert r.code == 0, r.err
    path = ws / "embed" / "fixture" / name / "features.h5"
    d = read_h5(path)
    enc = load_encoder(name)
    assert d["ids"] == ids
    assert d["features"].shape == (len(ids),) + enc.output_shape and d["features"].dtype == np.float16
    assert d["attrs"]["encoder"] == name and d["attrs"]["weights_sha256"] == enc.weights_sha256()
    # the cached row is the model applied to the read image (alone here, in a batch of 4 there: float noise)
    from cxrgen.data.images import read_xray
    img = read_xray(ws.parent / "images" / "p001" / "img0.jpg")
    with torch.no_grad():
        out = enc.model(enc.preprocess(img)[None])
    np.testing.assert_allclose(d["features"][2].astype(np.float32), out["features"][0].numpy(), rtol=2e-3, atol=1e-4)
    store = FeatureStore(path)
    assert store.tokens == enc.tokens and store.dim == enc.dim
    if name == "tiny-xrv-densenet":
        assert d["scores"].shape == (len(ids), 18) and store.score_labels[0] == "Atelectasis"
        assert ((d["scores"] >= 0) & (d["scores"] <= 1)).all()
        np.testing.assert_allclose(d["scores"][2], out["scores"][0].numpy(), atol=1e-6)
    else:
        assert "scores" not in d


def test_tiny_medclip_features_follow_the_image():
    """Random-init tiny MedCLIP features must separate large visible findings (the demo relies on it)."""
    enc = load_encoder("tiny-medclip-vit")
    n = 160
    ys = np.arange(n) % 4
    x = torch.stack([enc.preprocess(draw_xray(int(k), size=96, seed=i) / 255.0) for i, k in enumerate(ys)])
    with torch.no_grad():
        f = enc.model(x)["features"]
    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    train = np.arange(n) < 100
    y = torch.tensor(ys)
    torch.manual_seed(0)
    w = torch.zeros(f.shape[1], 4, requires_grad=True)
    opt = torch.optim.Adam([w], lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(f[train] @ w, y[train]).backward()
        opt.step()
    acc = ((f[~train] @ w).argmax(1) == y[~train]).float().mean().item()
    assert acc >= 0.9, acc
