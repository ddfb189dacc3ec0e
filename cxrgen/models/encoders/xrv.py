"""torchxrayvision DenseNet-121 (``densenet121-res224-all``): 1024-d pooled features + 18 pathology scores.

The architecture is the package's own class (``torchxrayvision.models.DenseNet(weights=None)``, 6,966,034
parameters, built offline); weights come from a file given with ``--encoder-weights`` (a state dict in
safetensors or a torch file readable with ``weights_only=True``; the release's pickled ``.pt`` is converted
once with ``python -m cxrgen.models.encoders.convert``). Scores are calibrated like the package does for
these weights: sigmoid, then the operating-point normalisation with the ``all`` thresholds, in the order
of ``torchxrayvision.datasets.default_pathologies``. Every image (frontal and lateral) is embedded.

Preprocessing (torchxrayvision's): 8-bit values scaled to [-1024, 1024], centre crop to a square on the
long side, ``XRayResizer(224)`` (skimage, anti-aliased), one channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from cxrgen.models.encoders.base import Encoder, load_into, load_state_dict, local_weight_file
from cxrgen.models.seed import seeded

XRV_WEIGHTS = "densenet121-res224-all"
TINY = dict(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16)


class XrvDenseNet(nn.Module):
    def __init__(self, densenet, op_threshs):
        super().__init__()
        self.model = densenet
        self.register_buffer("op_threshs", op_threshs, persistent=False)

    def forward(self, pixels):
        from torchxrayvision.models import op_norm
        feats = self.model.features2(pixels)
        scores = op_norm(torch.sigmoid(self.model.classifier(feats)), self.op_threshs)
        return {"features": feats, "scores": scores}


@dataclass(frozen=True)
class XrvPreprocess:
    size: int = 224

    def __call__(self, img: np.ndarray) -> torch.Tensor:
        from torchxrayvision.datasets import XRayCenterCrop, XRayResizer
        x8 = np.round(np.clip(img, 0, 1) * 255.0)
        x = ((2.0 * (x8 / 255.0) - 1.0) * 1024.0).astype(np.float32)[None]   # xrv.utils.normalize(img, 255)
        x = XRayResizer(self.size)(XRayCenterCrop()(x))
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def describe(self) -> dict:
        return {"steps": ["8-bit grey", "scale to [-1024, 1024]", "center crop (xrv)",
                          f"XRayResizer({self.size}) skimage"], "size": self.size}


def build(name: str, info: dict, weights: str = "", load_weights: bool = True) -> Encoder:
    import torchxrayvision as xrv
    tiny = bool(info.get("tiny"))
    with seeded():
        net = xrv.models.DenseNet(weights=None, **(TINY if tiny else {}))
    labels = tuple(xrv.datasets.default_pathologies)
    op = torch.tensor(xrv.models.model_urls[XRV_WEIGHTS]["op_threshs"], dtype=torch.float32)
    assert tuple(xrv.models.model_urls[XRV_WEIGHTS]["labels"]) == labels
    source = "random-init"
    if weights and load_weights:
        path = local_weight_file(weights, "torchxrayvision weights are a file (e.g. the release's "
                                          "densenet121-res224-all .pt converted to safetensors)")
        load_into(net, load_state_dict(path), str(path), ignore=("op_threshs",))
        source = str(path)
    return Encoder(name=name, model=XrvDenseNet(net, op).eval(), preprocess=XrvPreprocess(),
                   dim=int(net.classifier.in_features), tokens=0, score_labels=labels,
                   weights_source=source, info=info)
