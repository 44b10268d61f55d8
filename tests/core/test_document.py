import numpy as np
import pytest

from desktop_app.core.brush import BrushSettings
from desktop_app.core.document import Document
from tests.conftest import textured_image


def stroke(doc, points, **brush):
    s = doc.begin_stroke(BrushSettings(**brush))
    for x, y in points:
        s.to(x, y)
    return s.finish()


def test_stroke_paints_a_capsule_and_is_one_undo_step():
    doc = Document(textured_image(100, 200))
    stroke(doc, [(20, 50), (100, 50), (180, 50)], size=20, hardness=1.0)
    assert doc.mask[50, 20:180].min() > 0.99  # no gaps along the drag
    assert doc.mask[50 + 15, 100] == 0 and doc.mask[5, 5] == 0
    assert doc.history.titles() == ["Paint mask"]
    doc.undo()
    assert doc.mask.max() == 0
    doc.redo()
    assert doc.mask[50, 100] > 0.99


def test_hardness_sets_the_softness_of_the_edge():
    soft, hard = Document(textured_image()), Document(textured_image())
    stroke(soft, [(60, 48)], size=40, hardness=0.0)
    stroke(hard, [(60, 48)], size=40, hardness=1.0)
    soft_values = soft.mask[(soft.mask > 0.02) & (soft.mask < 0.98)].size
    hard_values = hard.mask[(hard.mask > 0.02) & (hard.mask < 0.98)].size
    assert soft_values > 10 * max(hard_values, 1)
    assert soft.mask[48, 60] > 0.99  # centre fully selected either way


def test_eraser_and_mask_commands():
    doc = Document(textured_image())
    stroke(doc, [(30, 30), (90, 30)], size=30, hardness=1.0)
    stroke(doc, [(60, 30)], size=10, hardness=1.0, erase=True)
    assert doc.mask[30, 60] == 0 and doc.mask[30, 35] > 0.99
    doc.invert_mask()
    assert doc.mask[30, 60] == 1 and doc.mask[90, 5] == 1
    doc.feather_mask(6)
    edge = doc.mask[30, 35:60]
    assert 0 < edge.min() < edge.max() < 1 or len(np.unique(np.round(edge, 3))) > 3
    doc.clear_mask()
    assert doc.mask.max() == 0
    assert doc.history.titles() == ["Paint mask", "Erase mask", "Invert mask", "Feather mask 6px", "Clear mask"]
    doc.go_to(2)
    assert doc.mask[30, 60] == 0 and doc.mask[30, 35] > 0.99


def test_undo_restores_image_exactly_and_stores_only_the_changed_region():
    img = np.round(textured_image(200, 300) * 255) / 255
    doc = Document(img.astype(np.float32))
    new = doc.image.copy()
    new[10:20, 30:50] = 0.5
    step = doc.set_image(new, "edit")
    assert step.nbytes == 10 * 20 * 3 * 2  # the 10x20 region as uint16
    assert doc.modified
    doc.undo()
    assert np.array_equal(doc.image, img)
    doc.redo()
    assert np.allclose(doc.image, new, atol=1 / 65535)
    assert doc.set_image(doc.image.copy(), "no-op") is None  # nothing changed, no step


def test_history_memory_is_capped():
    doc = Document(textured_image(100, 100), history_cap=150_000)  # room for two full edits
    for i in range(5):
        doc.set_image(np.full_like(doc.image, i / 10), f"edit {i}")
    assert doc.history.nbytes <= 150_000
    assert len(doc.history.done) == 2 and doc.history.dropped == 3
    assert doc.undo() and doc.undo() and not doc.undo()
    assert np.allclose(doc.image, 0.2, atol=1e-4)


def test_new_edit_clears_redo_and_saved_state_tracks_history():
    doc = Document(textured_image())
    assert not doc.modified
    doc.set_image(doc.image * 0.5, "darken")
    doc.mark_saved()
    assert not doc.modified
    doc.undo()
    assert doc.modified
    doc.set_image(doc.image * 0.9, "other")
    assert not doc.history.can_redo


def test_image_array_is_never_edited_in_place():
    doc = Document(textured_image())
    before = doc.image
    snapshot = before.copy()
    doc.set_image(before * 0.5, "half")
    doc.undo()
    assert np.array_equal(before, snapshot)  # autosave / compare may still hold it


def test_mask_shape_mismatch_is_an_error():
    doc = Document(textured_image())
    with pytest.raises(ValueError, match="does not match"):
        doc.set_mask(np.zeros((3, 3), np.float32), "bad")
