"""Learned and patch-based hole filling for full-size photos. Both run through
inpainting.fullres, which picks the working scale and window, brings the fill back to full
size and matches the grain; operations.apply then blends it through the soft mask."""

from __future__ import annotations

import numpy as np

from desktop_app.core.inpainting.fullres import Copied, fill_full_resolution
from desktop_app.core.operations.base import AUTO, Operation, OperationInput, Param
from desktop_app.core.work import Progress, Work

MODEL_ID = "inpaint"  # resources/models/inpaint.safetensors


def _network_fill(inp: OperationInput, seed: int, model_id: str = MODEL_ID):
    """The fill function over windows: the network `model_id` with seeded noise, through the
    model runner (grey, padding, clamping, OpenVINO on the CPU)."""
    import torch

    from desktop_app.core.models.manager import MANAGER

    runner = MANAGER.runner(model_id, inp.device)
    count = [0]

    def fill(window: np.ndarray, hole: np.ndarray) -> Work[np.ndarray]:
        g = torch.Generator().manual_seed(seed * 7919 + count[0])
        count[0] += 1
        z = torch.randn((1, 1) + hole.shape, generator=g)[0, 0].numpy()
        out = runner.run(window, planes=(hole.astype(np.float32), z))  # the padding is known surroundings
        yield Progress(1.0, "window filled")
        return out

    return fill


def inpaint_with(model_id: str):
    """The run function of a neural fill operation with the network `model_id` (the shipped
    one, or one of the user's own from the training dialog)."""

    def run(inp: OperationInput) -> Work[np.ndarray]:
        assert inp.mask is not None
        yield Progress(None, f"loading {model_id}")
        fill = _network_fill(inp, int(inp.params["seed"]), model_id)
        # no seam correction: the network sees the hole's surroundings and meets them itself;
        # on CBSD68 the correction cost its fills 0.07-0.14 dB inside the hole (it helps Patch fill)
        return (yield from fill_full_resolution(inp.image, inp.mask, fill, int(inp.params["working_size"]),
                                                seed=int(inp.params["seed"]), grain=bool(inp.params["grain"]),
                                                seam=False))

    return run


inpaint_cnn = inpaint_with(MODEL_ID)


def inpaint_patch(inp: OperationInput) -> Work[np.ndarray]:
    from desktop_app.core.inpainting.patchmatch import cpu_threads, patch_copy
    from desktop_app.core.models.device import pick_device

    assert inp.mask is not None
    seed = int(inp.params["seed"])
    device = str(pick_device(inp.device or "auto"))
    threads = cpu_threads() if device == "cpu" else None  # once, before this fill's own load counts

    def fill(window: np.ndarray, hole: np.ndarray) -> Work[Copied]:
        return (yield from patch_copy(window, hole, seed=seed, patch=int(inp.params["patch"]), device=device,
                                      threads=threads))

    return (yield from fill_full_resolution(inp.image, inp.mask, fill, int(inp.params["working_size"]),
                                            seed=seed, grain=bool(inp.params["grain"])))


def _expand(image: np.ndarray, mask: np.ndarray, params: dict) -> tuple[np.ndarray, str]:
    from desktop_app.core.inpainting.remove import auto_expand, default_expand, grow_mask

    if params["expand"] == AUTO:
        pixels = auto_expand(image, mask)
        how = "auto, past an edge along the selection" if pixels > default_expand(mask.shape) else "auto"
        note = f"hole grown by {pixels} px (Expand {how})"
    else:
        pixels = int(params["expand"])
        note = f"hole grown by {pixels} px" if pixels else ""
    return grow_mask(mask, pixels), note


def remove_object(inp: OperationInput) -> Work[np.ndarray]:
    """The network's fill as the coarse content, the photo's own patches as its texture
    (inpainting.remove), seam and grain matched at full resolution."""
    from desktop_app.core.inpainting.patchmatch import cpu_threads
    from desktop_app.core.inpainting.remove import guided_fill
    from desktop_app.core.models.device import pick_device

    assert inp.mask is not None
    seed = int(inp.params["seed"])
    device = str(pick_device(inp.device or "auto"))
    yield Progress(None, f"loading {MODEL_ID}")
    network = _network_fill(inp, seed)
    threads = cpu_threads() if device == "cpu" else None  # once, before this fill's own load counts
    fill = guided_fill(network, seed, device=device, threads=threads)
    return (yield from fill_full_resolution(inp.image, inp.mask, fill,
                                            int(inp.params["working_size"]), seed=seed,
                                            grain=bool(inp.params["grain"])))


NEURAL_FILL_EXTRA = {"variations": 3}  # seeds offered to pick from after a run


def _seed(description: str) -> Param:
    return Param("seed", int, 0, "Seed", description, minimum=0, maximum=2**31 - 1, step=1)


_SEED = _seed("Which of the possible fills: another seed gives another variation.")
_GRAIN = Param("grain", bool, True, "Match grain",
               "Add noise to the fill so it is as grainy as the pixels around the hole at the same "
               "brightness (a camera's grain is stronger in the light than in the shadows).")


def _working(default: int) -> Param:
    return Param("working_size", int, default, "Working size",
                 "Side of the window the fill is computed in (pixels); larger holes are filled at reduced "
                 "resolution so that this window holds the hole and its surroundings.",
                 minimum=128, maximum=2048, step=64)


NEURAL_FILL_PARAMS = (_SEED, _working(512), _GRAIN)

CNN = Operation(
    task="inpaint", method="cnn", title="Neural fill", category="Remove objects",
    description="The project's Fourier-UNet inpainting network: continues structure and texture into "
                "the hole; another seed varies the fill's fine detail and grain.",
    run=inpaint_cnn, params=NEURAL_FILL_PARAMS, fills_mask=True, uses_device=True,
    extra=dict(NEURAL_FILL_EXTRA),
)

PATCH = Operation(
    task="inpaint", method="patch", title="Patch fill", category="Remove objects",
    description="PatchMatch texture synthesis: copies matching patches from around the hole; best for "
                "large holes in grass, sand, foliage, walls.",
    run=inpaint_patch, params=(_SEED, _working(512), Param("patch", int, 7, "Patch size",
                                                          "Side of the patches compared and copied.",
                                                          minimum=3, maximum=15, step=2), _GRAIN),
    fills_mask=True, uses_device=True,
)

_REMOVE_SEED = _seed("Which of the possible fills. Seeds 0, 3, 6... follow the network's layout near the hole's "
                     "edge and let the photo's patches decide deep inside a large hole; 1, 4... keep the photo's "
                     "own content where it agrees with that layout (sharper edges); 2, 5... follow the network's "
                     "layout throughout. The three variations offered after a run are one of each.")

EXPAND = Param("expand", int, AUTO, "Expand",
               "Grow the hole by this many pixels before filling, over the object's edge, halo and soft "
               "shadow; auto: past an edge that follows the selection's outline (a selection hugging the "
               "object), plus 0.4 % of the photo's long side (2 px on a small photo, 24 on 24 MP).",
               minimum=0, maximum=500, step=1, allow_auto=True, manual=8)

REMOVE = Operation(
    task="inpaint", method="remove", title="Remove object", category="Remove objects",
    description="Fills the selection with the photo's own texture, laid out by the inpainting network: "
                "the network decides what continues into the hole, patches copied from the photo give it "
                "real detail. The hole is grown a little first (Expand) so no edge or halo is left.",
    run=remove_object, params=(_REMOVE_SEED, EXPAND, _working(512), _GRAIN), fills_mask=True, uses_device=True,
    prepare_mask=_expand,
    # what seeds 0, 1, 2 (mod 3) do, as the Seed setting says (remove.READINGS)
    extra=dict(NEURAL_FILL_EXTRA, variation_names=(
        ("photo inside", "the network's layout at the edge, the photo's own patches deep inside a large "
                         "hole (the default)"),
        ("sharp edges", "the photo's own edges and shapes where they agree with the network's layout"),
        ("layout", "the network's layout throughout"))),
)
