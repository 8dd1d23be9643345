"""Registered reproductions of PFGM++ (Xu et al., ICML 2023) at small scale, one file
each:

- `pfgmpp.toy` (`toy.py`): 2-D data (two moons, eight Gaussians), SWD and MMD;
- `pfgmpp.digits` (`digits.py`): scikit-learn's 8x8 digits, `fid_digits`;
- `pfgmpp.robustness` (`robustness.py`): the digits models under noise injection,
  weight quantization and fewer sampling steps.

Each trains one model per augmentation dimension D side by side with
[`Training`][jaxlab.Training] (named `"D=1"`, ..., `"D=inf"`: every model sees the same
batches), then samples from each final model with the Heun sampler started from its own
PFGM++ prior.
"""

from ..._experiment import register
from . import digits, robustness, toy
from .digits import DigitsConfig as DigitsConfig
from .robustness import RobustnessConfig as RobustnessConfig
from .toy import ToyConfig as ToyConfig


for _module in (toy, digits, robustness):
    register(_module.EXPERIMENT)
