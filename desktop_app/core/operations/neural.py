"""Operations that run the project's trained networks: the model manager hands out the
network's runner (models/runner.py), which takes and returns images; no tensors here."""

from __future__ import annotations

import os

import numpy as np

from desktop_app.core.imaging.noise import (average_similar, colour_share, keep_texture, noise_bands, noise_map,
                                           overall_level)
from desktop_app.core.imaging.wiener import refine
from desktop_app.core.operations.base import AUTO, Operation, OperationInput, Param
from desktop_app.core.work import Progress, Work, subrange

REFINE_SHARE = 0.6  # the network's share of the bar when the Wiener step follows (3.4 s of 8.2 s on 12 MP)
ENSEMBLE_REFINE_SHARE = 0.4  # the same in the best-quality mode, the step grouped (18 s of 47 s on 12 MP, bf16)
LOW_READING = 1.0  # "auto" reading below this (0-255) says the photo's noise may be of another kind
# pixel-fine colour noise under this share of the brightness's says so too (`noise.colour_share`:
# about 1 for noise added to each channel, 0.02-0.05 once saved as a JPEG)
COARSE_COLOUR = 0.2  # the lowest read on held-out photos with noise added to each channel: 0.40 (CBSD68, σ 5)
BYTES_PER_PIXEL = 600.0  # working memory of the UNet denoisers per input pixel, fp32, measured roughly


def network_share(passes: int, device: str, cores: int) -> float:
    """The network's share of a denoise's bar (averaging similar patches the rest), from measured
    costs in s/MP: a pass 0.35 on 2 CPU cores (through OpenVINO, a 7 MP photo); on an H200 GPU
    (12 MP) 0.047 for 1 pass and 0.161 for 8; the averaging, which runs on the CPU, 0.85 on 2
    cores and 0.26 on 16 (the power of the core count fitted to those two, and taken to hold for
    the network on the CPU too, so that there the shares do not depend on the cores)."""
    cpu_time = (2 / max(cores, 1)) ** 0.57
    network = passes * 0.35 * cpu_time if device == "cpu" else 0.03 + 0.017 * passes
    return network / (network + 0.85 * cpu_time)


def denoise_with(model_id: str):
    def run(inp: OperationInput) -> Work[np.ndarray]:
        # torch loads here, on first use, not when the registry is imported at start-up
        from desktop_app.core.models.manager import MANAGER
        from desktop_app.core.models.tiled import DIAGONAL_VIEWS, VIEWS

        yield Progress(None, f"loading {model_id}")
        runner = MANAGER.runner(model_id, inp.device)
        image = inp.image
        sigma, bands = None, None
        if runner.arch.takes_noise_map:
            value = inp.params.get("sigma", AUTO)
            if value == AUTO:
                yield Progress(None, "estimating the noise level")
                # read per brightness band (a camera's noise grows with the light): the network and
                # the Wiener step take the level at each pixel's and block's brightness
                bands = noise_bands(image)
                est = overall_level(bands)
                sigma = np.array([est.mean()]) if image.shape[2] == 1 else est
                read = "noise level read as " + ", ".join(f"{s:.1f}" for s in est)
                if float(est.max()) < LOW_READING:  # camera JPEGs' grain is spread over pixels: it reads ~0
                    read += ("; almost no pixel-fine noise found: for a camera's coarser grain, try the "
                             "CNN denoiser for real photos")
                elif image.shape[2] == 3 and colour_share(image) < COARSE_COLOUR:
                    read += ("; the colour noise is coarser than a pixel (as a JPEG or a camera leaves it) "
                             "and stays as blotches here: try the CNN denoiser for real photos")
                # a note: said after the run too, so a user who doubts "auto" knows what to set
                yield Progress(0.0, read, {"sigma_estimate": est.tolist(), "note": read})
            else:
                sigma = np.full(image.shape[2], float(value))
            sigma = sigma / 255.0
        ensemble, similar = bool(inp.params.get("ensemble", False)), bool(inp.params.get("average_similar", False))
        detail = sigma is not None and bool(inp.params.get("refine", True))
        # best quality: the grouped Wiener step reads from the photo what half of the views add
        views = (DIAGONAL_VIEWS if detail else VIEWS) if ensemble else (0,)
        share = network_share(len(views), runner.device.type, os.cpu_count() or 2) if similar else 1.0
        if detail:
            share *= ENSEMBLE_REFINE_SHARE if ensemble else REFINE_SHARE

        def network(picture: np.ndarray) -> Work[np.ndarray]:
            level = None if bands is None else noise_map(picture, bands)  # the noise at each pixel's level
            return runner.run_tiled(picture, vector=sigma, views=views, bytes_per_pixel=BYTES_PER_PIXEL,
                                    plane=level)

        out = yield from subrange(network(image), 0.0, share)
        if detail:  # the step runs the network again on a crop, to choose its shares
            out = yield from subrange(refine(image, out, sigma, ensemble, network, bands), share, 1.0)
        if inp.params.get("keep_texture", False):
            out = keep_texture(image, out)
        if similar:
            out = yield from subrange(average_similar(image, out), share, 1.0)
        strength = float(inp.params.get("strength", 1.0))
        if strength != 1.0:  # blended with the photo, in place (three 12 MP temporaries took 0.4 s)
            out = np.array(out, np.float32)
            out -= image
            out *= strength
            out += image
        return out

    return run


_STRENGTH = Param("strength", float, 1.0, "Strength",
                  "Blend of the denoised result with the input: 1 = fully denoised, 0 = unchanged.",
                  minimum=0.0, maximum=1.0, step=0.05)
_ENSEMBLE = Param("ensemble", bool, False, "Best quality (4-8x slower)",
                  "Run the network on turned and mirrored versions of the photo and average them: all 8 "
                  "(about 8 times the time, +0.2 dB on CBSD68), or 4 where Recover detail follows: it then "
                  "filters similar blocks nearby together (BM3D's grouping), which reads from the photo more "
                  "than the other 4 views would add (about 4 times the time of one pass in all).")
_TEXTURE = Param("keep_texture", bool, True, "Keep fine texture",
                 "Where the network took away far more than the photo's noise (a fabric's weave, a mesh, "
                 "grass), put it back: the network judges the noise itself and can take fine texture for it.")
_SIMILAR = Param("average_similar", bool, True, "Average similar patches",
                 "Average the result over similar patches nearby (non-local means on the network's result): "
                 "removes the faint blotches the network leaves on real camera noise. About a second per "
                 "megapixel more.")
_REFINE = Param("refine", bool, True, "Recover detail",
                "After the network, filter the photo once more with the network's result as the guide "
                "(BM3D's Wiener step on 8x8 blocks): gives back fine detail and colour the network smoothed "
                "away. The CNN denoiser is trained to be followed by it: off, its result is 0.35-0.6 dB "
                "worse at noise 15. About 0.3 s per megapixel more.")
_SIGMA = Param("sigma", float, AUTO, "Noise level",
               "Noise standard deviation on the 0-255 scale, or auto to read it from the photo per channel "
               "and brightness (a camera's noise is stronger in the light than in the shadows).",
               minimum=0.0, maximum=100.0, step=1.0, allow_auto=True, manual=25.0)


def denoiser_params(noise_map: bool) -> tuple[Param, ...]:
    """The parameters of a denoising network's operation; `noise_map`: it takes the noise level."""
    return (_SIGMA, _STRENGTH, _ENSEMBLE, _REFINE) if noise_map else (_STRENGTH, _ENSEMBLE, _TEXTURE, _SIMILAR)


CNN = Operation(
    task="denoise", method="cnn", title="CNN denoiser", category="Denoise",
    description="The project's UNet trained on Gaussian noise of known level; 'auto' reads the level "
                "of each channel from the photo, at each pixel's brightness.",
    run=denoise_with("cnn"),
    params=denoiser_params(noise_map=True),
    uses_device=True,
)

CNN_REAL = Operation(
    task="denoise", method="cnn-real", title="CNN denoiser for real photos", category="Denoise",
    description="The project's blind UNet trained on camera-like noise (signal-dependent, colour-correlated, "
                "JPEG-compressed): no noise level to set.",
    run=denoise_with("cnn-real"),
    params=denoiser_params(noise_map=False),
    uses_device=True,
)
