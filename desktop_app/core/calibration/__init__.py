"""Calibrating to a camera from bursts: (noisy frame, clean reference) pairs for the
`denoise-pairs` training task.

A burst is 4-64 frames of a still scene shot from a tripod at one ISO. Averaging N aligned
frames divides the noise by about sqrt(N) and keeps the scene, which is how the PolyU data set
made its clean references. Here each frame is aligned to the burst's first frame (small shifts
and a small rotation: OpenCV's ECC with a Euclidean motion model on downscaled grey copies,
started from phase correlation), accumulated into a running mean (memory does not grow with
the number of frames), and frames that do not align are listed and left out.

The pairs keep each frame's own pixels untouched: the *reference* is warped into the frame's
geometry, not the frame into the reference's. Interpolating a noisy frame would smooth its
noise, and the network must learn the camera's noise as the camera writes it. Pairs are cut
into tiles (512 px by default) so that a trainer can hold many of them in memory, and named
`<scene>_<NNNN>.png` in `noisy/` and `clean/`: the name without its trailing number is the
scene, which is what `training.data.load_pairs` splits by. `calibration.json` beside them
records the camera, the ISO range, each burst's frames (kept and left out, with why) and how
much noise the averaging removed.

`bursts` finds the bursts, `alignment` aligns a frame to the first, `averaging` makes the mean
and `pairs` writes the tiles and the manifest (`calibrate`, the whole job); the names callers
use are imported here.
"""

from desktop_app.core.calibration.alignment import (
    Aligner,
    AlignmentError,
    AlignSettings,
    displacement,
    grey_small,
)
from desktop_app.core.calibration.averaging import (
    BurstResult,
    average_burst,
    load_frame,
)
from desktop_app.core.calibration.bursts import (
    FRAME_EXTENSIONS,
    MAX_FRAMES,
    MIN_FRAMES,
    RAW_EXTENSIONS,
    Burst,
    FrameInfo,
    find_bursts,
    frame_info,
    group_by_capture,
)
from desktop_app.core.calibration.pairs import (
    MANIFEST,
    calibrate,
    calibration_mismatch,
    read_calibration,
    scene_noise,
    scene_summary,
    tile_boxes,
    write_pairs,
)

__all__ = [
    "FRAME_EXTENSIONS", "MANIFEST", "MAX_FRAMES", "MIN_FRAMES", "RAW_EXTENSIONS",
    "AlignSettings", "Aligner", "AlignmentError", "Burst", "BurstResult", "FrameInfo",
    "average_burst", "calibrate", "displacement", "find_bursts", "frame_info", "grey_small",
    "group_by_capture", "load_frame", "calibration_mismatch", "read_calibration", "scene_noise",
    "scene_summary", "tile_boxes", "write_pairs",
]
