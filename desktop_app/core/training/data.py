"""Folders of images as training data: found recursively, unreadable files listed and
skipped, a deterministic validation split, random augmented patches."""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from desktop_app.core.imaging.io import DEFAULT_MAX_PIXELS
from desktop_app.core.work import Progress, Work, run_work

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}


@dataclass
class ImageSet:
    train: list[np.ndarray]  # uint8 H x W x 3
    val: list[np.ndarray]
    train_paths: list[Path] = field(default_factory=list)
    val_paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)
    # class-conditional data: the class names, and each image's class index
    classes: list[str] = field(default_factory=list)
    train_labels: list[int] = field(default_factory=list)
    val_labels: list[int] = field(default_factory=list)


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


def read_rgb(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The image as uint8 H x W x 3; ValueError for a file over the editor's pixel limit (or
    one Pillow takes for a decompression bomb), and Pillow's warnings about odd files kept
    off stderr: a file is either read or listed as skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as im:
                if im.width * im.height > max_pixels:
                    raise ValueError(f"{im.width}x{im.height} pixels is over the limit of "
                                     f"{max_pixels / 1e6:.0f} megapixels")
                im.load()
                return np.asarray(im.convert("RGB"))
        except Image.DecompressionBombError as e:
            raise ValueError(f"over the pixel limit ({e})") from None


def _why(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return text or type(e).__name__


def is_validation(path: Path | str, fraction: float) -> bool:
    """A stable split: the same file is on the same side whatever else is in the folder."""
    name = path.name if isinstance(path, Path) else path
    digest = hashlib.sha1(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def iter_image_set(folders: list[str | Path], val_fraction: float = 0.1, min_val: int = 4,
                   min_size: int = 32) -> Work[ImageSet]:
    """Read the images of `folders` into a training and a validation set, one Progress per
    file (a cancel point): see `load_image_set`."""
    yield Progress(None, "finding the images")
    paths = find_images(folders)
    out = ImageSet([], [])
    images: list[tuple[Path, np.ndarray]] = []
    for n, p in enumerate(paths):
        yield Progress(n / len(paths), f"reading {p.name}")
        try:
            img = read_rgb(p)
        except Exception as e:  # noqa: BLE001 - a broken file is listed and skipped, whatever Pillow raises
            out.skipped.append((p, _why(e)))
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
    # a single image: train and validate on it (the score then says how well the network
    # fits that photo, which is still a fair way to pick its best weights)
    if not out.train:
        out.train, out.train_paths = list(out.val), list(out.val_paths)
    if not out.val:
        out.val, out.val_paths = list(out.train), list(out.train_paths)
    return out


def load_image_set(folders: list[str | Path], val_fraction: float = 0.1, min_val: int = 4,
                   min_size: int = 32) -> ImageSet:
    """The images of `folders` (found recursively; unreadable or smaller than `min_size`
    listed in `skipped`), split by a stable hash of the file name into training and
    validation with at least `min_val` held back when there are enough."""
    return run_work(iter_image_set(folders, val_fraction, min_val, min_size))


def scene_key(path: Path) -> str:
    """The scene a shot belongs to: the file name without a trailing shot number
    ("Canon5D2_chair_11.jpg" -> "Canon5D2_chair"), so a split keeps scenes apart."""
    return re.sub(r"_\d+$", "", path.stem)


def iter_pairs(folders: list[str | Path], val_fraction: float = 0.5) -> Work[ImageSet]:
    """`load_pairs` as work, one Progress per pair read (a cancel point)."""
    out = ImageSet([], [])
    pairs: list[tuple[str, Path, np.ndarray]] = []
    for folder in folders:
        folder = Path(folder)
        noisy_dir, clean_dir = folder / "noisy", folder / "clean"
        if not noisy_dir.is_dir() or not clean_dir.is_dir():
            raise FileNotFoundError(f"{folder}: paired data needs the sub-folders noisy/ and clean/")
        for noisy_path in find_images([noisy_dir]):
            yield Progress(None, f"reading {noisy_path.name}")
            clean_path = clean_dir / noisy_path.relative_to(noisy_dir)
            try:
                noisy, clean = read_rgb(noisy_path), read_rgb(clean_path)
            except Exception as e:  # noqa: BLE001 - listed and skipped
                out.skipped.append((noisy_path, _why(e)))
                continue
            if noisy.shape != clean.shape:
                out.skipped.append((noisy_path, f"size {noisy.shape[:2]} differs from the clean {clean.shape[:2]}"))
                continue
            pairs.append((scene_key(noisy_path), noisy_path, np.concatenate([noisy, clean], axis=2)))
    held = held_back_pairs([(scene, path) for scene, path, _ in pairs], val_fraction)
    for scene, path, pair in pairs:
        if path in held:
            out.val.append(pair)
            out.val_paths.append(path)
        else:
            out.train.append(pair)
            out.train_paths.append(path)
    if not out.train or not out.val:
        raise ValueError("paired data needs at least two pairs of one scene, or two scenes (some to train on, "
                         "some to validate)")
    return out


def load_pairs(folders: list[str | Path], val_fraction: float = 0.5) -> ImageSet:
    """Real (noisy, clean) pairs: each folder holds `noisy/` and `clean/` with the same file
    names. Each pair is one H x W x 6 array (noisy RGB, then clean RGB), so random crops and
    flips stay aligned. The split goes by scene, not by shot, from two scenes on
    (`held_back_pairs`)."""
    return run_work(iter_pairs(folders, val_fraction))


WHOLE_SCENES_FROM = 3  # paired data with this many scenes or more holds back whole scenes


def held_back_pairs(shots: list[tuple[str, Path]], fraction: float) -> set[Path]:
    """The pairs kept for validation, given each one's (scene, path). From three scenes on,
    whole scenes (`held_back_scenes`): a network judged on other shots of a scene it trained
    on is judged too kindly. With one or two scenes (a calibration from one or two bursts),
    holding a whole scene back leaves one scene to learn from, and the held-back scene alone
    judged the Canon 600D's calibrations so poorly that they kept nothing; so each scene's
    shots are split: a stable share (`is_validation` of the file name), at least one and never
    all of them. The kept network keeps only half of its change (`TrainingTask.kept_change`),
    which is what makes the kinder judge safe (docs/models.md)."""
    scenes: dict[str, list[Path]] = {}
    for scene, path in shots:
        scenes.setdefault(scene, []).append(path)
    if len(scenes) >= WHOLE_SCENES_FROM:
        held = held_back_scenes(sorted(scenes), fraction)
        return {path for scene, path in shots if scene in held}
    out: set[Path] = set()
    for paths in scenes.values():
        if len(paths) < 2:
            continue
        order = sorted(paths, key=lambda p: hashlib.sha1(p.name.encode()).digest())
        held = {p for p in paths if is_validation(p, fraction)} or {order[0]}
        if len(held) == len(paths):
            held.discard(order[-1])
        out |= held
    return out


def held_back_scenes(scenes: list[str], fraction: float) -> set[str]:
    """The scenes kept for validation: a stable choice by name (`is_validation`), and with two
    scenes or more never all or none of them."""
    held = {s for s in scenes if is_validation(s, fraction)}
    if len(scenes) < 2:
        return held
    order = sorted(scenes, key=lambda s: hashlib.sha1(s.encode()).digest())  # the hash's own order
    if not held:
        held = {order[0]}  # the scene closest to being held back by the hash
    elif len(held) == len(scenes):
        held.discard(order[-1])
    return held


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator, turn: bool = True) -> np.ndarray:
    """One random `size` crop (reflect-padded when the image is smaller) with a random flip
    and, when `turn`, a random 90-degree turn; H x W x C as the image."""
    h, w = img.shape[:2]
    if h < size or w < size:
        pad = ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0))
        img = np.pad(img, pad, mode="reflect")
        h, w = img.shape[:2]
    y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
    crop = img[y:y + size, x:x + size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if turn:
        crop = np.rot90(crop, rng.integers(4))
    return crop


def random_patches(images: list[np.ndarray], count: int, size: int, rng: np.random.Generator,
                   zoom: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """`count` random crops of `size` pixels with random flips and 90-degree turns,
    float32 N x C x size x size in [0, 1] (C as the images have). With `zoom` (lo, hi) other
    than 1, each crop is cut 1/zoom times the size (drawn uniformly from lo to hi) and resized
    to `size`: enlarged bicubically above 1, shrunk by area averaging below."""
    batch = np.empty((count, images[0].shape[2], size, size), np.float32)
    for n in range(count):
        img = images[rng.integers(len(images))]
        if zoom == (1.0, 1.0):
            crop = random_crop(img, size, rng)
        else:
            small = random_crop(img, max(8, round(size / rng.uniform(*zoom))), rng)
            how = cv2.INTER_AREA if small.shape[0] > size else cv2.INTER_CUBIC
            crop = cv2.resize(np.ascontiguousarray(small), (size, size), interpolation=how)
            crop = crop.reshape(size, size, -1)  # OpenCV drops a single channel's axis
        batch[n] = crop.transpose(2, 0, 1) / 255.0
    return batch


def class_folders(folders: list[str | Path]) -> list[str]:
    """Class names of a class-conditional data set: the names of the immediate sub-folders
    of the data folders that hold images (anywhere below them), sorted; [] when none do."""
    names = set()
    for folder in map(Path, folders):
        if folder.is_dir():
            for sub in folder.iterdir():
                if sub.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in sub.rglob("*")):
                    names.add(sub.name)
    return sorted(names)


def iter_labelled_image_set(folders: list[str | Path], classes: list[str], val_fraction: float = 0.1,
                            min_val: int = 4, min_size: int = 32) -> Work[ImageSet]:
    """Images with class labels: the class of an image is the sub-folder it lies in (one of
    `classes`, see `class_folders`); each class is split into train and validation on its
    own, so every class has validation images. With no classes, one unlabelled set (labels
    all 0). Images directly in a data folder that has class sub-folders are skipped. One
    Progress per file read (a cancel point)."""
    if not classes:
        out = yield from iter_image_set(folders, val_fraction, min_val, min_size)
        out.train_labels, out.val_labels = [0] * len(out.train), [0] * len(out.val)
        return out
    out = ImageSet([], [], classes=list(classes))
    for folder in map(Path, folders):
        for p in find_images([folder]):
            if p.parent == folder:
                out.skipped.append((p, "not in a class sub-folder"))
    for index, name in enumerate(classes):
        places = [Path(f) / name for f in folders if (Path(f) / name).is_dir()]
        try:
            part = yield from iter_image_set(places, val_fraction, min(min_val, 2), min_size)
        except ValueError:
            raise ValueError(f"class {name!r} has no readable images") from None
        out.train += part.train
        out.val += part.val
        out.train_paths += part.train_paths
        out.val_paths += part.val_paths
        out.skipped += part.skipped
        out.train_labels += [index] * len(part.train)
        out.val_labels += [index] * len(part.val)
    return out


def load_labelled_image_set(folders: list[str | Path], classes: list[str], val_fraction: float = 0.1,
                            min_val: int = 4, min_size: int = 32) -> ImageSet:
    """`iter_labelled_image_set`, read to the end."""
    return run_work(iter_labelled_image_set(folders, classes, val_fraction, min_val, min_size))


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(size, h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return img[y:y + s, x:x + s]
