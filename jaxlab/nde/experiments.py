"""Registered reproductions of `jaxlab.nde`."""

from .._experiment import register
from . import _deq_digits, _oscillator, _ou, _spirals, _vowels
from ._oscillator import OscillatorConfig as OscillatorConfig


register(_oscillator.EXPERIMENT)
register(_spirals.EXPERIMENT)
register(_deq_digits.EXPERIMENT)
register(_ou.EXPERIMENT)
register(_vowels.EXPERIMENT)
