"""Desktop photo retouching: a headless core (`desktop_app.core`) and a Qt shell (`desktop_app.gui`)."""

import os as _os
import sys as _sys

__version__ = "0.1.0"
APP_NAME = "PhotoRetouch"
ORG_NAME = "PhotoRetouch"

HUGE_PAGES_ENV = "NUMPY_MADVISE_HUGEPAGE"


def _numpy_without_huge_pages() -> None:
    """NumPy asks Linux for 2 MB pages for every array over 4 MB. Where the kernel compacts
    memory to find them on demand (transparent_hugepage/defrag "madvise", the usual setting),
    a fault can stall on that compaction: on this project's 2-core machine a fresh 576 MB
    array took 3.0 s to fill against 0.4 s in plain pages, and a 12 MP denoise spent 5 s of
    system time (9.9 s against 6.4 s for the whole command). NumPy reads this setting when it
    is imported; a user's own value is kept."""
    if _os.environ.setdefault(HUGE_PAGES_ENV, "0") != "0" or "numpy" not in _sys.modules:
        return
    try:  # imported before us (a frozen build's hooks, a notebook): switch it now
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # a NumPy that moved it: its default stays
        return
    _set_madvise_hugepage(False)


_numpy_without_huge_pages()
