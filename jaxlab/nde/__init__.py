"""Neural differential equations on diffrax (Kidger, *On Neural Differential Equations*):
neural and hybrid ODEs, neural CDEs for irregular time series (and a GRU baseline),
neural SDEs, the exact reversible adjoint of the reversible Heun method, and deep
equilibrium layers."""

from .._experiment import package_configs
from ._cde import (
    INTERPOLATIONS as INTERPOLATIONS,
    CDEField as CDEField,
    ControlPath as ControlPath,
    NeuralCDE as NeuralCDE,
    control_path as control_path,
    fill_forward as fill_forward,
    pad_series as pad_series,
)
from ._deq import (
    DEQ as DEQ,
    DEQ_ADJOINTS as DEQ_ADJOINTS,
    DEQ_SOLVERS as DEQ_SOLVERS,
    ContractiveCell as ContractiveCell,
    DEQClassifier as DEQClassifier,
)
from ._gru import GRUClassifier as GRUClassifier
from ._latent_sde import DiagonalDiffusion as DiagonalDiffusion, LatentSDE as LatentSDE
from ._ode import (
    ADJOINTS as ADJOINTS,
    SOLVERS as SOLVERS,
    HybridField as HybridField,
    MLPField as MLPField,
    NeuralODE as NeuralODE,
)
from ._reversible import (
    ReversibleAdjoint as ReversibleAdjoint,
    reconstruction_error as reconstruction_error,
    reversible_heun as reversible_heun,
)
from ._sde_gan import (
    CDEDiscriminator as CDEDiscriminator,
    LipSwish as LipSwish,
    SDEGenerator as SDEGenerator,
    clip_weights as clip_weights,
)
from ._sde_solve import SDE_SOLVERS as SDE_SOLVERS


# The experiments' configs: `from jaxlab.nde import ...Config`.
__getattr__ = package_configs("nde")
