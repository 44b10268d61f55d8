"""`calibrate`: bursts of a still scene averaged into (noisy, clean) pairs to train on."""

from __future__ import annotations

import argparse
import shlex
import sys

from desktop_app.cli.exit_codes import EXIT_ERROR
from desktop_app.cli.progress import drive


def cmd_calibrate(args: argparse.Namespace) -> int:
    from desktop_app.core import calibration

    bursts, passed_over = calibration.find_bursts(args.bursts, gap_seconds=args.gap)
    for what, why in passed_over:
        print(f"passed over {what}: {why}", file=sys.stderr)
    if not bursts:
        raise ValueError("no bursts found (a burst is a folder of 4-64 frames of one still scene)")
    print(f"{len(bursts)} burst(s): " + ", ".join(f"{b.name} ({len(b.frames)} frames)" for b in bursts),
          file=sys.stderr)
    tile = None if args.tile == 0 else args.tile
    manifest = drive(calibration.calibrate(bursts, args.output, tile=tile, tiles_per_frame=args.tiles),
                     "calibrate", args.quiet)
    names = {b.name for b in bursts}
    for scene in manifest["scenes"]:
        if scene["name"] not in names:
            continue
        print(f"{scene['name']}: {calibration.scene_summary(scene)}", file=sys.stderr)
        for frame, why in scene["left_out"]:
            print(f"  left out {frame}: {why}", file=sys.stderr)
    for name, why in manifest["left_out"].items():
        if name in names:
            print(f"{name}: no pairs written: {why}", file=sys.stderr)
    iso = manifest.get("iso")
    print(f"wrote {args.output} (camera {manifest.get('camera') or 'unknown'}"
          + (f", ISO {iso[0]}-{iso[1]}" if iso else "") + "); train on it with: desktop-app train --task "
          f"denoise-pairs --data {shlex.quote(str(args.output))} --base cnn-real --minutes 10 --name NAME",
          file=sys.stderr)
    if not any(s["name"] in names for s in manifest["scenes"]):
        return EXIT_ERROR
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("calibrate", help="average bursts of a still scene into (noisy, clean) training pairs")
    p.add_argument("bursts", nargs="+", metavar="BURST_DIR",
                   help="a folder of 4-64 frames of one scene (tripod, one ISO), a folder of such folders, "
                        "or a folder whose frames are grouped into bursts by capture time and size")
    p.add_argument("-o", "--output", required=True, help="pairs folder to write (noisy/, clean/, calibration.json)")
    p.add_argument("--tile", type=int, default=512, help="cut pairs into tiles of this size (0: whole frames)")
    p.add_argument("--tiles", type=int, default=8, help="tiles per frame (default 8)")
    p.add_argument("--gap", type=float, default=30.0,
                   help="seconds between two frames that start a new burst (grouping by capture time)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_calibrate)
