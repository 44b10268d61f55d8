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
    store.write(Snapshot(img, mask, meta, "/x/photo.png", "photo.png", 123.0, mask_shown=False))
    assert store.leftovers() == []  # our own process is alive: not a left-over
    # pretend the folder belongs to a process that is gone
    dead = tmp_path / f"{2**22 + 12345}-1"
    os.replace(store.own, dead)
    found = RecoveryStore(tmp_path).leftovers()
    assert [s.title for s in found] == ["photo.png"]
    assert not found[0].mask_shown  # the overlay was hidden (after a fill): the window shows it hidden
    doc = RecoveryStore.load(found[0])
    assert np.allclose(doc.image, img, atol=1 / 65535) and np.array_equal(doc.mask, mask)
    assert doc.modified and doc.meta.bit_depth == 16 and doc.meta.icc_profile == b"\x00icc"
    RecoveryStore.discard(found[0])
    assert RecoveryStore(tmp_path).leftovers() == []


def _left_over(tmp_path, image, mask, source):
    """A session of a process that is gone, with `image` and `mask` of a photo opened from `source`."""
    store = RecoveryStore(tmp_path / "recovery")
    store.write(Snapshot(image, mask, None, str(source), "photo.png", 123.0))
    dead = store.root / f"{2**22 + 12345}-1"
    os.replace(store.own, dead)
    return RecoveryStore(store.root).leftovers()[0]


def test_recovered_edits_are_one_undo_step_over_the_file_they_were_made_on(tmp_path):
    from desktop_app.core.document.recovery import RECOVERED_STEP
    from desktop_app.core.imaging.io import load_image, save_image

    photo = tmp_path / "photo.png"
    save_image(photo, textured_image())
    on_file, _ = load_image(photo)
    edited = on_file.copy()
    edited[5:25, 5:25] = 0.2  # an edit the crash left unsaved
    mask = np.zeros(edited.shape[:2], np.float32)
    mask[30:40, 30:40] = 1
    doc = RecoveryStore.load(_left_over(tmp_path, edited, mask, photo))
    np.testing.assert_allclose(doc.image, edited, atol=1 / 65535)
    assert np.array_equal(doc.mask, mask) and doc.modified
    assert [step.title for step in doc.history.done] == [RECOVERED_STEP]
    assert doc.undo()  # back to the file as it is on disk: unmodified, and before/after shows it
    np.testing.assert_array_equal(doc.image, on_file)
    np.testing.assert_array_equal(doc.original, on_file)
    assert not doc.modified
    assert doc.redo()
    np.testing.assert_allclose(doc.image, edited, atol=1 / 65535)


def test_recovery_without_its_file_or_with_a_mask_alone_keeps_the_edits_unsaved(tmp_path):
    from desktop_app.core.imaging.io import load_image, save_image

    photo = tmp_path / "photo.png"
    save_image(photo, textured_image())
    on_file, _ = load_image(photo)
    mask = np.zeros(on_file.shape[:2], np.float32)
    mask[30:40, 30:40] = 1
    doc = RecoveryStore.load(_left_over(tmp_path / "a", on_file, mask, photo))  # only the mask was edited
    assert doc.history.done == [] and doc.modified and np.array_equal(doc.mask, mask)
    edited = on_file * 0.5
    gone = tmp_path / "gone.png"
    doc = RecoveryStore.load(_left_over(tmp_path / "b", edited, mask, gone))
    np.testing.assert_allclose(doc.image, edited, atol=1 / 65535)
    assert doc.history.done == [] and doc.modified
    photo.write_bytes(b"not an image any more")
    doc = RecoveryStore.load(_left_over(tmp_path / "c", edited, mask, photo))
    np.testing.assert_allclose(doc.image, edited, atol=1 / 65535)
    assert doc.history.done == [] and doc.modified
