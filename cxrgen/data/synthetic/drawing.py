"""The pictures: a frontal (PA/AP) and a lateral chest radiograph with the study's findings drawn large
enough to see (heart width, effusion meniscus, pneumothorax edge, lobar opacity, nodules, devices).
"""

from __future__ import annotations


import numpy as np


from cxrgen.data.synthetic.findings import Findings


class Canvas:
    """Float image in [0, 1]; shapes are drawn on their bounding box only (fast)."""

    def __init__(self, size: int, value: float = 0.03):
        self.s = size
        self.img = np.full((size, size), value, np.float32)
        self.ax = np.arange(size, dtype=np.float32) / size

    def _box(self, cy, cx, ry, rx):
        s = self.s
        y0, y1 = max(int((cy - ry) * s), 0), min(int((cy + ry) * s) + 2, s)
        x0, x1 = max(int((cx - rx) * s), 0), min(int((cx + rx) * s) + 2, s)
        return slice(y0, y1), slice(x0, x1)

    def ellipse_mask(self, cy, cx, ry, rx) -> tuple:
        ys, xs = self._box(cy, cx, ry, rx)
        y = (self.ax[ys, None] - cy) / ry
        x = (self.ax[None, xs] - cx) / rx
        return ys, xs, (y * y + x * x) <= 1.0

    def ellipse(self, cy, cx, ry, rx, value, add=False) -> np.ndarray:
        ys, xs, m = self.ellipse_mask(cy, cx, ry, rx)
        view = self.img[ys, xs]
        if add:
            view[m] += value
        else:
            view[m] = value
        full = np.zeros_like(self.img, dtype=bool)
        full[ys, xs] = m
        return full

    def polyline(self, pts, width: float, value: float) -> None:
        s = self.s
        w = max(1, int(round(width * s / 2)))
        pts = np.asarray(pts, np.float32)
        for (y0, x0), (y1, x1) in zip(pts[:-1], pts[1:]):
            n = int(max(abs(y1 - y0), abs(x1 - x0)) * s) + 1
            for t in np.linspace(0.0, 1.0, n):
                y, x = int((y0 + (y1 - y0) * t) * s), int((x0 + (x1 - x0) * t) * s)
                self.img[max(y - w, 0):y + w + 1, max(x - w, 0):x + w + 1] = value


_TEXTURES: dict[tuple, np.ndarray] = {}


def _texture_bank(size: int, cells: int) -> np.ndarray:
    """8 smooth noise fields of one size, made once per process from a fixed seed (not the data seed),
    so drawing a study costs a lookup; studies pick one with their own RNG and flip it."""
    key = (size, cells)
    if key not in _TEXTURES:
        from PIL import Image
        g = np.random.default_rng([size, cells, 7])
        _TEXTURES[key] = np.stack([np.asarray(Image.fromarray(g.standard_normal((cells, cells)).astype(np.float32),
                                                              mode="F").resize((size, size), Image.BILINEAR))
                                   for _ in range(8)])
    return _TEXTURES[key]


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    t = _texture_bank(size, cells)[int(rng.integers(8))]
    return t[:: 1 if rng.random() < 0.5 else -1, :: 1 if rng.random() < 0.5 else -1]


def draw_frontal(f: Findings, rng: np.random.Generator, size: int, view: str) -> np.ndarray:
    c = Canvas(size)
    dy, dx = rng.uniform(-0.025, 0.025, 2)
    sc = float(rng.uniform(0.95, 1.04))
    body_v = float(rng.uniform(0.38, 0.46))
    c.ellipse(0.6 + dy, 0.5 + dx, 0.55 * sc, 0.45 * sc, body_v)
    texture = _smooth_noise(rng, size, 40) * 0.045 + _smooth_noise(rng, size, 12) * 0.03
    lungs = {}
    for side, lx in (("right", 0.31), ("left", 0.69)):
        cy, cx, ry, rx = 0.47 + dy, lx + dx + (0.5 - lx) * (1 - sc), 0.3 * sc, 0.145 * sc
        m = c.ellipse(cy, cx, ry, rx, 0.27)
        c.img[m] += texture[m]
        lungs[side] = (cy, cx, ry, rx, m)
    c.img[:, int((0.455 + dx) * size):int((0.545 + dx) * size)] = np.maximum(
        c.img[:, int((0.455 + dx) * size):int((0.545 + dx) * size)], body_v + 0.12)  # spine / mediastinum
    for side, sgn in (("right", -1), ("left", 1)):  # clavicles
        c.polyline([(0.16 + dy, 0.5 + dx + sgn * 0.05), (0.13 + dy, 0.5 + dx + sgn * 0.3)], 0.018, body_v + 0.2)
    if f.cardiomegaly:
        c.ellipse(0.62 + dy, 0.53 + dx, 0.18 * sc, 0.25 * sc, 0.66)
    else:
        c.ellipse(0.63 + dy, 0.56 + dx, 0.12 * sc, 0.12 * sc, 0.66)
    ax = c.ax
    if f.consolidation:
        side, lobe = f.consolidation
        cy, cx, ry, rx, m = lungs[side]
        ccy = cy + (-0.12 if lobe == "upper" else 0.13) * sc
        blob = np.zeros_like(c.img, dtype=bool)
        for _ in range(3):
            oy, ox = rng.uniform(-0.04, 0.04, 2)
            blob |= _mask(c, ccy + oy, cx + ox, 0.085 * sc, 0.075 * sc)
        blob &= m
        c.img[blob] = 0.6 + texture[blob] * 0.5
    for side, ny, nx in f.nodules:
        cy, cx, ry, rx, m = lungs[side]
        c.ellipse(ny + dy, cx + nx, 0.04, 0.04, 0.82)
    if f.effusion:
        sides = ("right", "left") if f.effusion == "bilateral" else (f.effusion,)
        depth = 0.17 if f.effusion_size == "moderate" else 0.25
        for side in sides:
            cy, cx, ry, rx, m = lungs[side]
            lateral = -1 if side == "right" else 1
            # meniscus: the fluid top is lowest medially and climbs towards the lateral chest wall
            lat = np.clip((ax[None, :] - cx) * lateral / rx, 0, 1)
            fluid = m & (ax[:, None] > cy + ry - depth * sc - 0.09 * lat ** 2)
            c.img[fluid] = 0.62
    if f.pneumothorax:
        side = f.pneumothorax
        cy, cx, ry, rx, m = lungs[side]
        lateral = -1 if side == "right" else 1
        edge_x = cx - lateral * 0.04 * sc
        bow = 0.05 * (1 - ((ax[:, None] - cy) / ry) ** 2)
        off = (ax[None, :] - edge_x) * lateral - bow
        air = m & (off > 0)
        c.img[air] = 0.0
        line = m & (np.abs(off) < 1.6 / size)
        c.img[line] = 0.55
        c.img[m & (off <= 0)] += 0.06
    for d in f.devices:
        if d == "ett":
            c.polyline([(0.0, 0.5 + dx), (0.3 + dy, 0.5 + dx)], 0.016, 0.97)
        elif d == "cvc":
            c.polyline([(0.12 + dy, 0.2 + dx), (0.25 + dy, 0.38 + dx), (0.42 + dy, 0.47 + dx)], 0.011, 0.97)
        elif d == "ngt":
            c.polyline([(0.0, 0.52 + dx), (0.8 + dy, 0.53 + dx), (0.88 + dy, 0.64 + dx)], 0.011, 0.97)
        elif d == "pacemaker":
            y0, x0 = int((0.2 + dy) * size), int((0.76 + dx) * size)
            c.img[y0:y0 + int(0.07 * size), x0:x0 + int(0.1 * size)] = 1.0
            c.polyline([(0.23 + dy, 0.78 + dx), (0.35 + dy, 0.62 + dx), (0.6 + dy, 0.55 + dx)], 0.009, 0.97)
    return _finish(c.img, rng, size)


def _mask(c: Canvas, cy, cx, ry, rx) -> np.ndarray:
    ys, xs, m = c.ellipse_mask(cy, cx, ry, rx)
    full = np.zeros_like(c.img, dtype=bool)
    full[ys, xs] = m
    return full


def draw_lateral(f: Findings, rng: np.random.Generator, size: int) -> np.ndarray:
    c = Canvas(size)
    dy, dx = rng.uniform(-0.025, 0.025, 2)
    body_v = float(rng.uniform(0.38, 0.46))
    c.ellipse(0.6 + dy, 0.5 + dx, 0.55, 0.38, body_v)
    texture = _smooth_noise(rng, size, 40) * 0.045
    m = c.ellipse(0.47 + dy, 0.52 + dx, 0.3, 0.25, 0.27)
    c.img[m] += texture[m]
    c.img[:, int((0.8 + dx) * size):int((0.88 + dx) * size)] = body_v + 0.15  # spine
    if f.cardiomegaly:
        c.ellipse(0.6 + dy, 0.4 + dx, 0.19, 0.2, 0.64)
    else:
        c.ellipse(0.62 + dy, 0.38 + dx, 0.12, 0.1, 0.64)
    if f.consolidation:
        blob = _mask(c, 0.42 + dy + (0.1 if f.consolidation[1] == "lower" else -0.08), 0.55 + dx, 0.09, 0.1) & m
        c.img[blob] = 0.58
    for _, ny, nx in f.nodules:
        c.ellipse(ny + dy, 0.58 + dx + nx, 0.03, 0.03, 0.8)
    if f.effusion:
        depth = 0.62 if f.effusion_size == "moderate" else 0.56
        fluid = m & (c.ax[:, None] > depth + dy - 0.1 * np.clip((c.ax[None, :] - 0.55) / 0.2, 0, 1))
        c.img[fluid] = 0.6
    if f.pneumothorax:
        air = m & (c.ax[None, :] < 0.36 + dx) & (c.ax[:, None] < 0.5 + dy)
        c.img[air] = 0.0
    if "ett" in f.devices:
        c.polyline([(0.0, 0.45 + dx), (0.3 + dy, 0.5 + dx)], 0.014, 0.97)
    if "pacemaker" in f.devices:
        c.img[int(0.2 * size):int(0.26 * size), int(0.2 * size):int(0.24 * size)] = 1.0
    return _finish(c.img, rng, size)


def _finish(img: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    from PIL import Image, ImageFilter
    img = img + _smooth_noise(rng, size, size // 2) * 0.012  # fine grain
    u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    gamma = float(rng.uniform(0.85, 1.15))
    lut = (np.linspace(0, 1, 256) ** gamma * 255 + 0.5).astype(np.uint8)
    return np.asarray(Image.fromarray(lut[u8]).filter(ImageFilter.BoxBlur(1)))
