"""Neural differential equations on diffrax (Kidger, *On Neural Differential Equations*).

Work in progress: neural and hybrid ODEs so far."""

from ._ode import (
    ADJOINTS as ADJOINTS,
    SOLVERS as SOLVERS,
    HybridField as HybridField,
    MLPField as MLPField,
    NeuralODE as NeuralODE,
)
