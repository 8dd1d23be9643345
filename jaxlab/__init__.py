"""jaxlab: reproducible JAX research, one compiled program per seed sweep."""

import importlib.metadata

from ._jaxlib_workarounds import keep_reductions_out_of_ynn_fusions


keep_reductions_out_of_ynn_fusions()  # before anything starts JAX's backends

from . import distributed as distributed
from ._config import (
    Config as Config,
    field_doc as field_doc,
    field_rule as field_rule,
    option as option,
    with_default as with_default,
)
from ._data import Stream as Stream
from ._experiment import (
    ConfigError as ConfigError,
    Experiment as Experiment,
    config_with as config_with,
    experiments as experiments,
    get_experiment as get_experiment,
    register as register,
    require as require,
    require_integer as require_integer,
)
from ._model import (
    ModelLayout as ModelLayout,
    Setting as Setting,
    count_params as count_params,
    split_model as split_model,
)
from ._results import (
    read_results as read_results,
    summarize as summarize,
    write_results as write_results,
)
from ._runner import enable_compile_cache as enable_compile_cache, run_experiment as run_experiment
from ._side_by_side import ModelSpec as ModelSpec, Training as Training
from ._sweep import SweepResult as SweepResult, sweep as sweep
from ._train import (
    FitResult as FitResult,
    FitState as FitState,
    StepSampler as StepSampler,
    Trained as Trained,
    fit as fit,
    init_state as init_state,
    sampler as sampler,
    train_chunk as train_chunk,
)


__version__ = importlib.metadata.version("jaxlab")
