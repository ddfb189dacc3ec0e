"""The HDF5 feature cache (embed output) and its streaming reader (train/generate input).

Layout of ``features.h5``::

    /ids        (N,)        UTF-8 image ids, in the order of the records' images
    /features   (N, D) or (N, T, D)   float16 (default) or float32, chunked by rows, compressed
    /scores     (N, K)      optional, e.g. the 18 torchxrayvision pathology scores
    attrs:      encoder, weights_sha256, preprocessing (JSON), dtype, dim, tokens, score_labels (JSON),
                cxrgen_version

Reading. A pooled cache (N×D) that fits in ``RAM_LIMIT_BYTES`` (2 GiB; MIMIC-CXR AP/PA at 512-d fp16
is ~250 MB) is read into memory once, when the store is opened (before DataLoader workers fork, so
they share it copy-on-write): a random row then costs a memory copy instead of decompressing a gzip
chunk. Grid caches (N×T×D, ~100 KB per image for Swin-B 49×1024 fp16) and pooled caches too large for
RAM are read row by row from HDF5; the writer sizes chunks for that random access (``CHUNK_BYTES``, a
grid row is one chunk). The HDF5 handle is opened lazily in each process (h5py handles must not cross
fork). ``benchmarks/features.py`` measures random-row reads before and after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from cxrgen.errors import InputError, MissingArtifactError


RAM_LIMIT_BYTES = 2 << 30   # pooled caches up to this size are held in memory


class FeatureStore:
    """Rows of a features.h5 by image id. ``in_memory``: None (auto: pooled caches that fit
    ``RAM_LIMIT_BYTES``), True (always) or False (always read from HDF5)."""

    def __init__(self, path: str | Path, *, in_memory: bool | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingArtifactError(f"{self.path}: feature cache not found; run `cxrgen embed` first")
        self._h5 = None
        self._pid = None
        h5 = self._file()
        try:
            raw_ids = h5["ids"][:]
            self.ids: list[str] = [i.decode() if isinstance(i, bytes) else str(i) for i in raw_ids]
            feats = h5["features"]
            self.shape = tuple(feats.shape)
            self.dtype = str(feats.dtype)
            self.attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
            self.has_scores = "scores" in h5
        except KeyError as e:
            raise InputError(f"{self.path}: not a cxrgen feature cache (missing {e})") from None
        except OSError as e:  # a corrupted chunk: h5py names no file
            raise InputError(f"{self.path}: unreadable ({str(e).splitlines()[0][:120]}); "
                             "re-run `cxrgen embed --force`") from None
        self.index = {i: n for n, i in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            raise InputError(f"{self.path}: duplicate image ids in the cache; re-run `cxrgen embed --force`")
        nbytes = int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize
        if in_memory is None:
            in_memory = self.tokens == 0 and nbytes <= RAM_LIMIT_BYTES
        self._mem: dict[str, np.ndarray] = {}
        if in_memory:
            try:
                self._mem = {name: h5[name][:] for name in ("features", "scores") if name in h5}
            except OSError as e:
                raise InputError(f"{self.path}: unreadable ({str(e).splitlines()[0][:120]}); "
                                 "re-run `cxrgen embed --force`") from None

    @property
    def in_memory(self) -> bool:
        return bool(self._mem)

    def _file(self):
        import os
        import h5py
        if self._h5 is None or self._pid != os.getpid():
            try:
                self._h5 = h5py.File(self.path, "r")
            except OSError as e:
                raise InputError(f"{self.path}: unreadable HDF5 ({e}); re-run `cxrgen embed --force`") from None
            self._pid = os.getpid()
        return self._h5

    def __getstate__(self):  # picklable for DataLoader workers: reopen in the child
        d = dict(self.__dict__)
        d["_h5"] = None
        d["_pid"] = None
        return d

    @property
    def dim(self) -> int:
        return self.shape[-1]

    @property
    def tokens(self) -> int:
        """Grid length T for N×T×D caches, 0 for pooled N×D caches."""
        return self.shape[1] if len(self.shape) == 3 else 0

    @property
    def score_labels(self) -> list[str]:
        return json.loads(self.attrs.get("score_labels", "[]"))

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, image_ids: Sequence[str]) -> list[int]:
        try:
            return [self.index[i] for i in image_ids]
        except KeyError as e:
            raise MissingArtifactError(f"{self.path}: image {e.args[0]!r} is not in the cache; "
                                       "re-run `cxrgen embed` for this data set") from None

    def _read(self, name: str, image_ids: Sequence[str]) -> np.ndarray:
        rows = self.rows(image_ids)
        if name in self._mem:
            return self._mem[name][rows].astype(np.float32)
        order = np.argsort(rows, kind="stable")
        sorted_rows = np.asarray(rows)[order]
        uniq, inverse = np.unique(sorted_rows, return_inverse=True)
        try:  # a corrupted chunk surfaces only here, as an h5py OSError without a file name
            ds = self._file()[name]
            data = ds[uniq.tolist()] if len(uniq) else np.zeros((0,) + ds.shape[1:], ds.dtype)
        except (OSError, KeyError) as e:
            raise InputError(f"{self.path}: unreadable {name} ({str(e).splitlines()[0][:120]}); "
                             "re-run `cxrgen embed --force`") from None
        out = np.empty((len(rows),) + ds.shape[1:], dtype=np.float32)
        out[order] = data[inverse]
        return out

    def get(self, image_ids: Sequence[str]) -> np.ndarray:
        """float32 features of these images, in the given order."""
        return self._read("features", image_ids)

    def scores(self, image_ids: Sequence[str]) -> np.ndarray:
        if not self.has_scores:
            raise InputError(f"{self.path}: this cache has no pathology scores (encoder {self.attrs.get('encoder')})")
        return self._read("scores", image_ids)

    def study(self, image_ids: Sequence[str]) -> np.ndarray:
        """One feature per study: the mean over its images (R2GenGPT's multi-view average)."""
        return self.get(image_ids).mean(axis=0)

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None


# --- writing (embed) ---------------------------------------------------------------------------
CHUNK_BYTES = 64 << 10   # ≤ 64 KiB of rows per HDF5 chunk: a random row decompresses little (a grid row is one chunk)
COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def write_shard(path: str | Path, index: np.ndarray, features: np.ndarray, scores: np.ndarray | None,
                skipped: np.ndarray, errors: Sequence[str]) -> None:
    """One resumable piece of an embed run: global row positions, their features (storage dtype), skips."""
    from cxrgen.utils.io import atomic_path
    arrays = {"index": np.asarray(index, np.int64), "features": features,
              "skipped": np.asarray(skipped, np.int64), "errors": np.asarray(list(errors), dtype=np.str_)}
    if scores is not None:
        arrays["scores"] = scores
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def read_shard(path: str | Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def write_feature_cache(path: str | Path, ids: Sequence[str], shards: Sequence[dict], *, dtype: str,
                        attrs: dict, row_shape: tuple[int, ...], n_scores: int = 0) -> None:
    """Merge shards (in order) into one features.h5, atomically; ``ids`` are the rows' image ids."""
    import h5py

    from cxrgen.utils.io import atomic_path
    n = len(ids)
    row_shape = tuple(row_shape)
    row_bytes = max(1, int(np.prod(row_shape or (1,))) * np.dtype(dtype).itemsize)
    rows = max(1, min(n, CHUNK_BYTES // row_bytes)) if n else 1
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=False) as f:
            f.create_dataset("ids", data=np.array([i.encode() for i in ids], dtype=object),
                             dtype=h5py.string_dtype("utf-8"), track_times=False)
            feats = f.create_dataset("features", shape=(n,) + row_shape, dtype=dtype, track_times=False,
                                     chunks=(rows,) + row_shape if n else None, **(COMPRESSION if n else {}))
            sc = None
            if n_scores:
                k = n_scores
                sc = f.create_dataset("scores", shape=(n, k), dtype="float32", track_times=False,
                                      chunks=(min(n, 4096), k) if n else None, **(COMPRESSION if n else {}))
            row = 0
            for s in shards:
                m = len(s["index"])
                if not m:
                    continue
                feats[row:row + m] = s["features"].astype(dtype, copy=False)
                if sc is not None:
                    sc[row:row + m] = s["scores"]
                row += m
            if row != n:
                raise ValueError(f"{path}: {row} rows in the shards but {n} ids")
            for k, v in attrs.items():
                f.attrs[k] = v if isinstance(v, (int, float, np.integer, np.floating)) else str(v)
