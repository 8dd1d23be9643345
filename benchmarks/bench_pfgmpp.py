"""Speed of jaxlab.pfgmpp: training steps and samples per second (toy MLP, digits U-Net),
one vmapped program over seeds x D against one (seed, D) pair, and `--quick` run times.

    python benchmarks/bench_pfgmpp.py [--json out.json] [--skip-quick]

Every timing is after a warm-up call, blocked until ready; compile time is reported apart.
"""

import argparse
import dataclasses
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlab
from jaxlab import pfgmpp
from jaxlab._results import machine
from jaxlab.pfgmpp._recipe import generate


def timed(f, *args, repeat=3):
    start = time.perf_counter()
    jax.block_until_ready(f(*args))
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        best = min(best, time.perf_counter() - start)
    return first - best, best  # (compile estimate, run)


def training_speed(net, data, D, steps=50):
    """Steps per second of `steps` Adam steps of one model (one seed), as a lax.scan."""
    opt = optax.adam(1e-3)
    params, buffers, layout = jaxlab.split_model(net)

    @jax.jit
    def run(params, key):
        def step(carry, k):
            params, state = carry
            k1, k2 = jax.random.split(k)
            loss, g = jax.value_and_grad(
                lambda p: pfgmpp.pfgmpp_loss(layout.merge(p, buffers), data(k1), k2, D)[0]
            )(params)
            updates, state = opt.update(g, state, params)
            return (optax.apply_updates(params, updates), state), loss

        return jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))[1]

    compile_s, run_s = timed(run, params, jax.random.key(0))
    return compile_s, steps / run_s


def sampling_speed(net, shape, D, n, cfg):
    f = jax.jit(lambda m, k: generate(m, k, cfg, D, n, shape)[0])
    compile_s, run_s = timed(f, net, jax.random.key(1))
    return compile_s, n / run_s


@dataclasses.dataclass(frozen=True)
class ScalarD:
    """A toy training with D a numeric config field: `jaxlab.sweep(..., over={"D": ...})`
    traces it, so one compiled program covers every D and seed."""

    D: float = 10.0
    steps: int = 200
    batch_size: int = 256
    width: int = 128
    depth: int = 3


def scalar_d_models(cfg):
    return {
        "model": jaxlab.ModelSpec(
            init=lambda key: pfgmpp.MLP(2, key=key, width=cfg.width, depth=cfg.depth),
            loss=lambda m, batch, key: pfgmpp.pfgmpp_loss(m, batch, key, cfg.D),
            optimizer=optax.adam(1e-3),
        )
    }


SCALAR_D = jaxlab.Training(
    scalar_d_models, batches=lambda cfg, data: lambda key: pfgmpp.two_moons(key, cfg.batch_size)
).experiment("bench.scalar_d", "", ScalarD, lambda *a: {})


def vmap_ratio():
    cfg = ScalarD()
    jaxlab.sweep(SCALAR_D, cfg, seeds=1)  # compile
    one = jaxlab.sweep(SCALAR_D, cfg, seeds=1)
    over = {"D": [3.0, 10.0, 100.0, float("inf")]}
    first = jaxlab.sweep(SCALAR_D, cfg, seeds=4, over=over)
    many = jaxlab.sweep(SCALAR_D, cfg, seeds=4, over=over)
    assert many.compile_seconds == 0.0
    losses = np.asarray(many.results["history"]["model"][0])
    assert losses.shape == (4, 4, cfg.steps) and np.all(np.isfinite(losses))
    return {
        "one_pair_run_s": one.run_seconds,
        "sixteen_runs_s": many.run_seconds,
        "ratio": many.run_seconds / one.run_seconds,
        "compile_s_16": first.compile_seconds,
    }


def quick_runs(seeds=8):
    out = {}
    for name in ("pfgmpp.toy", "pfgmpp.digits", "pfgmpp.robustness"):
        exp = jaxlab.get_experiment(name)
        start = time.perf_counter()
        result = jaxlab.sweep(exp, exp.config.quick(), seeds=seeds)
        exp.report(exp.config.quick(), result.results, None)
        out[exp.name] = {
            "total_s": time.perf_counter() - start,
            "compile_s": result.compile_seconds,
            "run_s": result.run_seconds,
        }
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    parser.add_argument("--skip-quick", action="store_true")
    args = parser.parse_args()
    rows = {}
    toy_cfg, digits_cfg = pfgmpp.ToyConfig(), pfgmpp.DigitsConfig()
    mlp = pfgmpp.MLP(2, key=jax.random.key(0), width=toy_cfg.width, depth=toy_cfg.depth)
    unet = pfgmpp.UNet(1, key=jax.random.key(0), width=digits_cfg.unet_width)
    x_train = jnp.asarray(pfgmpp.digits()[0])
    digits_batch = lambda k: x_train[jax.random.choice(k, len(x_train), (128,), replace=False)]
    rows["toy MLP train (batch 256, D=10)"] = training_speed(
        mlp, lambda k: pfgmpp.two_moons(k, 256), 10.0
    )
    rows["digits U-Net train (batch 128, D=64)"] = training_speed(unet, digits_batch, 64.0, 20)
    rows["toy MLP sample (2000, 18 steps)"] = sampling_speed(mlp, (2,), 10.0, 2000, toy_cfg)
    rows["digits U-Net sample (599, 18 steps)"] = sampling_speed(
        unet, (1, 8, 8), 64.0, 599, digits_cfg
    )
    print(f"{'measurement':42s} {'compile s':>10s} {'per second':>12s}")
    for name, (c, speed) in rows.items():
        unit = "steps" if "train" in name else "samples"
        print(f"{name:42s} {c:10.2f} {speed:10.1f} {unit}")
    ratio = vmap_ratio()
    print(
        f"4 seeds x 4 D in one program: {ratio['sixteen_runs_s']:.2f} s vs one pair "
        f"{ratio['one_pair_run_s']:.2f} s = {ratio['ratio']:.2f}x "
        f"(compile {ratio['compile_s_16']:.1f} s)"
    )
    quick = {} if args.skip_quick else quick_runs()
    for name, q in quick.items():
        print(
            f"{name} --quick, 8 seeds: {q['total_s']:.1f} s "
            f"(compile {q['compile_s']:.1f} s, run {q['run_s']:.1f} s)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine(),
                    "speed": {k: {"compile_s": c, "per_second": s} for k, (c, s) in rows.items()},
                    "vmap": ratio,
                    "quick": quick,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
