"""Convert a pickled whole-model checkpoint (e.g. torchxrayvision's release ``.pt``) to safetensors, once.

    python -m cxrgen.models.encoders.convert IN.pt OUT.safetensors

The file is read with ``torch.load(weights_only=True)`` and an allow-list of the module classes such a
file may name (torch.nn layers and torchxrayvision's model classes); anything else is refused. The
result holds the state dict only and is what ``cxrgen embed --encoder-weights`` should be given.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _allowed() -> list:
    import collections
    import inspect

    import torch
    import torch.nn as nn
    allowed: list = [collections.OrderedDict, set, torch.Size, torch._utils._rebuild_parameter]
    allowed += [c for _, c in inspect.getmembers(nn.modules, inspect.isclass) if issubclass(c, nn.Module)]
    try:
        import torchxrayvision.models as xm
        allowed += [c for _, c in inspect.getmembers(xm, inspect.isclass) if issubclass(c, nn.Module)]
        from torchxrayvision.models import _DenseBlock, _DenseLayer, _Transition  # type: ignore[attr-defined]
        allowed += [_DenseBlock, _DenseLayer, _Transition]
    except ImportError:
        pass
    return allowed


def convert(src: str | Path, dst: str | Path) -> int:
    import torch
    from safetensors.torch import save_file

    from cxrgen.errors import CheckpointError
    try:
        with torch.serialization.safe_globals(_allowed()):
            obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{src}: refused by the safe loader ({str(e).strip().splitlines()[0]})") from None
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    state = {k: v.contiguous() for k, v in state.items() if isinstance(v, torch.Tensor)}
    save_file(state, str(dst))
    return len(state)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m cxrgen.models.encoders.convert IN.pt OUT.safetensors", file=sys.stderr)
        return 2
    from cxrgen.errors import CxrgenError
    try:
        n = convert(*args)
    except CxrgenError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} tensors to {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
