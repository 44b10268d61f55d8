import time
import numpy as np
from PySide6.QtCore import Qt, QPoint, QPointF, QTimer
from desktop_app.gui.main_window import MainWindow
from desktop_app.core.imaging.io import save_image
from desktop_app.core.operations import registry

def test_proto(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    img = (0.5 + 0.1 * rng.standard_normal((2000, 3000, 3), dtype=np.float32)).clip(0, 1)
    p = tmp_path / "big.bmp"
    save_image(p, img)
    print("write", time.perf_counter() - t)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    t = time.perf_counter()
    w.open_path(str(p))
    qtbot.waitUntil(lambda: w.job is None)
    print("open", time.perf_counter() - t)
    t = time.perf_counter(); qtbot.wait(50); print("paint", time.perf_counter() - t)
    gaps = []
    last = [time.perf_counter()]
    def tick():
        now = time.perf_counter(); gaps.append((now - last[0], w.busy)); last[0] = now
    timer = QTimer(); timer.setInterval(20); timer.timeout.connect(tick); timer.start()
    prog = []
    t0 = time.perf_counter()
    job = w.run_operation(registry.get("denoise/nlmeans"), {"sigma": 25.0}, False)
    job.progress.connect(lambda p: prog.append((time.perf_counter() - t0, p.fraction)))
    qtbot.waitUntil(lambda: w.job is None, timeout=120000)
    timer.stop()
    print("total", time.perf_counter() - t0)
    print(prog)
    g = sorted(gaps, reverse=True)[:8]
    print(g)
