"""The evaluation of the experiments' trained models, inside the compiled program: full
autoregressive rollouts from the first frame of every trajectory of the `val`, `seen`
and `unseen` splits (passed as the data argument, never through a callback), scored
with PDEBench's metrics."""

import jax.numpy as jnp

from ._metrics import nrmse_per_step, pdebench_metrics
from ._training import predict_trajectories


def rollout_evaluation(config):
    """`evaluate(model, key, data) -> dict` of a [`ModelSpec`][jaxlab.ModelSpec]:
    `{split}_nrmse` for `val`, `seen` and `unseen`; for `seen` and `unseen` also
    PDEBench's other metrics (`{split}_rmse`, ...), the nRMSE of each frame
    (`{split}_nrmse_by_step`, mean over trajectories) and the first trajectory's rollout
    (`{split}_example`); and `nrmse_by_param`, the mean nRMSE of each parameter set
    (training sets, then unseen)."""

    def evaluate(model, key, data):
        out = {}
        per_step = {}
        for split in ("val", "seen", "unseen"):
            u, p = data[split]["u"], data[split]["params"]
            pred = predict_trajectories(model, u, p)
            metrics = pdebench_metrics(pred, u, initial_step=1)
            out[f"{split}_nrmse"] = metrics["nrmse"]
            if split != "val":
                for metric, value in metrics.items():
                    if metric != "nrmse":
                        out[f"{split}_{metric}"] = value
                steps = nrmse_per_step(pred, u)  # [B, T]
                per_step[split] = steps
                out[f"{split}_nrmse_by_step"] = jnp.mean(steps, axis=0)
                out[f"{split}_example"] = pred[0]
        by_param = [
            jnp.mean(per_step[s][:, 1:].reshape(len(config.parameter_sets(f)), -1), axis=1)
            for s, f in (("seen", "train_params"), ("unseen", "unseen_params"))
        ]
        out["nrmse_by_param"] = jnp.concatenate(by_param)
        return out

    return evaluate
