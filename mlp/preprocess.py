"""Canvas drawing → MNIST-like 28×28 input, following the MNIST recipe.

MNIST digits were made by (1) cropping the ink, (2) scaling the longer side
to 20 px keeping the aspect ratio, with anti-aliasing, and (3) placing that
in a 28×28 field so the centre of mass sits at the centre.  A drawing that
skips any step looks unlike anything the network saw, so `to_mnist` does the
same.  One step is added between (1) and (2): the stroke is thickened or
thinned to MNIST's typical width.  A 12–24 px brush on a 280 px canvas ends
up 1.2–3.4 px wide after scaling, mostly thinner than MNIST's ≈2.3 px, and
thin strokes cost accuracy (see bench/drawn_digits.py and the numbers at
STROKE_WIDTH).  `stages` returns every step so the app can show them.

Inputs accepted (anything else raises ValueError):
- (H,W,4) RGBA uint8 from st_canvas: bright ink on an opaque dark background.
  The ink is max(R,G,B) composited over black by alpha, so a coloured pen
  still counts as ink.  If that leaves nothing but alpha does vary (a
  transparent canvas drawn with a dark pen), the alpha channel is the ink.
- (H,W,3) RGB, treated as opaque RGBA; (H,W,1) as grayscale.
- (H,W) grayscale, bright ink on dark.  Images are never inverted
  automatically: a scribble covering the canvas would then be "inverted" too.
- uint8/integers are on the 0..255 scale, bool is 0/1, floats are on the
  0..1 scale unless some value exceeds 1, in which case 0..255 is assumed.
- Any size from 1×1 up to MAX_PIXELS, square or not.  Tiny ink (a single
  dot) is enlarged to the 20-px box like any digit, as MNIST would, and a
  scribble over the whole canvas becomes a filled box: valid input, odd answer.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

SIZE = 28                # MNIST field
BOX = 20                 # the digit's longer side inside the field
CENTRE = 14.0            # MNIST centres of mass cluster at (14, 14) in 0-based pixel coordinates
INK_THRESHOLD = 0.1      # a pixel brighter than this is ink; below is background/noise
MAX_PIXELS = 4096 * 4096  # refuse images that would take seconds and hundreds of MB

# Stroke width to normalise to, in pixels of the 20-px box: the median width of MNIST
# test digits, so a drawing's stroke looks like MNIST's; wider read drawings better but
# MNIST-like input worse (docs/constants.md).  None = no width step.
STROKE_WIDTH: float | None = 2.3
WORK_SIZE = 80           # the width change is done at this resolution (4× the box): fast at any input size
MAX_RADIUS = 6           # work pixels; only scribbles covering the canvas would ask for more erosion


class Stages(NamedTuple):
    """The pipeline made visible; every array is float32 in [0,1]."""
    gray: np.ndarray        # (H,W) the drawing as ink intensity
    cropped: np.ndarray     # (h,w) the bounding box of the ink
    restroked: np.ndarray   # (~80,≤~80) cropped at working resolution, stroke width made MNIST-like
    scaled20: np.ndarray    # (≤20,≤20) longer side 20, area-averaged
    centred28: np.ndarray   # (28,28) centre of mass moved to the centre


def to_mnist(image, stroke_width: float | None = STROKE_WIDTH) -> np.ndarray | None:
    """(784,) float32 in [0,1] like an MNIST row / 255, or None if nothing is drawn."""
    s = stages(image, stroke_width)
    return None if s is None else s.centred28.reshape(-1)


def stages(image, stroke_width: float | None = STROKE_WIDTH) -> Stages | None:
    """Every step of `to_mnist`, or None for a blank image (no pixel above INK_THRESHOLD)."""
    gray = to_gray(image)
    cropped = crop_to_ink(gray)
    if cropped is None:
        return None
    restroked = restroke(cropped, stroke_width)
    scaled = scale_longer_side(restroked, BOX)
    return Stages(gray, cropped, restroked, scaled, centre_of_mass_to_centre(scaled))


def to_gray(image) -> np.ndarray:
    """Any accepted image → (H,W) float32 ink intensity in [0,1] (see module docstring)."""
    a = np.asarray(image)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) \
            or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"image must be a numeric array, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(f"image must be (H,W) grayscale or (H,W,3|4) RGB(A), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"image has no pixels: shape {a.shape}")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ValueError(f"image {a.shape[0]}×{a.shape[1]} is too large (limit {MAX_PIXELS} pixels)")
    full = _full_scale(a)
    if a.dtype == bool:
        a = a.view(np.uint8)
    if a.ndim == 2:
        return _unit(a, full)
    # Channel maths in the input dtype: converting all four channels to float first costs 3 ms.
    ink = _unit(np.maximum(np.maximum(a[:, :, 0], a[:, :, 1]), a[:, :, 2]), full)
    if a.shape[2] == 4:
        alpha = a[:, :, 3]
        if alpha.min() < full:
            alpha = _unit(alpha, full)
            ink *= alpha
            if not (ink > INK_THRESHOLD).any() and alpha.min() < alpha.max():
                ink = alpha   # dark pen on a transparent canvas: only alpha shows the strokes
    return ink


def _full_scale(a: np.ndarray) -> float:
    """The value that means full ink: 255 for integers and for floats above 1, else 1."""
    if a.dtype == bool:
        return 1.0
    if np.issubdtype(a.dtype, np.integer):
        if a.dtype != np.uint8 and (a.min() < 0 or a.max() > 255):
            raise ValueError(f"integer image values must be in 0..255, got {a.min()}..{a.max()}")
        return 255.0
    if not np.isfinite(a).all():
        raise ValueError("image contains NaN or infinite values")
    return 255.0 if a.max() > 1 else 1.0


def _unit(channel: np.ndarray, full: float) -> np.ndarray:
    out = channel.astype(np.float32)
    out *= np.float32(1 / full)
    if np.issubdtype(channel.dtype, np.floating):
        np.clip(out, 0, 1, out=out)
    return out


def crop_to_ink(gray: np.ndarray) -> np.ndarray | None:
    """The bounding box of the pixels above INK_THRESHOLD, or None if there are none."""
    ink = gray > INK_THRESHOLD
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    return gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def estimate_stroke_width(img: np.ndarray) -> float:
    """Typical stroke width in pixels: 2 × area / perimeter.

    A stroke of length L and width w has area ≈ wL and perimeter ≈ 2L.  The
    area is the summed ink and the perimeter the summed gradient magnitude
    (exact for anti-aliased edges, whatever their direction).  On the drawn
    test set it tracks the brush width with correlation 0.99.
    """
    g = np.pad(img, 1)
    gy, gx = np.gradient(g)
    return float(2 * g.sum() / max(float(np.hypot(gx, gy).sum()), 1e-6))


def restroke(cropped: np.ndarray, target: float | None = STROKE_WIDTH) -> np.ndarray:
    """Thicken or thin the strokes so that, once the longer side is BOX px, they are `target` px wide.

    Works at WORK_SIZE resolution (grayscale dilation or erosion, blending two
    whole-pixel radii for the fraction), then crops to the new ink.
    Erosion never takes more than half the width and never removes all ink.
    With target None only the working-resolution copy is returned.
    """
    h, w = cropped.shape
    longer = max(h, w)
    scale = min(1.0, WORK_SIZE / longer)
    work = scale_longer_side(cropped, round(longer * scale)) if scale < 1 else cropped.astype(np.float32)
    peak = float(work.max())
    if peak > 0:
        work = work / peak  # hairlines in a big image fade when shrunk; ink should stay ink
    if target is None:
        return work
    width = estimate_stroke_width(cropped)
    # The box grows with the stroke, so solve target = new_width · BOX / (longer + new_width - width).
    new_width = target * (longer - width) / (BOX - target)
    radius = max((new_width - width) / 2, -width / 4) * scale
    radius = float(np.clip(radius, -MAX_RADIUS, MAX_RADIUS))
    work = np.pad(work, int(abs(radius)) + 2)
    out = _morph(work, radius)
    if radius < 0:
        # A typeface's hairlines (the top and bottom of a bold serif 0) are thinner than its stems, and
        # eroding the stems to the target would erase them, leaving "| |", read as a 4. So every stroke
        # also keeps its centre line drawn with the target pen, never wider than the ink it came from.
        pen = _morph(_skeleton(work > .5), new_width * scale / 2)
        out = np.maximum(out, np.minimum(work, pen))
    return crop_to_ink(out) if (out > INK_THRESHOLD).any() else crop_to_ink(work)


def _morph(img: np.ndarray, radius: float) -> np.ndarray:
    """Grayscale dilation (radius > 0) or erosion (< 0) by |radius| pixels, blending two whole-pixel radii
    for the fraction; `img` must have |radius| + 1 pixels of background around the ink."""
    whole, fraction = int(abs(radius)), abs(radius) % 1
    op = np.maximum if radius > 0 else np.minimum
    out = img
    for step in range(whole):
        out = _grow(out, op, square=step % 2 == 1)
    if fraction > 0:
        out = (1 - fraction) * out + fraction * _grow(out, op, square=whole % 2 == 1)
    return out


def _skeleton(mask: np.ndarray) -> np.ndarray:
    """The morphological skeleton (Lantuéjoul) of a boolean mask, as float32 0/1: what each erosion
    leaves that an opening of it would not, i.e. the centre lines of every stroke, thin or thick."""
    skeleton = np.zeros(mask.shape, bool)
    eroded = mask
    while eroded.any():
        shrunk = _grow(eroded, np.minimum, square=False)
        skeleton |= eroded & ~_grow(shrunk, np.maximum, square=False)
        eroded = shrunk
    return skeleton.astype(np.float32)


def _grow(img: np.ndarray, op, square: bool) -> np.ndarray:
    """One step of grayscale dilation (op=np.maximum) or erosion (np.minimum); outside counts as 0.

    Alternating the 4-neighbour cross and the 3×3 square grows an octagon,
    close to the round pen, at a few array operations per pixel of radius.
    """
    p = np.pad(img, 1)
    if square:
        rows = op(op(p[:, :-2], p[:, 1:-1]), p[:, 2:])
        return op(op(rows[:-2], rows[1:-1]), rows[2:])
    centre = p[1:-1, 1:-1]
    return op(op(op(op(centre, p[:-2, 1:-1]), p[2:, 1:-1]), p[1:-1, :-2]), p[1:-1, 2:])


def scale_longer_side(img: np.ndarray, target: int) -> np.ndarray:
    """Resize so the longer side is `target`, keeping the aspect ratio (shorter side ≥ 1 px)."""
    h, w = img.shape
    factor = target / max(h, w)
    out_h, out_w = max(1, round(h * factor)), max(1, round(w * factor))
    return (_area_matrix(h, out_h) @ img @ _area_matrix(w, out_w).T).astype(np.float32)


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: output pixel j averages the input it covers, by overlap length.

    This is the box filter ("area averaging"): when shrinking it is the
    anti-aliasing MNIST used; when enlarging (a tiny dot) it degrades
    gracefully to nearest-neighbour with blended edges.
    """
    edges_out = np.arange(n_out + 1) * (n_in / n_out)   # output pixel edges in input units
    lo, hi = edges_out[:-1, None], edges_out[1:, None]
    pixel = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, pixel + 1) - np.maximum(lo, pixel), 0, None)
    return (overlap / (hi - lo)).astype(np.float32)


def centre_of_mass_to_centre(patch: np.ndarray) -> np.ndarray:
    """Place `patch` in a 28×28 field with its centre of mass at (14, 14), shifted by whole pixels.

    Like MNIST the shift is rounded, so no resampling blurs the digit.
    Unlike a blind shift, the patch is kept whole: when the centre of mass is
    far off (a 7 with a long bar) it stops at the border instead of losing ink.
    """
    h, w = patch.shape
    mass = float(patch.sum())
    cy = float(patch.sum(axis=1) @ np.arange(h)) / mass
    cx = float(patch.sum(axis=0) @ np.arange(w)) / mass
    top = int(np.clip(round(CENTRE - cy), 0, SIZE - h))
    left = int(np.clip(round(CENTRE - cx), 0, SIZE - w))
    field = np.zeros((SIZE, SIZE), np.float32)
    field[top:top + h, left:left + w] = patch
    return np.clip(field, 0, 1)
