"""Folders of images as training data: found recursively, unreadable files listed and
skipped, a deterministic validation split, random augmented patches."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}


@dataclass
class ImageSet:
    train: list[np.ndarray]  # uint8 H x W x 3
    val: list[np.ndarray]
    train_paths: list[Path] = field(default_factory=list)
    val_paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)


def find_images(folders: list[str | Path]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            found.append(folder)
            continue
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        found.extend(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return sorted(set(found))


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


def is_validation(path: Path, fraction: float) -> bool:
    """A stable split: the same file is on the same side whatever else is in the folder."""
    digest = hashlib.sha1(path.name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def load_image_set(folders: list[str | Path], val_fraction: float = 0.1, min_val: int = 4,
                   min_size: int = 32) -> ImageSet:
    paths = find_images(folders)
    out = ImageSet([], [])
    images: list[tuple[Path, np.ndarray]] = []
    for p in paths:
        try:
            img = _read_rgb(p)
        except (OSError, UnidentifiedImageError, ValueError) as e:
            out.skipped.append((p, str(e).splitlines()[0] if str(e) else type(e).__name__))
            continue
        if min(img.shape[:2]) < min_size:
            out.skipped.append((p, f"smaller than {min_size} pixels"))
            continue
        images.append((p, img))
    if not images:
        raise ValueError("no readable images in " + ", ".join(str(f) for f in folders))
    val = [i for i, (p, _) in enumerate(images) if is_validation(p, val_fraction)]
    if len(val) < min(min_val, len(images) // 2):
        # too few by hash: take every k-th image instead, still deterministic
        k = max(2, len(images) // max(min_val, 1))
        val = list(range(0, len(images), k))[:min_val]
    val_set = set(val)
    for i, (p, img) in enumerate(images):
        if i in val_set:
            out.val.append(img)
            out.val_paths.append(p)
        else:
            out.train.append(img)
            out.train_paths.append(p)
    if not out.train:  # a single image: train and validate on it
        out.train, out.train_paths = list(out.val), list(out.val_paths)
    return out


def random_patches(images: list[np.ndarray], count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random crops of `size` pixels with random flips and 90-degree turns,
    float32 N x 3 x size x size in [0, 1]."""
    batch = np.empty((count, 3, size, size), np.float32)
    for n in range(count):
        img = images[rng.integers(len(images))]
        h, w = img.shape[:2]
        if h < size or w < size:
            pad = ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0))
            img = np.pad(img, pad, mode="reflect")
            h, w = img.shape[:2]
        y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
        crop = img[y:y + size, x:x + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.rot90(crop, rng.integers(4))
        batch[n] = crop.transpose(2, 0, 1) / 255.0
    return batch


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(size, h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return img[y:y + s, x:x + s]
