"""Colour-managed view: a wide-gamut photo shows the colours its profile means."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

from desktop_app.core.imaging.colour import adobe_rgb_profile
from desktop_app.gui.qimage import qimage_view
from tests.conftest import textured_image
from tests.gui.helpers import open_and_wait


def shown(window) -> np.ndarray:
    image = window.canvas._pyramid[0]
    return qimage_view(image, 3).astype(int).copy()


def test_adobe_rgb_photo_shows_the_same_colours_as_its_srgb_conversion(qtbot, window, tmp_path):
    srgb = (textured_image(96, 128, seed=4) * 255).round().astype(np.uint8)
    Image.fromarray(srgb).save(tmp_path / "srgb.png")  # untagged: taken as sRGB
    adobe_icc = adobe_rgb_profile()
    adobe = ImageCms.profileToProfile(Image.fromarray(srgb), ImageCms.createProfile("sRGB"),
                                      ImageCms.ImageCmsProfile(io.BytesIO(adobe_icc)))
    adobe.save(tmp_path / "adobe.png", icc_profile=adobe_icc)
    assert np.abs(np.asarray(adobe).astype(int) - srgb).mean() > 5  # the files' numbers differ

    open_and_wait(qtbot, window, tmp_path / "srgb.png")
    reference = shown(window)
    assert np.array_equal(reference, srgb)  # untagged: shown as it is
    open_and_wait(qtbot, window, tmp_path / "adobe.png")
    difference = np.abs(shown(window) - reference)
    assert difference.mean() < 0.8 and difference.max() <= 4
    # the document keeps the file's own numbers and profile: only the view is converted
    assert window.doc.meta.icc_profile == adobe_icc
    assert np.abs(window.doc.image * 255 - np.asarray(adobe)).max() < 0.51
