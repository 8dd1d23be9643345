"""Over-parameterized matrix sensing (Xiong, Ding & Du, ICLR 2024; Ma & Fattahi, JMLR 2023)."""

from .._experiment import package_configs
from ._algorithms import (
    Trajectory as Trajectory,
    asymmetric_gd as asymmetric_gd,
    asymmetric_gradient as asymmetric_gradient,
    asymmetric_loss as asymmetric_loss,
    l1_loss as l1_loss,
    l1_subgradient as l1_subgradient,
    prec_gd as prec_gd,
    preconditioned_gd as preconditioned_gd,
    preconditioned_symmetric_gd as preconditioned_symmetric_gd,
    rebalance as rebalance,
    scaled_gd as scaled_gd,
    small_init as small_init,
    subgradient_method as subgradient_method,
    symmetric_gd as symmetric_gd,
    symmetric_gradient as symmetric_gradient,
    symmetric_loss as symmetric_loss,
)
from ._problems import (
    SensingProblem as SensingProblem,
    add_gaussian_noise as add_gaussian_noise,
    add_outliers as add_outliers,
    asymmetric_problem as asymmetric_problem,
    symmetric_problem as symmetric_problem,
)
from ._rates import (
    convergence_rate as convergence_rate,
    fit_window as fit_window,
    loglog_slope as loglog_slope,
    power_law_exponent as power_law_exponent,
)


__getattr__ = package_configs(
    "sensing"
)  # the experiments' configs: from jaxlab.sensing import ...Config
