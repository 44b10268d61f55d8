"""What the app sets for its whole process when it is imported."""

import os
import subprocess
import sys

import pytest

from desktop_app import HUGE_PAGES_ENV

ASKS = "from numpy._core.multiarray import _get_madvise_hugepage as asks; print(asks())"


def _numpy_asks_for_huge_pages(first: str, env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != HUGE_PAGES_ENV}
    if env_value is not None:
        env[HUGE_PAGES_ENV] = env_value
    code = f"import {first}; import desktop_app, numpy; {ASKS}"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="NumPy asks for huge pages on Linux only")
def test_numpy_does_not_ask_linux_for_huge_pages_unless_the_user_does():
    """On a kernel that compacts memory for them on demand, a 12 MP denoise spent seconds of
    system time waiting for 2 MB pages; the user's own setting wins."""
    assert _numpy_asks_for_huge_pages("os", None) == "False"  # numpy imported after the app
    assert _numpy_asks_for_huge_pages("numpy", None) == "False"  # numpy imported before it
    assert _numpy_asks_for_huge_pages("os", "1") == "True"
