"""read_xray: exact values for PNG/JPEG/DICOM, DICOM LUTs, MONOCHROME1, compressed syntaxes, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from cxrgen.data.images import read_xray, window
from cxrgen.errors import InputError
from tests.embed.conftest import write_dicom


def _testfile(name: str) -> str:
    from pydicom.data import get_testdata_file
    p = get_testdata_file(name)
    if p is None:
        pytest.skip(f"pydicom test file {name} not available (pip install pydicom-data)")
    return p


def test_png_8_and_16_bit_exact(tmp_path):
    a8 = np.array([[0, 51], [204, 255]], dtype=np.uint8)
    Image.fromarray(a8).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_xray(tmp_path / "a.png"), np.array([[0, 0.2], [0.8, 1]], np.float32))
    a16 = np.array([[0, 13107], [52428, 65535]], dtype=np.uint16)
    Image.fromarray(a16).save(tmp_path / "b.png")
    out = read_xray(tmp_path / "b.png")
    assert out.dtype == np.float32 and out.shape == (2, 2)
    np.testing.assert_array_equal(out, (a16 / 65535.0).astype(np.float32))


def test_rgb_jpeg_becomes_grey(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., :] = 128
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=100)
    out = read_xray(tmp_path / "c.jpg")
    assert out.shape == (8, 8)
    assert abs(float(out.mean()) - 128 / 255) < 2 / 255


def test_dicom_without_voi_uses_bits_stored_range(tmp_path):
    px = np.array([[0, 1024], [2048, 4095]], np.uint16)
    out = read_xray(write_dicom(tmp_path / "a.dcm", px, bits_stored=12))
    np.testing.assert_array_equal(out, (px / 4095.0).astype(np.float32))


def test_dicom_bits_above_bits_stored_are_ignored(tmp_path):
    px = np.array([[0, 1024], [2048, 4095]], np.uint16)
    dirty = px | 0xF000  # garbage in the 4 unused high bits
    out = read_xray(write_dicom(tmp_path / "a.dcm", dirty, bits_stored=12))
    np.testing.assert_array_equal(out, (px / 4095.0).astype(np.float32))


def test_dicom_rescale_and_linear_window(tmp_path):
    px = np.array([[0, 100], [200, 300]], np.uint16)
    # modality: HU = 2*x - 100  → [-100, 100, 300, 500]; window c=200, w=401 → (v - 199.5)/400 + 0.5
    out = read_xray(write_dicom(tmp_path / "w.dcm", px, RescaleSlope=2, RescaleIntercept=-100,
                                WindowCenter=200, WindowWidth=401))
    hu = np.array([[-100, 100], [300, 500]], float)
    expect = np.clip((hu - 199.5) / 400 + 0.5, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(out, expect)
    np.testing.assert_allclose(out, [[0, 0.25125], [0.75125, 1]], atol=1e-6)


def test_window_functions():
    v = np.array([0.0, 50.0, 100.0])
    np.testing.assert_allclose(window(v, 50, 100, "LINEAR_EXACT"), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(window(v, 50, 100, "SIGMOID"), 1 / (1 + np.exp(-4 * (v - 50) / 100)))
    with pytest.raises(InputError, match="window width"):
        window(v, 50, 0.5, "LINEAR")


def test_monochrome1_equals_inverted_monochrome2(tmp_path):
    rng = np.random.default_rng(0)
    px = rng.integers(0, 1024, size=(16, 12)).astype(np.uint16)
    m1 = read_xray(write_dicom(tmp_path / "m1.dcm", px, photometric="MONOCHROME1", bits_stored=10))
    m2 = read_xray(write_dicom(tmp_path / "m2.dcm", 1023 - px, photometric="MONOCHROME2", bits_stored=10))
    np.testing.assert_array_equal(m1, m2)
    # with a window: MONOCHROME1 centre c ↔ MONOCHROME2 centre 1023 - c + 1 (the LINEAR -0.5 convention)
    w1 = read_xray(write_dicom(tmp_path / "w1.dcm", px, photometric="MONOCHROME1", bits_stored=10,
                               WindowCenter=400, WindowWidth=500))
    w2 = read_xray(write_dicom(tmp_path / "w2.dcm", 1023 - px, photometric="MONOCHROME2", bits_stored=10,
                               WindowCenter=1023 - 400 + 1, WindowWidth=500))
    np.testing.assert_allclose(w1, w2, atol=1e-6)
    assert 0.2 < w1.mean() < 0.8


def test_real_cr_monochrome1_and_lossless_jpeg2000_agree():
    """pydicom-data's real CR radiograph: MONOCHROME1, 10 bits, window 550/1024; J2K lossless = uncompressed."""
    unc = read_xray(_testfile("RG3_UNCR.dcm"))
    j2k = read_xray(_testfile("RG3_J2KR.dcm"))
    assert unc.shape == (1760, 1760)
    np.testing.assert_array_equal(unc, j2k)
    import pydicom
    ds = pydicom.dcmread(_testfile("RG3_UNCR.dcm"))
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    expect = 1 - np.clip((ds.pixel_array.astype(float) - 549.5) / 1023 + 0.5, 0, 1)
    np.testing.assert_allclose(unc, expect, atol=1e-6)


def test_bundled_compressed_dicoms_decode_like_uncompressed():
    ref = read_xray(_testfile("MR_small.dcm"))
    for name in ("MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"):
        np.testing.assert_array_equal(read_xray(_testfile(name)), ref, err_msg=name)


def test_multiframe_dicom_first_frame_with_warning(tmp_path, caplog):
    frames = np.stack([np.full((4, 5), 100, np.uint16), np.full((4, 5), 200, np.uint16)])
    p = write_dicom(tmp_path / "mf.dcm", frames, bits_stored=8, frames=2)
    logger = logging.getLogger("cxrgen")   # cxrgen's logger does not propagate once the CLI set it up
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="cxrgen"):
            out = read_xray(p)
    finally:
        logger.removeHandler(caplog.handler)
    assert out.shape == (4, 5)
    np.testing.assert_array_equal(out, np.full((4, 5), 100 / 255, np.float32))
    assert "2 frames, using the first" in caplog.text


def test_errors_are_one_line_naming_the_file(tmp_path):
    with pytest.raises(InputError, match=r"missing\.png: image file not found"):
        read_xray(tmp_path / "missing.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "t.jpg")
    (tmp_path / "trunc.jpg").write_bytes((tmp_path / "t.jpg").read_bytes()[:300])
    with pytest.raises(InputError, match=r"trunc\.jpg: unreadable image") as e:
        read_xray(tmp_path / "trunc.jpg")
    assert "\n" not in str(e.value)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match=r"notes\.png: not an image"):
        read_xray(tmp_path / "notes.png")
    (tmp_path / "x.dcm").write_text("not dicom")
    with pytest.raises(InputError, match=r"x\.dcm: not a DICOM file"):
        read_xray(tmp_path / "x.dcm")


def test_truncated_and_broken_real_dicoms():
    with pytest.raises(InputError, match=r"MR_truncated\.dcm: cannot decode DICOM pixel data") as e:
        read_xray(_testfile("MR_truncated.dcm"))
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match=r"JPEG-lossy\.dcm: cannot decode DICOM pixel data .*1\.2\.840\.10008\.1\.2\.4\.51"):
        read_xray(_testfile("JPEG-lossy.dcm"))
    with pytest.raises(InputError, match=r"rtplan\.dcm: DICOM file without pixel data"):
        read_xray(_testfile("rtplan.dcm"))


def test_truncated_synthetic_dicom(tmp_path):
    p = write_dicom(tmp_path / "t.dcm", np.zeros((64, 64), np.uint16))
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"t\.dcm: "):
        read_xray(p)
