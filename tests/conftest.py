import jax


# Matrix sensing checks invariants to 1e-12: the whole suite runs in float64.
jax.config.update("jax_enable_x64", True)
