"""`desktop-app --self-test`, the check every frozen build runs: it must pass on the shipped
models and fail, naming the step, when a model is damaged."""

import os
import shutil
from pathlib import Path

import pytest

from desktop_app.core.models.manager import MANAGER
from desktop_app.core.paths import resources_dir
from desktop_app.gui.self_test import run_self_test


def results(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("ok", "FAIL"))]


@pytest.fixture
def fresh_models():
    MANAGER.release()  # no model kept warm from another test
    yield
    MANAGER.release()


def test_self_test_passes_on_the_shipped_models(qapp, fresh_models, monkeypatch):
    monkeypatch.setenv("DESKTOP_APP_DATA_DIR", "/nonexistent-must-be-replaced")
    lines: list[str] = []
    assert run_self_test(lines.append) == 0, "\n".join(lines)
    checks = results(lines)
    assert len(checks) == 7 and all(c.startswith("ok") for c in checks)
    assert lines[-1] == "self-test passed"
    # it used a data folder of its own and gave the caller's back
    assert os.environ["DESKTOP_APP_DATA_DIR"] == "/nonexistent-must-be-replaced"


def test_self_test_fails_and_names_the_step_when_a_model_is_damaged(qapp, fresh_models, tmp_path: Path,
                                                                     monkeypatch):
    shipped = resources_dir()
    res = tmp_path / "resources"
    shutil.copytree(shipped / "samples", res / "samples")
    (res / "models").mkdir()
    for f in (shipped / "models").iterdir():
        (res / "models" / f.name).symlink_to(f)
    broken = res / "models" / "inpaint.safetensors"
    broken.unlink()
    broken.write_bytes(b"not the weights the manifest describes")
    monkeypatch.setenv("DESKTOP_APP_RESOURCES", str(res))
    lines: list[str] = []
    assert run_self_test(lines.append) == 1
    failed = [c for c in results(lines) if c.startswith("FAIL")]
    assert len(failed) == 1 and "neural fill" in failed[0] and "checksum" in failed[0]
    assert lines[-1] == "self-test FAILED"
