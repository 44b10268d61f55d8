"""Edges and lines that cross a hole, drawn across it.

The network continues what it sees into a hole about right near the hole's edge and fills an
average deep inside, so a cable or a rail that crosses the hole fades halfway: a gap in the
cable, however small the hole. Here each straight edge or line that runs into the hole (a
crossing: a strong, straight gradient a few pixels outside it, the same profile across it
over a stretch) is paired with one on the far side that continues it (the same direction and
the same profile, mirrored), in the spirit of Sun et al. 2005's structure propagation. A pair
is joined by a smooth curve (cubic Hermite, tangent to both edges) and the photo's profile
across the edge is drawn along it, blended from one end's to the other's.

A pair is drawn only where the network's fill already hints at it (its deviations across the
curve correlate with the drawn profile's): the network sees the whole window, and a pair it
does not support is usually two edges that do not belong together. And only where no other
edge that runs into the hole would cross it: there the colours beside the edge change on the
way (a dark strip passing behind a post; drawn, the light wall beside the post went on across
the strip). What is drawn sharpens what the network put there; the change is carried over a
few bands' widths around it, so the band has no outline of its own. A band too wide to read as
one line (a thick cable) goes on as its two sides and, between them, its middle's colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from desktop_app.core.inpainting.fullres import local_mean, spread

OUT = 4  # px outside the hole where crossings are looked for
BACK = (3.0, 15.0)  # px further out (along the edge) over which its profile is read
HALF_WIDTH = 7  # px: the profile across an edge, each side
STRENGTH = 0.06  # least gradient (colour, per px) of an edge worth drawing
COHERENCE = 0.6  # least coherence of the structure tensor at the crossing: a straight edge, not texture
CROSSING = 0.5  # least |cos| between the edge's direction and the hole's inward normal
CONTRAST = 0.12  # least range of a profile (its brightest colour minus its darkest)
PROFILE_DIFF = 0.10  # mean colour difference between two profiles that count as the same, at most...
PROFILE_SHARE = 0.2  # ...and at most this share of their contrast
TURN = np.cos(np.radians(25))  # both ends' directions within this angle of the chord between them
OVER_HOLE = 0.6  # least share of the chord that lies over the hole
NETWORK_AGREES = 0.4  # least correlation of the network's fill with the drawn profile along the curve...
BAND_AGREES = 0.3  # ...and along a band's two sides seen at both ends, where it reaches the above along one
MIN_APART = 3  # px along the outline between two crossings
PROFILE = 2 * HALF_WIDTH + 1  # samples across a crossing
PARALLEL = np.cos(np.radians(20))  # two edges side by side this close in direction make a line...
LINE_WIDTH = 16  # ...when at most this far apart (px)
BAND_WIDTH = 40  # px: an edge one side of a band this wide pairs only with one that is too (_mark_beside)
WIDTH_DIFF = 0.3  # the most two crossings' widths may differ (a share of the wider) to be paired
SHARP = 2  # px each side of an edge where the drawn profile replaces the fill whole
REACH = 3 * HALF_WIDTH  # px from the drawn edges where the change they made has faded out


@dataclass
class Crossing:
    at: np.ndarray  # (x, y): OUT px outside the hole, on the edge (or between a line's two edges)
    into: np.ndarray  # unit (x, y): the edge's direction, into the hole
    half_width: float  # px: the profile's reach each side (HALF_WIDTH, more for a line's two edges)
    profile: np.ndarray  # PROFILE x C: the colours across, left to right of `into`, over +-half_width
    beside: "Crossing | None" = None  # the band's other side, where this is one side of a band (_mark_beside)


@dataclass
class Stroke:
    """A pair's profile drawn along the curve between them."""

    where: np.ndarray  # N x M x 2 (x, y): N steps along the curve, M offsets across it
    offset: np.ndarray  # N x M: px from the curve (negative: left)
    half_width: np.ndarray  # N x 1
    colour: np.ndarray  # N x M x C
    inner: bool = False  # a band's middle (_middle): put in place, not carried into the fill around


def find_crossings(image: np.ndarray, hole: np.ndarray) -> list[Crossing]:
    """The straight edges and lines that run into the hole. The pixels under it are not read."""
    known = ~hole
    # the hole's pixels near its edge from the known ones around them (a normalised blur), so
    # that no gradient is read across the edge from what lies under the mask
    image = image.astype(np.float32)
    fill = np.where(hole[:, :, None], local_mean(image, known, 3, floor=1e-3), image)
    smooth = cv2.GaussianBlur(fill, (0, 0), 1.0).reshape(fill.shape)
    jxx = jxy = jyy = np.zeros(hole.shape, np.float32)  # the colour structure tensor
    for c in range(smooth.shape[2]):
        gx = cv2.Sobel(smooth[:, :, c], cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(smooth[:, :, c], cv2.CV_32F, 0, 1, ksize=3) / 8
        jxx, jxy, jyy = jxx + gx * gx, jxy + gx * gy, jyy + gy * gy
    jxx, jxy, jyy = (cv2.GaussianBlur(j, (0, 0), 2.5) for j in (jxx, jxy, jyy))
    distance = cv2.distanceTransform(known.astype(np.uint8), cv2.DIST_L2, 5)
    inward = np.stack([-cv2.Sobel(distance, cv2.CV_32F, 1, 0, ksize=5),
                       -cv2.Sobel(distance, cv2.CV_32F, 0, 1, ksize=5)], axis=-1)
    grown = cv2.dilate(hole.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * OUT + 1,) * 2))
    contours, _ = cv2.findContours(grown, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    found = []
    for contour in contours:
        xs, ys = contour[:, 0, 0], contour[:, 0, 1]
        if len(xs) < 2 * MIN_APART + 1:
            continue
        a, b, d = jxx[ys, xs], jxy[ys, xs], jyy[ys, xs]
        root = np.sqrt((a - d) ** 2 + 4 * b ** 2)
        s = 2 * np.sqrt(np.maximum(a + d + root, 0) / 2)  # about the gradient per px
        coherence = root / np.maximum(a + d, 1e-9)
        theta = 0.5 * np.arctan2(2 * b, a - d)  # the gradient's direction: the edge runs across it
        near = np.stack([np.roll(s, k) for k in range(-MIN_APART, MIN_APART + 1)])
        peak = (s >= near.max(axis=0)) & (s >= STRENGTH) & (coherence >= COHERENCE)
        peak &= ~np.stack([np.roll(s, k) == s for k in range(1, MIN_APART + 1)]).any(axis=0)  # one of a plateau
        edges = []  # (position on the contour, at, into) of each edge that crosses the outline
        for i in np.flatnonzero(peak):
            x, y = int(xs[i]), int(ys[i])
            along = np.array([-np.sin(theta[i]), np.cos(theta[i])], np.float32)
            normal = inward[y, x]
            if np.hypot(*normal) < 1e-6:
                continue
            cos = float(along @ normal) / float(np.hypot(*normal))
            if abs(cos) >= CROSSING:
                edges.append((int(i), np.array([x, y], np.float32), along if cos > 0 else -along))
        read = []
        for at, into, half_width, place in _lines(edges, len(xs)):
            crossing = _read_profile(fill, hole, at, into, half_width)
            if crossing is not None:
                read.append((place, crossing))
        _mark_beside(read, len(xs))
        found.extend(c for _, c in read)
    return found


def _left(v: np.ndarray) -> np.ndarray:
    """The unit vector 90 degrees from `v` (x, y), to its left as the profiles read."""
    return np.array([-v[1], v[0]], np.float32)


def _lines(edges: list[tuple[int, np.ndarray, np.ndarray]], length: int
           ) -> list[tuple[np.ndarray, np.ndarray, float, int]]:
    """Neighbouring edges on the outline that run side by side (a cable's two sides) within
    LINE_WIDTH px as one line between them, with a profile wide enough for both; the other
    edges alone; each with its place on the outline. Drawn as two edges, a thick cable's
    profiles held its dark inside at the band's sides, which the network had faded: no test
    of the band's sides could tell that from another object crossing."""
    out, used = [], set()
    for k, (i, at, into) in enumerate(edges):
        if k in used:
            continue
        if k + 1 < len(edges) and k + 1 not in used and _side_by_side(edges[k], edges[k + 1], length, LINE_WIDTH):
            at2, into2 = edges[k + 1][1:]
            direction = into + into2
            out.append(((at + at2) / 2, direction / np.hypot(*direction), _apart(at, at2, into) / 2 + HALF_WIDTH, i))
            used.update((k, k + 1))
            continue
        out.append((at, into, float(HALF_WIDTH), i))
    return out


def _side_by_side(a: tuple[int, np.ndarray, np.ndarray], b: tuple[int, np.ndarray, np.ndarray], length: int,
                  width: float) -> bool:
    """Whether two edges (place on the outline, at, into) run side by side within `width` px,
    next to each other on an outline of `length` px."""
    (i, at, into), (j, at2, into2) = a, b
    apart = _apart(at, at2, into)
    return (float(into @ into2) >= PARALLEL and 2 <= apart <= width
            and min(abs(j - i), length - abs(j - i)) <= apart / CROSSING + 2)


def _apart(at: np.ndarray, at2: np.ndarray, into: np.ndarray) -> float:
    """How far apart (px) two edges running along `into` lie, across it."""
    return abs(float((at2 - at) @ _left(into)))


def _mark_beside(crossings: list[tuple[int, Crossing]], length: int) -> None:
    """Mark each edge (not line) that is one side of a band too wide to read as a line (a thick
    cable): another edge runs beside it within BAND_WIDTH, next on the outline, and what lies
    between the two is darker, or lighter, than both their other sides. Such an edge pairs
    only with another such (pair_strokes): joined to a lone edge, as where the outline met the
    band's other side too flatly to find it, half a brushed-over cable went on, with a step
    where it met the rest."""
    edges = [(i, c) for i, c in crossings if c.half_width == HALF_WIDTH]

    for k, (i, c) in enumerate(edges):
        for m in (k - 1, k + 1):
            if 0 <= m < len(edges):
                j, d = edges[m]
                if not _side_by_side((i, c.at, c.into), (j, d.at, d.into), length, BAND_WIDTH):
                    continue
                (between, out_c), (between_d, out_d) = _inside_of(c, d), _inside_of(d, c)
                middle = (between + between_d) / 2
                # a band: what lies between the two is darker, or lighter, than both sides
                if min(float((out_c - middle).mean()), float((out_d - middle).mean())) >= CONTRAST / 2 or \
                        max(float((out_c - middle).mean()), float((out_d - middle).mean())) <= -CONTRAST / 2:
                    c.beside = d


def _inside_of(c: Crossing, d: Crossing) -> tuple[np.ndarray, np.ndarray]:
    """`c`'s colour on the side towards the edge `d` beside it, and on the side away from it."""
    towards = float((d.at - c.at) @ _left(c.into)) > 0
    return (c.profile[-1], c.profile[0]) if towards else (c.profile[0], c.profile[-1])


def _read_profile(fill: np.ndarray, hole: np.ndarray, at: np.ndarray, into: np.ndarray,
                  half_width: float) -> Crossing | None:
    """The crossing at `at` with its profile read over BACK px further out, or None where the
    profile runs under the hole or out of the window, is too faint, or bends."""
    h, w = hole.shape
    across = _left(into)
    backs = np.linspace(*BACK, 5, dtype=np.float32)
    offsets = np.linspace(-half_width, half_width, PROFILE, dtype=np.float32)
    grid = at - backs[:, None, None] * into + offsets[None, :, None] * across
    gi = np.round(grid).astype(int)
    if gi.min() < 0 or (gi[..., 0] >= w).any() or (gi[..., 1] >= h).any() or hole[gi[..., 1], gi[..., 0]].any():
        return None
    samples = _sample(fill, grid)  # 5 stretches x offsets x C
    profile = samples.mean(axis=0)
    contrast = float(np.ptp(profile, axis=0).max())
    # straight on: the profile the same 6 px further along
    bends = max(float(np.abs(samples[k] - samples[k + 2]).mean()) for k in range(len(samples) - 2))
    if contrast < CONTRAST or bends > min(PROFILE_DIFF, PROFILE_SHARE * contrast):
        return None
    return Crossing(at, into, half_width, profile)


def _sample(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of `image` (H x W x C) at `pts` (..., 2) of (x, y)."""
    flat = pts.reshape(-1, 1, 2).astype(np.float32)
    out = cv2.remap(image, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(pts.shape[:-1] + (image.shape[2],))


def stroke(a: Crossing, b: Crossing) -> Stroke:
    """The curve from `a` to `b` (cubic Hermite, leaving `a` along its edge and arriving at `b`
    against its), with the profile across it blended from `a`'s to `b`'s (mirrored), its
    width too."""
    length = float(np.hypot(*(b.at - a.at)))
    t = np.linspace(0, 1, int(2 * length) + 2, dtype=np.float32)[:, None]
    ta, tb = length * a.into, -length * b.into
    point = (2 * t**3 - 3 * t**2 + 1) * a.at + (t**3 - 2 * t**2 + t) * ta + (3 * t**2 - 2 * t**3) * b.at + (t**3 - t**2) * tb
    slope = (6 * t**2 - 6 * t) * (a.at - b.at) + (3 * t**2 - 4 * t + 1) * ta + (3 * t**2 - 2 * t) * tb
    slope /= np.maximum(np.hypot(slope[:, :1], slope[:, 1:]), 1e-6)
    across = np.concatenate([-slope[:, 1:], slope[:, :1]], axis=1)
    half_width = (1 - t) * a.half_width + t * b.half_width  # N x 1
    u = np.linspace(-1, 1, 2 * int(np.ceil(2 * max(a.half_width, b.half_width))) + 1, dtype=np.float32)
    offset = u[None, :] * half_width  # half a pixel apart at most
    samples = np.linspace(-1, 1, PROFILE)
    pa = np.stack([np.interp(u, samples, a.profile[:, c]) for c in range(a.profile.shape[1])], axis=1)
    pb = np.stack([np.interp(u, samples, b.profile[::-1, c]) for c in range(b.profile.shape[1])], axis=1)
    return Stroke(point[:, None, :] + offset[:, :, None] * across[:, None, :], offset, half_width,
                  ((1 - t)[:, :, None] * pa + t[:, :, None] * pb).astype(np.float32))


def network_agrees(strokes: list[Stroke], coarse: np.ndarray, hole: np.ndarray, least: float = NETWORK_AGREES) -> bool:
    """Whether the network's fill `coarse`, across the curves inside the hole, deviates from its
    mean the way the drawn profiles do (correlation of at least `least` over all of them: a
    band's two sides are judged together, as one object)."""
    h, w = hole.shape
    drawn, net = [], []
    for s in strokes:
        xi, yi = np.round(s.where[..., 0]).astype(int), np.round(s.where[..., 1]).astype(int)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        inside[inside] = hole[yi[inside], xi[inside]]
        rows = inside.all(axis=1)  # the steps whose whole profile lies over the hole
        if rows.sum() < 3:
            return False
        drawn.append(s.colour[rows] - s.colour[rows].mean(axis=1, keepdims=True))
        seen = coarse[yi[rows], xi[rows]]
        net.append(seen - seen.mean(axis=1, keepdims=True))
    drawn, net = np.concatenate(drawn), np.concatenate(net)
    num = float((drawn * net).sum())
    den = float(np.sqrt((drawn**2).sum() * (net**2).sum()))
    return den > 0 and num / den >= least


def pair_strokes(crossings: list[Crossing], hole: np.ndarray, coarse: np.ndarray) -> list[Stroke]:
    """Crossings paired one to one where one continues the other across the hole (`_fits`: the
    same direction, profile and width; both one side of a band or neither; the network agreeing,
    no other edge across), the closest profiles first; their strokes. A band's two sides are one
    object, drawn both or neither and judged together: one side of a band pairs with one on the
    far side only together with their other sides (judged one pair at a time, the network's
    fill hinted at one side and not the other, and half a cable went on), and a lone edge that
    fits one side of a band pairs with it only together with the band's other side, run across
    the hole to where the outline hid it (_hidden_end). A band that goes on gets its middle
    drawn too (_middle)."""
    options = []
    for i, a in enumerate(crossings):
        for j in range(i + 1, len(crossings)):
            diff = _fits(a, crossings[j], hole)
            if diff is not None:
                options.append((diff, i, j))
    used: set[int] = set()
    strokes: list[Stroke] = []
    rays = [_ray(c.at, c.into, hole) for c in crossings]
    number = {id(c): k for k, c in enumerate(crossings)}

    def drawn(pairs: list[tuple[Crossing, Crossing]], ends: set[int]) -> list[Stroke] | None:
        made = [stroke(a, b) for a, b in pairs]
        others = [r for k, r in enumerate(rays) if k not in ends]
        if len(ends) == 4:  # a band seen at both ends: the network hints at one side and at both together
            agrees = network_agrees(made, coarse, hole, BAND_AGREES) and \
                any(network_agrees([m], coarse, hole) for m in made)
        else:
            agrees = network_agrees(made, coarse, hole)
        if agrees and not any(_crossed(m, others, hole.shape) for m in made):
            return made
        return None

    for _, i, j in sorted(options):
        a, b = crossings[i], crossings[j]
        if i in used or j in used:
            continue
        if a.beside is None and b.beside is None:
            pairs, ends = [(a, b)], {i, j}
        elif a.beside is not None and b.beside is not None:  # a band, both its sides seen at both ends
            k, m = number.get(id(a.beside)), number.get(id(b.beside))
            if k is None or m is None or {k, m} & used or _fits(a.beside, b.beside, hole) is None:
                continue
            pairs, ends = [(a, b), (a.beside, b.beside)], {i, j, k, m}
        else:  # a lone edge and one side of a band
            lone, side = (a, b) if a.beside is None else (b, a)
            other = number.get(id(side.beside))
            if other is None or other in used:
                continue
            hidden = _hidden_end(crossings[other], side, lone, hole)
            if hidden is None:
                continue
            pairs, ends = [(lone, side), (hidden, crossings[other])], {i, j, other}
        made = drawn(pairs, ends)
        if made is not None:
            used.update(ends)
            strokes.extend(made)
            if len(pairs) == 2:  # the band's middle, between its sides from one end to the other
                (a0, b0), (a1, b1) = pairs
                strokes.append(_middle((a0, a1), (b0, b1)))
    return strokes


def _middle(a: tuple[Crossing, Crossing], b: tuple[Crossing, Crossing]) -> Stroke:
    """The stroke over the middle of a band whose two sides go on across the hole, from between
    its sides' ends `a` to between `b`: the colour between the sides, flat, as wide as the band.
    Without it the band's middle was left to the network (a light patch inside a thick cable).
    Each end starts level with the side found further out: where the outline crosses the band
    at a slant, a middle started between the sides began inside the hole, and the line where
    it began was left across the cable."""
    def end(c: Crossing, d: Crossing) -> Crossing:
        into = (c.into + d.into) / np.hypot(*(c.into + d.into))
        at = (c.at + d.at) / 2
        at = at - (float(at @ into) - min(float(c.at @ into), float(d.at @ into))) * into
        inner = (_inside_of(c, d)[0] + _inside_of(d, c)[0]) / 2
        return Crossing(at, into, _apart(c.at, d.at, into) / 2, np.repeat(inner[None], PROFILE, axis=0))

    s = stroke(end(*a), end(*b))
    s.inner = True
    return s


def _fits(a: Crossing, b: Crossing, hole: np.ndarray) -> float | None:
    """How far apart the profiles of two crossings that could continue each other are (mean
    colour difference), or None where they cannot: directions within TURN of the chord between
    them, profiles alike (mirrored) and widths within WIDTH_DIFF, the chord over the hole."""
    chord = b.at - a.at
    length = float(np.hypot(*chord))
    if length < 2 * HALF_WIDTH:
        return None
    u = chord / length
    if a.into @ u < TURN or -(b.into @ u) < TURN or \
            abs(a.half_width - b.half_width) > WIDTH_DIFF * max(a.half_width, b.half_width):
        return None
    diff = float(np.abs(a.profile - b.profile[::-1]).mean())
    contrast = float(np.minimum(np.ptp(a.profile, axis=0), np.ptp(b.profile, axis=0)).max())
    if diff > min(PROFILE_DIFF, PROFILE_SHARE * contrast):
        return None
    line = np.round(a.at + np.linspace(0, 1, max(2, int(length)))[:, None] * chord).astype(int)
    return diff if hole[line[:, 1], line[:, 0]].mean() >= OVER_HOLE else None


def _hidden_end(c: Crossing, side: Crossing, lone: Crossing, hole: np.ndarray) -> Crossing | None:
    """Where the edge `c`, one side of a band whose other side `side` goes on as `lone` on the far
    side of the hole, comes out there: as far across from `lone` as `c` is from `side`, in
    `lone`'s direction (a band's sides run side by side), OUT px outside the hole; a crossing
    there with `c`'s profile mirrored, or None where that lies outside the window.

    Run on straight from `c` instead, the end missed a cable that bends over the hole by 6-8 px:
    a step in its edge where the curve met the real one; moved there but kept in `c`'s own
    direction, the curve bent into an S."""
    h, w = hole.shape
    width = float((c.at - side.at) @ _left(side.into))
    start = lone.at - width * _left(lone.into)  # `lone` points the other way, into the hole
    x, y = int(round(float(start[0]))), int(round(float(start[1])))
    if not (0 <= x < w and 0 <= y < h):
        return None
    # the hole's edge on that line: out of the hole from `start`, or into it
    edge = _ray(start, -lone.into, hole)[-1:] if hole[y, x] else _ray(start, lone.into, hole)[:1]
    if len(edge) == 0:
        return None
    at = edge[0] - (OUT + 1) * lone.into
    x, y = int(round(float(at[0]))), int(round(float(at[1])))
    if not (0 <= x < w and 0 <= y < h) or hole[y, x]:
        return None
    return Crossing(at.astype(np.float32), lone.into.copy(), c.half_width, c.profile[::-1].copy())


def _ray(at: np.ndarray, into: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The points (K x 2, 1 px apart) where a line from `at` along `into` (an edge run on
    straight) lies over the hole, from where it enters the hole to where it first leaves it."""
    h, w = hole.shape
    pts = at + np.arange(0, h + w, dtype=np.float32)[:, None] * into
    xi, yi = np.round(pts[:, 0]).astype(int), np.round(pts[:, 1]).astype(int)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    over = np.zeros(len(pts), bool)
    over[inside] = hole[yi[inside], xi[inside]]
    if not over.any():
        return pts[:0]
    start = int(np.argmax(over))
    stop = start + (int(np.argmin(over[start:])) if not over[start:].all() else len(over) - start)
    return pts[start:stop]


def _crossed(s: Stroke, rays: list[np.ndarray], shape: tuple[int, int]) -> bool:
    """Whether another edge that runs into the hole would cross the stroke's curve: then
    something else passes the edge inside the hole (a dark strip behind a post), and the
    colours beside the edge at its ends (the light wall) do not hold all along it."""
    h, w = shape
    curve = np.round(s.where[:, s.where.shape[1] // 2]).astype(int)
    on = (curve[:, 0] >= 0) & (curve[:, 0] < w) & (curve[:, 1] >= 0) & (curve[:, 1] < h)
    path = np.zeros(shape, np.uint8)
    path[curve[on, 1], curve[on, 0]] = 1
    path = cv2.dilate(path, np.ones((3, 3), np.uint8)) > 0  # a ray 1 px apart steps over no diagonal
    for ray in rays:
        xi, yi = np.round(ray[:, 0]).astype(int), np.round(ray[:, 1]).astype(int)
        if path[yi, xi].any():  # a ray's points lie in the window (_ray)
            return True
    return False


@dataclass
class Drawn:
    """Edges drawn across a hole (drawn_edges)."""

    colour: np.ndarray  # H x W x C
    share: np.ndarray  # H x W, 0-1: how much the colours count, inside the hole only
    inner: np.ndarray  # H x W bool: a band's middle, between the edges of its two sides


def drawn_edges(image: np.ndarray, hole: np.ndarray, coarse: np.ndarray) -> Drawn | None:
    """The edges and lines crossing the hole of `image`, drawn across it where the network's fill
    `coarse` hints at them, or None where there are none."""
    strokes = pair_strokes(find_crossings(image, hole), hole, coarse)
    if not strokes:
        return None
    h, w = hole.shape
    total = np.zeros(coarse.shape, np.float32)
    weight = np.zeros(hole.shape, np.float32)
    inner = np.zeros(hole.shape, bool)
    for s in strokes:
        # whole over the edge itself, fading out towards the band's sides: a band that ended
        # within a few px drew its own outline where the fill beside it differed (a light halo
        # the network left beside a dark edge became a thin line along it)
        fade = np.clip((s.half_width - np.abs(s.offset)) / (HALF_WIDTH - SHARP), 0, 1)
        xi, yi = np.round(s.where[..., 0]).astype(int), np.round(s.where[..., 1]).astype(int)
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        wgt = fade[ok]
        np.add.at(total, (yi[ok], xi[ok]), s.colour[ok] * wgt[:, None])
        np.add.at(weight, (yi[ok], xi[ok]), wgt)
        if s.inner:
            within = ok & (np.abs(s.offset) < s.half_width)  # weighted: its colour is drawn
            inner[yi[within], xi[within]] = True
    colour = total / np.maximum(weight, 1e-6)[:, :, None]
    # a pixel a band reaches is usually hit several times (steps of half a pixel)
    share = np.clip(weight / max(1e-6, float(np.median(weight[weight > 0]))), 0, 1)
    return Drawn(colour, cv2.GaussianBlur(share, (0, 0), 0.7) * hole, inner & hole)


def put_edges(filled: np.ndarray, edges: Drawn | None, hole: np.ndarray, sigma: float = 0.0) -> np.ndarray:
    """`filled` with the drawn edges' content above `sigma` (a Gaussian; all of it at 0) over
    their middle, its own finer detail kept. The change made there is carried smoothly into
    the rest of the hole (push-pull, none at the hole's edge), fading out REACH px from the
    band: replaced in the band only, the fill beside it (the network's haze of sky and hill, a
    light halo beside a dark edge) met the band at a line of its own."""
    if edges is None:
        return filled
    colour, share = edges.colour, edges.share
    filled = filled.astype(np.float32)
    if sigma > 0:
        def blur(x: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(x, (0, 0), sigma).reshape(x.shape)

        colour = blur(colour) + filled - blur(filled)
    middle = share >= 0.99
    seeds = middle & ~edges.inner  # a band's dark middle carried out would darken the fill beside it
    change = np.where(seeds[:, :, None], colour - filled, 0.0).astype(np.float32)
    change = spread(change, seeds | ~hole)
    change[edges.inner] = (colour - filled)[edges.inner]
    # ...over a few bands' widths: further on the fill is what the network made of it
    reach = cv2.distanceTransform((~middle).astype(np.uint8), cv2.DIST_L2, 5)
    change *= np.clip(1 - reach / REACH, 0, 1)[:, :, None]
    return np.where(hole[:, :, None], filled + change, filled)
