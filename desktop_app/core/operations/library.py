"""The user's own models as operations: `denoise/<model id>` for a denoiser and
`inpaint/<model id>` for an inpainting network in the library.

The library is a folder of manifests (models/catalog.py); reading them needs no torch, so
this runs at start-up. `sync_library_operations()` is called again after a model is kept
(or removed), and brings the registry in line with the folder.
"""

from __future__ import annotations

from desktop_app.core.models.catalog import ModelEntry, all_models
from desktop_app.core.operations import builtin, table  # noqa: F401  (shipped operations first: a clash keeps them)
from desktop_app.core.operations.base import Operation
from desktop_app.core.operations.inpaint import NEURAL_FILL_EXTRA, NEURAL_FILL_PARAMS, inpaint_with
from desktop_app.core.operations.neural import denoise_with, denoiser_params

# manifest task -> whether the network takes a noise-level map (and so a "sigma" parameter)
DENOISE_TASKS = {"denoise": True, "denoise-real": False}

_registered: set[str] = set()  # keys this module added, so a later sync can take them away


def operation_for(entry: ModelEntry) -> Operation:
    m = entry.manifest
    metric = m.metrics.get("val_psnr")
    if m.task == "inpaint":
        return Operation(
            task="inpaint", method=m.id, title=m.title or m.id, category="Your models",
            description=(m.description or f"Your inpainting network {m.id!r}, trained in the training dialog.")
                        + (f" Validation: {metric:.2f} dB inside the holes." if isinstance(metric, (int, float))
                           else ""),
            run=inpaint_with(m.id), params=NEURAL_FILL_PARAMS, fills_mask=True, uses_device=True,
            extra={**NEURAL_FILL_EXTRA, "library_model": m.id},
        )
    return Operation(
        task="denoise", method=m.id, title=m.title or m.id, category="Your models",
        description=(m.description or f"Your denoiser {m.id!r}, trained in the training dialog.")
                    + (f" Validation: {metric:.2f} dB." if isinstance(metric, (int, float)) else ""),
        run=denoise_with(m.id),
        params=denoiser_params(noise_map=DENOISE_TASKS[m.task]),
        uses_device=True,
        suits=_calibrated_check(m.training),
        extra={"library_model": m.id},
    )


def _calibrated_check(training: dict):
    """A model calibrated to a camera (its manifest's training.camera / .iso) refuses photos of
    other cameras and ISOs; others take any photo."""
    calibrated = {k: training.get(k) for k in ("camera", "iso") if training.get(k)}
    if not calibrated:
        return None
    from desktop_app.core.calibration import calibration_mismatch

    return lambda meta: calibration_mismatch(calibrated, meta.camera)


def sync_library_operations() -> list[str]:
    """Register an operation per denoiser or inpainting network in the user's library and drop those whose model
    has gone; returns the keys now registered. A library model whose id clashes with a
    built-in operation is left out (the built-in one wins)."""
    shipped = set(table.OPERATIONS) - _registered  # `builtin` is imported: all of it is there
    wanted: dict[str, ModelEntry] = {}
    for entry in all_models():
        task = entry.manifest.task
        if entry.shipped or (task not in DENOISE_TASKS and task != "inpaint"):
            continue
        key = f"{'inpaint' if task == 'inpaint' else 'denoise'}/{entry.manifest.id}"
        if key not in shipped:
            wanted[key] = entry
    for key in list(_registered):
        table.unregister(key)
        _registered.discard(key)
    for key, entry in wanted.items():
        table.register(operation_for(entry))
        _registered.add(key)
    return sorted(_registered)
