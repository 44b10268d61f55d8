"""The core must run without Qt: importing every core module pulls in no PySide6."""

import pkgutil
import subprocess
import sys

import desktop_app.core


def test_core_imports_no_qt():
    modules = [m.name for m in pkgutil.walk_packages(desktop_app.core.__path__, "desktop_app.core.")]
    assert len(modules) > 10
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "import desktop_app.cli\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qtawesome')]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
