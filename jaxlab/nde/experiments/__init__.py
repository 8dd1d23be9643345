"""Registered reproductions of `jaxlab.nde`, one module each:

- `nde.oscillator` (`oscillator.py`): a neural ODE against a hybrid (pendulum + neural
  correction) model of a damped pendulum.
- `nde.spirals` (`spirals.py`): a neural CDE (or a GRU) tells clockwise from anticlockwise
  spirals observed at irregular times.
- `nde.deq_digits` (`deq_digits.py`): a deep equilibrium classifier of scikit-learn's 8x8
  digits.
- `nde.ou` (`ou.py`): neural SDEs (a latent SDE, an SDE-GAN) learning a time-dependent
  Ornstein-Uhlenbeck process.
- `nde.vowels` (`vowels.py`): a neural CDE (or a GRU) on JapaneseVowels.
"""

from ..._experiment import register
from . import deq_digits, oscillator, ou, spirals, vowels
from .deq_digits import DEQDigitsConfig as DEQDigitsConfig
from .oscillator import OscillatorConfig as OscillatorConfig
from .ou import OUConfig as OUConfig
from .spirals import SpiralsConfig as SpiralsConfig
from .vowels import VowelsConfig as VowelsConfig


register(oscillator.EXPERIMENT)
register(spirals.EXPERIMENT)
register(deq_digits.EXPERIMENT)
register(ou.EXPERIMENT)
register(vowels.EXPERIMENT)
