"""SVD compression helpers, the power method with deflation, and the lesson."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.foundations.linear_algebra import compression as svd
from curriculum.foundations.linear_algebra.power_method import power_svd, predicted_steps


def matrix_with_spectrum(s: np.ndarray, m: int = 40, n: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q1, _ = np.linalg.qr(rng.standard_normal((m, len(s))))
    q2, _ = np.linalg.qr(rng.standard_normal((n, len(s))))
    return (q1 * s) @ q2.T


def test_power_method_recovers_a_known_spectrum():
    s = np.array([10.0, 7.0, 5.0, 3.0, 2.0, 1.0])
    result = power_svd(matrix_with_spectrum(s), k=4)
    assert np.allclose(result.s, s[:4], rtol=1e-9)
    assert np.allclose(result.u.T @ result.u, np.eye(4), atol=1e-8)  # orthonormal columns
    assert np.allclose(result.vt @ result.vt.T, np.eye(4), atol=1e-8)


def test_power_method_matches_lapack_on_a_random_matrix():
    a = np.random.default_rng(1).standard_normal((50, 35))
    expected = np.linalg.svd(a, compute_uv=False)[:5]
    assert np.allclose(power_svd(a, k=5).s, expected, rtol=1e-7)


def test_close_singular_values_need_more_steps():
    s = np.array([10.0, 5.0, 4.9, 1.0])
    steps = power_svd(matrix_with_spectrum(s), k=3).iterations
    assert steps[1] > 10 * steps[0]  # s2/s1 = 0.5 is fast, s3/s2 = 0.98 is slow
    assert predicted_steps(s)[1] > 10 * predicted_steps(s)[0]


def test_rank_k_error_is_the_dropped_energy():
    a = np.random.default_rng(2).standard_normal((20, 15))
    factors = svd.svd_factors(a)
    for k in (1, 5, 15):
        error = np.sum((a - factors.rank(k)) ** 2)
        assert error == pytest.approx(np.sum(factors.s[k:] ** 2), abs=1e-9)
    assert svd.energy_retained(factors.s, 15) == pytest.approx(1.0)


def test_psnr_and_sizes():
    image = np.full((4, 4), 100.0)
    assert svd.psnr(image, image) == float("inf")
    assert svd.psnr(image, image + 255.0 / 10) == pytest.approx(20.0)  # MSE = peak^2 / 100
    assert svd.psnr(image, image + 1000) == svd.psnr(image, np.full((4, 4), 255.0))  # clipped
    assert svd.svd_bytes((512, 512), 10) == 10 * 1025 * 2


def test_camera_is_the_packaged_photo():
    image = svd.camera()
    assert image.shape == (512, 512) and image.min() >= 0 and image.max() <= 255


def test_lesson_writes_report_and_figures(tmp_path):
    result = CliRunner().invoke(app, ["linear_algebra", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["power_method"]["max_relative_error"] < 1e-8
    assert results["eckart_young_error"] < 1e-10
    assert results["jpeg_vs_svd_size_ratio"] > 1
    for name in ("ranks_side_by_side", "rank_curves", "svd_vs_jpeg", "power_method"):
        assert (tmp_path / f"{name}.png").exists()
