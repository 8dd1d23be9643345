r"""Autoregressive rollouts, the curriculum from teacher forcing to autoregression, and
CAPE's training loss.

**Curriculum** (CAPE's tanh schedule, with training steps in place of epochs). At step
$s$ of $S$, after $W$ warm-up steps, with a horizon of $T$ frames,

$$\bar s = \frac{s - W}{S - W},\qquad
  \tau = \tfrac12\Big(1 + \tanh\frac{\bar s - 1/2}{0.2}\Big),\qquad
  t_\mathrm{ar} = \operatorname{clip}(\lfloor T\tau\rfloor, 1, T).$$

Predicting frame $t = 1, \dots, T-1$, the model's input for frame $t + 1$ is its own
prediction if $t < t_\mathrm{ar}$ (autoregressive), else the true frame $u_t$ (teacher
forcing): the FIRST $t_\mathrm{ar} - 1$ inputs are the model's own. The schedule travels in
the batch as a boolean mask (see [`curriculum_mask`][jaxlab.cape.curriculum_mask]), so
changing the schedule or the step count never recompiles. Gradients flow through the
whole unrolled chain.

**Loss** per trajectory: $\sum_t \|\hat u_t - u_t\|_2/\|u_t\|_2$ (relative L2 per step,
summed over steps) plus `aux_weight` times the same sum for CAPE's guess $\hat u$; during
CAPE's warm-up the guess loss alone (which trains only the CAPE block). Gaussian noise
of scale `input_noise` is added to every input during training. CAPE's running sum of
auxiliary losses (early steps counted repeatedly) and its gradient penalty are not
reproduced.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray

from .._experiment import require
from .._train import StepSampler


def curriculum_horizon(
    step: Int[ArrayLike, ""] | int, total_steps: int, warmup_steps: int, horizon: int
) -> Int[Array, ""]:
    """$t_\\mathrm{ar}$ at training step `step` (module docs)."""
    require(
        isinstance(total_steps, int) and total_steps > warmup_steps >= 0,
        "steps",
        f"an integer > warmup_steps={warmup_steps}",
        total_steps,
    )
    progress = (jnp.asarray(step, jnp.float32) - warmup_steps) / (total_steps - warmup_steps)
    tau = 0.5 * (1 + jnp.tanh((progress - 0.5) / 0.2))
    return jnp.clip(jnp.floor(horizon * tau), 1, horizon).astype(jnp.int32)


def curriculum_mask(
    step: Int[ArrayLike, ""] | int,
    total_steps: int,
    warmup_steps: int,
    frames: int,
    *,
    curriculum: bool = True,
) -> Bool[Array, " frames_minus_1"]:
    """Entry $t - 1$ is True when the input after predicting frame $t$ is the model's
    own prediction ($t < t_\\mathrm{ar}$). `curriculum=False` gives the fully
    autoregressive mask at every step."""
    t = jnp.arange(1, frames)
    if not curriculum:
        return jnp.ones(frames - 1, bool)
    return t < curriculum_horizon(step, total_steps, warmup_steps, frames)


def curriculum_sampler(sample, total_steps: int, warmup_steps: int, frames: int):
    """A [`StepSampler`][jaxlab.StepSampler] adding the curriculum to a batch sampler
    `sample(key) -> {"u", "params"}` (such as [`jaxlab.sampler`][jaxlab.sampler] of them):
    each batch also holds `"ar"`, [`curriculum_mask`][jaxlab.cape.curriculum_mask] at the
    training step, and `"step"`, as [`rollout_loss`][jaxlab.cape.rollout_loss] reads them."""

    def with_mask(key, step):
        batch = sample(key)
        got = batch["u"].shape[1]
        require(got == frames, "frames", f"the data's {got} frames per trajectory", frames)
        mask = curriculum_mask(step, total_steps, warmup_steps, frames)
        return {**batch, "ar": mask, "step": step}

    return StepSampler(with_mask)


def rollout(
    model, u0: Float[ArrayLike, "c n"], params: Float[ArrayLike, " p"], steps: int
) -> Float[Array, "steps c n"]:
    """`steps` autoregressive steps of a surrogate from `u0` (a `lax.scan`)."""

    def step(u, _):
        nxt, _ = model(u, params)
        return nxt, nxt

    return jax.lax.scan(step, u0, None, length=steps)[1]


def predict_trajectories(
    model, u: Float[ArrayLike, "b t n"], params: Float[ArrayLike, "b p"], initial_step: int = 1
) -> Float[Array, "b t n"]:
    """Full autoregressive rollouts from the first frame of each scalar trajectory; the
    given frame is kept, so the result is comparable frame by frame with `u`."""
    require(initial_step == 1, "initial_step", "1 (one given frame)", initial_step)

    def one(traj, p):
        pred = rollout(model, traj[0][None], p, traj.shape[0] - 1)[:, 0]
        return jnp.concatenate([traj[:1], pred])

    return jax.vmap(one)(u, params)


def _relative_l2(pred, target):
    return jnp.sqrt(jnp.sum((pred - target) ** 2)) / jnp.sqrt(jnp.sum(target**2))


def trajectory_loss(
    model,
    u: Float[ArrayLike, "t c n"],
    params: Float[ArrayLike, " p"],
    ar: Bool[ArrayLike, " t_minus_1"],
    key: PRNGKeyArray,
    *,
    input_noise: float = 0.0,
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """Summed per-step relative L2 of the prediction and of CAPE's guess (0 for other
    surrogates) along one trajectory, with inputs chosen by the mask `ar`."""
    keys = jax.random.split(key, u.shape[0] - 1)

    def step(x, inputs):
        target, own, k = inputs
        noisy = x + input_noise * jax.random.normal(k, x.shape, x.dtype)
        pred, guess = model(noisy, params)
        main = _relative_l2(pred, target)
        aux = jnp.zeros((), pred.dtype) if guess is None else _relative_l2(guess, target)
        return jnp.where(own, pred, target), (main, aux)

    _, (main, aux) = jax.lax.scan(step, u[0], (u[1:], ar, keys))
    return jnp.sum(main), jnp.sum(aux)


def rollout_loss(
    model,
    batch: dict[str, Array],
    key: PRNGKeyArray,
    *,
    aux_weight: float = 5.7e-5,
    input_noise: float = 1e-3,
    warmup_steps: int = 0,
) -> tuple[Float[Array, ""], dict[str, Array]]:
    """CAPE's training loss on a batch `{"u": [B, T, N], "params": [B, P], "ar": [T-1],
    "step": []}` (module docs); returns `(loss, {"main", "aux", "horizon"})`."""
    u = batch["u"][:, :, None]
    keys = jax.random.split(key, u.shape[0])
    main, aux = jax.vmap(
        lambda traj, p, k: trajectory_loss(model, traj, p, batch["ar"], k, input_noise=input_noise)
    )(u, batch["params"], keys)
    main, aux = jnp.mean(main), jnp.mean(aux)
    warm = batch["step"] < warmup_steps
    loss = jnp.where(warm, aux, main + aux_weight * aux)
    return loss, {"main": main, "aux": aux, "horizon": 1 + jnp.sum(batch["ar"])}
