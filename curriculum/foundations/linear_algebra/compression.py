"""Image compression with a truncated SVD, and the numbers that judge it.

A = U S V^T writes the image as a sum of rank-one layers s_i u_i v_i^T, strongest first.
Keeping k layers gives the best rank-k approximation in the Frobenius norm (Eckart-Young):
||A - A_k||_F^2 = sum of the dropped s_i^2. Storing A_k takes k (m + n + 1) numbers instead
of m n pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


def camera() -> np.ndarray:
    """scikit-image's 512x512 "cameraman" photo (shipped inside the wheel), float64 0..255."""
    from skimage import data

    return data.camera().astype(np.float64)


@dataclass(frozen=True)
class Factors:
    u: np.ndarray  # m x k, orthonormal columns
    s: np.ndarray  # k singular values, descending
    vt: np.ndarray  # k x n, orthonormal rows

    def rank(self, k: int) -> np.ndarray:
        """The rank-k image: the first k layers summed."""
        return (self.u[:, :k] * self.s[:k]) @ self.vt[:k]


def svd_factors(image: np.ndarray) -> Factors:
    u, s, vt = np.linalg.svd(image, full_matrices=False)
    return Factors(u, s, vt)


def energy_retained(s: np.ndarray, k: int) -> float:
    """Share of sum(s^2) (= ||A||_F^2) kept by the first k singular values."""
    return float(np.sum(s[:k] ** 2) / np.sum(s**2))


def psnr(original: np.ndarray, approximation: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of the displayable (clipped to 0..peak) image."""
    error = np.mean((original - np.clip(approximation, 0, peak)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(peak**2 / error))


def svd_bytes(shape: tuple[int, int], k: int, bytes_per_number: int = 2) -> int:
    """Storage of the rank-k factors as float16: k (m + n + 1) numbers."""
    m, n = shape
    return k * (m + n + 1) * bytes_per_number


def jpeg(image: np.ndarray, quality: int) -> tuple[np.ndarray, int]:
    """The image through Pillow's JPEG encoder at ``quality``: (decoded pixels, bytes)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    size = buffer.tell()
    buffer.seek(0)
    return np.asarray(Image.open(buffer), dtype=np.float64), size
