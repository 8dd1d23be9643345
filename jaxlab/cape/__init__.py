"""CAPE: parameter-guided channel attention for neural PDE surrogates (Takamoto, Alesiani
& Niepert, ICML 2023), with PDEBench-style data generators and metrics."""

from .._experiment import package_configs
from ._data import (
    ArraySource as ArraySource,
    ConcatSource as ConcatSource,
    PDEBenchFile as PDEBenchFile,
    generate_file as generate_file,
    load_all as load_all,
    pdebench_writer as pdebench_writer,
    write_pdebench as write_pdebench,
)
from ._entry import Settings as Settings, train as train
from ._generators import (
    AdvectionData as AdvectionData,
    BurgersData as BurgersData,
    DiffusionReactionData as DiffusionReactionData,
    cell_centres as cell_centres,
    data_config as data_config,
    downsample as downsample,
    generate as generate,
    generate_batches as generate_batches,
    heat_flow as heat_flow,
    initial_condition as initial_condition,
    limited_slopes as limited_slopes,
    logistic_flow as logistic_flow,
    save_times as save_times,
    solve_advection as solve_advection,
    solve_burgers as solve_burgers,
    solve_diffusion_reaction as solve_diffusion_reaction,
)
from ._metrics import nrmse_per_step as nrmse_per_step, pdebench_metrics as pdebench_metrics
from ._models import (
    CAPEBlock as CAPEBlock,
    CAPESurrogate as CAPESurrogate,
    FNO1d as FNO1d,
    ParameterChannels as ParameterChannels,
    Pointwise as Pointwise,
    SpectralConv1d as SpectralConv1d,
    Surrogate as Surrogate,
    Unconditioned as Unconditioned,
    UNet1d as UNet1d,
    build_surrogate as build_surrogate,
    matched_width as matched_width,
)
from ._training import (
    curriculum_horizon as curriculum_horizon,
    curriculum_mask as curriculum_mask,
    curriculum_sampler as curriculum_sampler,
    predict_trajectories as predict_trajectories,
    rollout as rollout,
    rollout_loss as rollout_loss,
    trajectory_loss as trajectory_loss,
)


# The experiments' configs: `from jaxlab.cape import ...Config`.
__getattr__ = package_configs("cape")
