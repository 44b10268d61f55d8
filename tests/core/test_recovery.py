import os

import numpy as np

from desktop_app.core.document.recovery import RecoveryStore, Snapshot
from desktop_app.core.imaging.io import ImageMeta
from tests.conftest import textured_image


def test_snapshot_of_a_dead_process_is_offered_and_restored(tmp_path):
    img = textured_image()
    mask = np.zeros(img.shape[:2], np.float32)
    mask[10:20, 10:20] = 1
    store = RecoveryStore(tmp_path)
    meta = ImageMeta(format="PNG", bit_depth=16, icc_profile=b"\x00icc", path="/x/photo.png")
    store.write(Snapshot(img, mask, meta, "/x/photo.png", "photo.png", 123.0))
    assert store.leftovers() == []  # our own process is alive: not a left-over
    # pretend the folder belongs to a process that is gone
    dead = tmp_path / f"{2**22 + 12345}-1"
    os.replace(store.own, dead)
    found = RecoveryStore(tmp_path).leftovers()
    assert [s.title for s in found] == ["photo.png"]
    doc = RecoveryStore.load(found[0])
    assert np.allclose(doc.image, img, atol=1 / 65535) and np.array_equal(doc.mask, mask)
    assert doc.modified and doc.meta.bit_depth == 16 and doc.meta.icc_profile == b"\x00icc"
    RecoveryStore.discard(found[0])
    assert RecoveryStore(tmp_path).leftovers() == []
