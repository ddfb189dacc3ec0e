"""features.h5 writer: shards merged in order, chunked + compressed, readable by FeatureStore; empty caches."""

from __future__ import annotations

import h5py
import numpy as np

from cxrgen.data.features import FeatureStore, read_shard, write_feature_cache, write_shard


def test_shards_merge_into_chunked_compressed_cache(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 8)).astype(np.float16)
    b = rng.standard_normal((2, 4, 8)).astype(np.float16)
    write_shard(tmp_path / "s0.npz", np.array([0, 1, 2]), a, rng.random((3, 18)).astype(np.float32), np.array([]), [])
    write_shard(tmp_path / "s1.npz", np.array([4, 5]), b, rng.random((2, 18)).astype(np.float32),
                np.array([3]), ["x.jpg: unreadable image"])
    s0, s1 = read_shard(tmp_path / "s0.npz"), read_shard(tmp_path / "s1.npz")
    assert list(s1["skipped"]) == [3] and list(s1["errors"]) == ["x.jpg: unreadable image"]
    ids = ["i0", "i1", "i2", "i4", "i5"]
    out = tmp_path / "features.h5"
    write_feature_cache(out, ids, [s0, s1], dtype="float16", attrs={"encoder": "e", "dim": 8, "tokens": 4,
                                                                     "score_labels": '["a"]'},
                        row_shape=(4, 8), n_scores=18)
    with h5py.File(out) as f:
        assert f["features"].chunks[1:] == (4, 8) and f["features"].compression == "gzip"
        assert f["features"].dtype == np.float16
    st = FeatureStore(out)
    assert st.ids == ids and st.tokens == 4 and st.dim == 8 and st.has_scores
    np.testing.assert_array_equal(st.get(["i4", "i0"]), np.concatenate([b[:1], a[:1]]).astype(np.float32))
    np.testing.assert_array_equal(st.scores(["i5"]), s1["scores"][1:])


def test_empty_cache_keeps_row_shape(tmp_path):
    out = tmp_path / "features.h5"
    write_feature_cache(out, [], [], dtype="float16", attrs={"encoder": "e"}, row_shape=(512,))
    st = FeatureStore(out)
    assert len(st) == 0 and st.shape == (0, 512)


def _cache(path, rows, row_shape, scores=False):
    rng = np.random.default_rng(1)
    feats = rng.standard_normal((rows,) + row_shape).astype(np.float16)
    sc = rng.random((rows, 18)).astype(np.float32) if scores else None
    write_shard(path.with_suffix(".npz"), np.arange(rows), feats, sc, np.array([]), [])
    write_feature_cache(path, [f"i{k}" for k in range(rows)], [read_shard(path.with_suffix(".npz"))],
                        dtype="float16", attrs={"encoder": "e"}, row_shape=row_shape, n_scores=18 if scores else 0)
    return feats, sc


def test_pooled_cache_is_read_into_ram_and_gives_the_same_rows(tmp_path):
    feats, sc = _cache(tmp_path / "pooled.h5", 300, (512,), scores=True)
    ram, disk = FeatureStore(tmp_path / "pooled.h5"), FeatureStore(tmp_path / "pooled.h5", in_memory=False)
    assert ram.in_memory and not disk.in_memory
    ids = ["i299", "i0", "i17", "i17", "i150"]
    np.testing.assert_array_equal(ram.get(ids), feats[[299, 0, 17, 17, 150]].astype(np.float32))
    np.testing.assert_array_equal(ram.get(ids), disk.get(ids))
    np.testing.assert_array_equal(ram.scores(ids), disk.scores(ids))
    assert ram.get(ids).dtype == np.float32
    np.testing.assert_array_equal(ram.study(["i1", "i2"]), feats[[1, 2]].astype(np.float32).mean(0))


def test_grid_cache_stays_on_disk_one_row_per_chunk(tmp_path):
    feats, _ = _cache(tmp_path / "grid.h5", 6, (49, 1024))
    st = FeatureStore(tmp_path / "grid.h5")
    assert not st.in_memory   # grid rows are read from HDF5 ...
    with h5py.File(tmp_path / "grid.h5") as f:
        assert f["features"].chunks == (1, 49, 1024)   # ... one ~100 KB chunk per image (random access)
    np.testing.assert_array_equal(st.get(["i5", "i2"]), feats[[5, 2]].astype(np.float32))
    _cache(tmp_path / "pooled.h5", 300, (512,))
    with h5py.File(tmp_path / "pooled.h5") as f:
        assert f["features"].chunks == (64, 512)   # 64 KiB of 1 KiB rows
