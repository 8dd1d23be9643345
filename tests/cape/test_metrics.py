"""`cape.pdebench_metrics` against an independent NumPy transcription of PDEBench's
`metric_func` definitions (research notes, section 4.5), in PDEBench's own layout."""

import jax
import numpy as np
import pytest

from jaxlab import cape


def pdebench_reference(pred, target, initial_step, length=1.0, low=4, high=12):
    """The definitions of PDEBench's `metric_func` for 1-D data: arrays `(b, x, t, c)`
    (PDEBench's layout), the first `initial_step` frames sliced off, then errors per
    (sample, channel, frame) and means over what is left."""
    pred = np.transpose(pred[:, :, initial_step:], (0, 3, 1, 2)).astype(np.float64)
    target = np.transpose(target[:, :, initial_step:], (0, 3, 1, 2)).astype(np.float64)
    nx = pred.shape[2]  # (b, c, x, t) from here on
    diff = pred - target
    err = np.sqrt(np.mean(diff**2, axis=2))  # (b, c, t)
    norm = np.sqrt(np.mean(target**2, axis=2))
    conserved = np.sqrt(np.mean((pred.sum(2) - target.sum(2)) ** 2, axis=0)) / nx  # (c, t)
    worst = np.abs(diff).max(axis=2).max(axis=0)  # (c, t)
    boundary = np.mean(np.sqrt((diff[:, :, 0] ** 2 + diff[:, :, -1] ** 2) / 2), axis=0)
    spectrum = np.abs(np.fft.rfft(pred, axis=2) - np.fft.rfft(target, axis=2))
    spectrum = np.sqrt(np.mean(spectrum**2, axis=0)) * length / nx  # (c, k, t)
    bands = [spectrum[:, :low], spectrum[:, low:high], spectrum[:, high:]]
    return {
        "rmse": err.mean(),
        "nrmse": (err / norm).mean(),
        "crmse": conserved.mean(),
        "max_error": worst.mean(),
        "brmse": boundary.mean(),
        "frmse_low": np.mean([band.mean(axis=1) for band in bands[:1]]),
        "frmse_mid": np.mean([band.mean(axis=1) for band in bands[1:2]]),
        "frmse_high": np.mean([band.mean(axis=1) for band in bands[2:]]),
    }


@pytest.mark.parametrize("channels", [1, 3])
def test_metrics_equal_pdebench_definitions_on_targets_of_different_norms(channels):
    """Samples whose targets differ in scale by 10^4: a normalization by the batch's or
    the channel's norm instead of each (sample, channel, frame)'s would miss by orders."""
    rng = np.random.default_rng(0)
    b, t, x = 5, 9, 48
    scales = 10.0 ** np.array([-2.0, -1.0, 0.0, 1.0, 2.0])[:, None, None, None]
    target = (rng.normal(size=(b, t, channels, x)) + 0.5) * scales
    pred = target + 0.05 * rng.normal(size=target.shape) * np.sqrt(scales)
    ours = cape.pdebench_metrics(
        np.float32(pred if channels > 1 else pred[:, :, 0]),
        np.float32(target if channels > 1 else target[:, :, 0]),
        initial_step=2,
        length=2.0,
    )
    layout = (0, 3, 1, 2)  # (b, t, c, x) -> PDEBench's (b, x, t, c)
    reference = pdebench_reference(
        np.transpose(pred, layout), np.transpose(target, layout), initial_step=2, length=2.0
    )
    assert set(ours) == set(reference)
    for name, value in reference.items():
        np.testing.assert_allclose(float(ours[name]), value, rtol=2e-4, err_msg=name)
    # The per-sample normalization matters here: the batch-normalized value is far off.
    batch_normalized = reference["rmse"] / np.sqrt(np.mean(target[:, 2:] ** 2))
    assert abs(float(ours["nrmse"]) / batch_normalized - 1) > 1


def test_nrmse_per_step_is_the_unsliced_per_frame_nrmse():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(3, 6, 32)) * np.array([0.1, 1.0, 10.0])[:, None, None]
    pred = target + 0.01 * rng.normal(size=target.shape)
    per_step = np.asarray(jax.jit(cape.nrmse_per_step)(np.float32(pred), np.float32(target)))
    expected = np.sqrt(np.mean((pred - target) ** 2, -1)) / np.sqrt(np.mean(target**2, -1))
    np.testing.assert_allclose(per_step, expected, rtol=1e-4)
    whole = cape.pdebench_metrics(np.float32(pred), np.float32(target), include_initial=True)
    np.testing.assert_allclose(float(whole["nrmse"]), expected.mean(), rtol=1e-4)
