"""Render the files the packages need from sources kept in the repository.

    python packaging/make_assets.py

- `resources/icons/photoretouch-<N>.png` from `photoretouch.svg` (launchers, installers, the
  window icon);
- `resources/samples/sample.png`: the photo the frozen self-test opens, drawn here so that no
  data-set image goes into the package (a landscape with sky gradient, clouds, ridges, meadow
  texture and sharp edges, so that denoising and filling have something to get right).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_icons(folder: Path) -> list[Path]:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - needed by QImage/QPainter
    renderer = QSvgRenderer(str(folder / "photoretouch.svg"))
    written = []
    for n in ICON_SIZES:
        img = QImage(n, n, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(p)
        p.end()
        out = folder / f"photoretouch-{n}.png"
        img.save(str(out))
        written.append(out)
    return written


def fractal_noise(h: int, w: int, rng: np.random.Generator, octaves: int = 6, base: int = 4) -> np.ndarray:
    """Sum of upsampled random grids, halving the amplitude per octave; roughly [-1, 1]."""
    import cv2

    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2 ** o
        grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    return out / total


def draw_sample(w: int = 640, h: int = 448, seed: int = 7) -> np.ndarray:
    """An RGB float32 landscape in [0, 1]."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = yy / h
    sky = np.stack([0.35 + 0.45 * t, 0.55 + 0.3 * t, 0.85 + 0.05 * t], -1)
    clouds = np.clip(fractal_noise(h, w, rng, 6, 3) * 1.6 - 0.1, 0, 1)[..., None] * (1 - t[..., None]) ** 1.5
    img = sky * (1 - clouds) + 0.97 * clouds
    sun = np.exp(-(((xx - 0.78 * w) ** 2 + (yy - 0.2 * h) ** 2) / (2 * (0.04 * w) ** 2)))[..., None]
    img = np.clip(img + sun * np.array([0.6, 0.5, 0.2]), 0, 1)
    # far ridge and near hill, each with its own texture
    ridge = 0.48 * h + 0.07 * h * fractal_noise(1, w, rng, 7, 2)[0]
    rock = fractal_noise(h, w, rng, 7, 8)[..., None]
    far = (yy > ridge[None, :])[..., None]
    img = np.where(far, np.array([0.36, 0.42, 0.55]) + 0.08 * rock, img)
    hill = 0.66 * h + 0.05 * h * np.sin(xx[0] / w * 5.0) + 0.02 * h * fractal_noise(1, w, rng, 6, 3)[0]
    grass = fractal_noise(h, w, rng, 8, 16)[..., None]
    near = (yy > hill[None, :])[..., None]
    meadow = np.array([0.28, 0.5, 0.18]) * (1 - 0.25 * t[..., None]) + 0.12 * grass
    img = np.where(near, meadow, img)
    # a house with sharp edges and a window grid
    x0, y0, bw, bh = int(0.18 * w), int(0.6 * h), int(0.14 * w), int(0.12 * h)
    img[y0:y0 + bh, x0:x0 + bw] = [0.82, 0.76, 0.66]
    roof = np.array([[x0 - 8, y0], [x0 + bw + 8, y0], [x0 + bw // 2, y0 - int(0.07 * h)]], np.int32)
    cv2.fillPoly(img, [roof], (0.62, 0.2, 0.16))
    for k in range(3):
        wx = x0 + 10 + k * (bw - 20) // 3
        img[y0 + 14:y0 + 34, wx:wx + 14] = [0.2, 0.25, 0.35]
    return np.clip(img, 0, 1).astype(np.float32)


def main() -> int:
    icons = render_icons(ROOT / "resources" / "icons")
    sample = ROOT / "resources" / "samples" / "sample.png"
    sample.parent.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.fromarray((draw_sample() * 255 + 0.5).astype(np.uint8)).save(sample, optimize=True)
    for p in [*icons, sample]:
        print(f"{p.relative_to(ROOT)}  {p.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
