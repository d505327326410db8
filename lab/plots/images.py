"""Arrays → pictures for st.image: grayscale digits and signed weights, enlarged without blur."""
from __future__ import annotations

import numpy as np

# Blue for negative, white for zero, red for positive: the sign of a weight is what matters.
_NEGATIVE = np.array([33, 102, 172], np.float32)
_ZERO = np.array([247, 247, 247], np.float32)
_POSITIVE = np.array([178, 24, 43], np.float32)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling: the browser would smooth a small image into a blur."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def digit(pixels: np.ndarray, factor: int = 4) -> np.ndarray:
    """(784,) or (H,W) ink in [0,1] or uint8 → (H·f, W·f) uint8, white ink on black like the canvas."""
    a = np.asarray(pixels)
    if a.ndim == 1:
        a = a.reshape(28, 28)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    return enlarge(a, factor)


def signed(weights: np.ndarray, factor: int = 4, scale: float | None = None) -> np.ndarray:
    """(784,) or (H,W) weights → (H·f, W·f, 3) uint8, blue < 0 < red, |w| = scale is full colour."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim == 1:
        w = w.reshape(28, 28)
    scale = float(np.abs(w).max()) if scale is None else scale
    t = np.clip(w / scale, -1, 1)[..., None] if scale > 0 else np.zeros(w.shape + (1,), np.float32)
    rgb = np.where(t >= 0, _ZERO + t * (_POSITIVE - _ZERO), _ZERO - t * (_NEGATIVE - _ZERO))
    return enlarge(rgb.round().astype(np.uint8), factor)


def tile(images: np.ndarray, columns: int, gap: float = np.nan) -> np.ndarray:
    """(n,H,W) → one (rows·(H+1)−1, columns·(W+1)−1) mosaic, tiles separated by `gap` values."""
    n, height, width = images.shape
    rows = -(-n // columns)
    out = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), gap, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (height + 1):r * (height + 1) + height, c * (width + 1):c * (width + 1) + width] = images[i]
    return out
