"""Physics-Informed Gaussians (Kang et al., ICLR 2025), a PINN baseline, PDE problems posed
from a box, a residual and conditions, and reference solvers."""

from .._experiment import package_configs
from ._benchmarks import (
    allen_cahn as allen_cahn,
    flow_mixing as flow_mixing,
    helmholtz as helmholtz,
    klein_gordon as klein_gordon,
    nonlinear_diffusion as nonlinear_diffusion,
    problem as problem,
)
from ._jet import Jet as Jet
from ._models import (
    MLP as MLP,
    PIG as PIG,
    PINN as PINN,
    Field as Field,
    GaussianEmbedding as GaussianEmbedding,
    gaussian_moments as gaussian_moments,
    jets as jets,
    values as values,
)
from ._problem import (
    Boundary as Boundary,
    Box as Box,
    Periodic as Periodic,
    Problem as Problem,
    causal_weights as causal_weights,
    dirichlet as dirichlet,
    initial as initial,
    loss as loss,
    loss_terms as loss_terms,
    rel_l2 as rel_l2,
    sample as sample,
    time_chunk_losses as time_chunk_losses,
)
from ._solvers import (
    allen_cahn_etdrk4 as allen_cahn_etdrk4,
    diffusion_initial as diffusion_initial,
    diffusion_mol as diffusion_mol,
)
from ._training import (
    Settings as Settings,
    Solution as Solution,
    build as build,
    model_specs as model_specs,
    time_per_step as time_per_step,
    train as train,
)


# The experiments' configs: `from jaxlab.pig import ...Config`.
__getattr__ = package_configs("pig")
