"""One afternoon with the app, scripted, on a laptop-sized window (1366 x 768 less the title
bar): open a photo, box-select an object, remove it, denoise, generate a texture and paste it,
fine-tune a denoiser and use it, save, and open the result again."""

from __future__ import annotations

import numpy as np

from desktop_app.core.imaging.io import load_image, save_image
from tests.conftest import textured_image
from tests.gui.helpers import open_and_wait, run_from_panel, wait_idle
from tests.gui.test_generate import generate, pick, tiny_gans  # noqa: F401 (a fixture)
from tests.gui.test_training_dialog import (_forget_library_operations, folder, keep_and_wait,  # noqa: F401
                                            open_dialog, set_budget, click)


def test_a_users_afternoon_at_1366x768(qtbot, window, tmp_path, tiny_inpaint_model, tiny_gans,  # noqa: F811
                                       folder):  # noqa: F811
    import torch

    torch.set_num_threads(1)
    window.resize(1366, 740)
    qtbot.wait(50)
    assert window.height() <= 740

    photo = textured_image(120, 160)
    yy, xx = np.mgrid[0:120, 0:160]
    photo[(yy - 55) ** 2 + (xx - 80) ** 2 < 18 ** 2] = (0.9, 0.1, 0.1)  # a red ball on the lawn
    photo_path = tmp_path / "ball.png"
    save_image(photo_path, photo)
    open_and_wait(qtbot, window, photo_path)
    doc = window.doc
    original = doc.image

    # select an object with a box, then remove it with the default removal
    window.selection.box_select(50, 30, 60, 50)
    wait_idle(qtbot, window)
    assert doc.mask[55, 80] > 0.5 and doc.mask[5, 5] == 0, "the box selected something inside it only"
    run_from_panel(qtbot, window, "inpaint/remove", timeout=120)
    assert not window.dialogs.errors, window.dialogs.error_text
    removed = doc.image
    assert np.abs(removed - original)[doc.mask > 0.99].mean() > 0.01

    # denoise the whole photo
    window.edits.clear_mask()
    wait_idle(qtbot, window)
    run_from_panel(qtbot, window, "denoise/nlmeans", sigma=10.0, timeout=60)
    assert not window.dialogs.errors, window.dialogs.error_text
    assert doc.image is not removed

    # generate a texture and paste it into a painted region
    panel = generate(qtbot, window, seed=1, count=2)
    mask = np.zeros(doc.mask.shape, np.float32)
    mask[70:100, 100:150] = 1.0
    doc.set_mask(mask, "Paint mask")
    pick(panel, 0)
    before_paste = doc.image
    window.paste_generated(panel.samples[0])
    wait_idle(qtbot, window)
    assert np.abs(doc.image - before_paste)[mask > 0].mean() > 0.01

    # fine-tune a tiny denoiser in the dialog, keep it and run it
    dialog = open_dialog(qtbot, window, folder)
    set_budget(dialog, 4)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: not dialog.running and dialog.trainer is not None and dialog.trainer.step == 4,
                    timeout=120000)
    dialog.name.setText("my-afternoon")
    keep_and_wait(qtbot, dialog)
    dialog.close()
    run_from_panel(qtbot, window, "denoise/my-afternoon", timeout=60)
    assert not window.dialogs.errors, window.dialogs.error_text
    edited = doc.image

    # save a copy and open it again
    out = tmp_path / "afternoon.png"
    window.dialogs.save_paths.append(str(out))
    window.save_as()
    wait_idle(qtbot, window)
    assert not doc.modified and out.is_file()
    open_and_wait(qtbot, window, out)
    np.testing.assert_allclose(window.doc.image, load_image(out)[0])
    np.testing.assert_allclose(window.doc.image, edited, atol=0.5 / 255 + 1e-6)
    assert window.height() <= 740, "nothing along the way made the window taller than the screen"
    assert window.dialogs.errors == []
