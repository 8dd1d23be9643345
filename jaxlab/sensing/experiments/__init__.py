"""Registered reproductions of `jaxlab.sensing`, one file each:

- `sensing.overparam` (`overparam.py`, Xiong, Ding & Du 2024): GD on matrix sensing,
  symmetric and asymmetric, exact and over-parameterized, the one-step modification,
  ScaledGD(lambda) and PrecGD.
- `sensing.robust` (`robust.py`, Ma & Fattahi 2023): SubGM on the l1 loss with an
  over-estimated rank against l2 GD, under outliers and dense Gaussian noise.
"""

from ..._experiment import register
from . import overparam, robust
from .overparam import OverparamConfig as OverparamConfig
from .robust import RobustConfig as RobustConfig


for _module in (overparam, robust):
    register(_module.EXPERIMENT)
