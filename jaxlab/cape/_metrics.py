r"""PDEBench's error metrics for predicted trajectories.

Predictions $p$ and targets $y$ have shape `[B, T, X]` or `[B, T, C, X]` (batch, time,
channels, space). Unless `include_initial`, the first `initial_step` frames (given to
the model, not predicted) are dropped first: PDEBench's current convention (its issue
#41); CAPE's own metric keeps them, which lowers nRMSE by about $s/T$.

With $e_{b,c,t} = \sqrt{\operatorname{mean}_x (p - y)^2}$:

- RMSE: $\operatorname{mean}_{b,c,t} e_{b,c,t}$;
- nRMSE: $\operatorname{mean}_{b,c,t} e_{b,c,t} / \sqrt{\operatorname{mean}_x y^2}$;
- cRMSE (conserved quantity): $\operatorname{mean}_{c,t}
  \sqrt{\operatorname{mean}_b (\sum_x p - \sum_x y)^2}/N_x$;
- max error: $\operatorname{mean}_{c,t} \max_{b,x} |p - y|$;
- bRMSE (boundary): $\operatorname{mean}_{c,t}\operatorname{mean}_b
  \sqrt{((p - y)^2|_{x_0} + (p - y)^2|_{x_{N-1}})/2}$;
- fRMSE in a band $[k_0, k_1)$: $\operatorname{mean}_{c,t}$ of the band's mean over
  wavenumbers $k$ of $\sqrt{\operatorname{mean}_b |\widehat{p - y}_k|^2}\,L_x/N_x$
  (`rfft` over $x$); bands low $[0, 4)$, mid $[4, 12)$, high $[12, N_x/2]$.
"""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._experiment import require


def _prepare(pred, true, initial_step, include_initial):
    require(pred.shape == true.shape, "pred", f"the shape of true {true.shape}", pred.shape)
    require(pred.ndim in (3, 4), "pred", "an array [B, T, X] or [B, T, C, X]", pred.shape)
    require(
        isinstance(initial_step, int) and 0 <= initial_step < pred.shape[1],
        "initial_step",
        f"an integer in [0, T={pred.shape[1]})",
        initial_step,
    )
    if pred.ndim == 3:
        pred, true = pred[:, :, None], true[:, :, None]
    if not include_initial:
        pred, true = pred[:, initial_step:], true[:, initial_step:]
    return pred, true


def nrmse_per_step(
    pred: Float[ArrayLike, "b t *x"], true: Float[ArrayLike, "b t *x"]
) -> Float[Array, "b t"]:
    """$e_{b,t}/\\sqrt{\\operatorname{mean}_x y^2}$ for each sample and frame (mean over
    channels), with no frame dropped."""
    if pred.ndim == 3:
        pred, true = pred[:, :, None], true[:, :, None]
    err = jnp.sqrt(jnp.mean((pred - true) ** 2, axis=-1))
    norm = jnp.sqrt(jnp.mean(true**2, axis=-1))
    return jnp.mean(err / norm, axis=-1)


def pdebench_metrics(
    pred: Float[ArrayLike, "b t *x"],
    true: Float[ArrayLike, "b t *x"],
    *,
    initial_step: int = 1,
    include_initial: bool = False,
    length: float = 1.0,
    bands: tuple[int, int] = (4, 12),
) -> dict[str, Float[Array, ""]]:
    """PDEBench's metrics (module docs): `rmse`, `nrmse`, `crmse`, `max_error`,
    `brmse`, `frmse_low`, `frmse_mid`, `frmse_high`.

    **Arguments:** `pred`, `true` of shape `[B, T, X]` or `[B, T, C, X]`;
    `initial_step` given frames, dropped unless `include_initial`; the domain `length`
    $L_x$ and the band edges for fRMSE.
    """
    pred, true = _prepare(jnp.asarray(pred), jnp.asarray(true), initial_step, include_initial)
    nx = pred.shape[-1]
    diff = pred - true
    err = jnp.sqrt(jnp.mean(diff**2, axis=-1))
    norm = jnp.sqrt(jnp.mean(true**2, axis=-1))
    conserved = jnp.sqrt(jnp.mean((jnp.sum(pred, -1) - jnp.sum(true, -1)) ** 2, axis=0)) / nx
    boundary = jnp.sqrt((diff[..., 0] ** 2 + diff[..., -1] ** 2) / 2)
    spectrum = jnp.sqrt(jnp.mean(jnp.abs(jnp.fft.rfft(diff, axis=-1)) ** 2, axis=0)) * length / nx
    low, mid = bands
    return {
        "rmse": jnp.mean(err),
        "nrmse": jnp.mean(err / norm),
        "crmse": jnp.mean(conserved),
        "max_error": jnp.mean(jnp.max(jnp.abs(diff), axis=(0, -1))),
        "brmse": jnp.mean(boundary),
        "frmse_low": jnp.mean(spectrum[..., :low]),
        "frmse_mid": jnp.mean(spectrum[..., low:mid]),
        "frmse_high": jnp.mean(spectrum[..., mid:]),
    }
