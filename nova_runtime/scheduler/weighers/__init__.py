"""Host weighers: one module per weigher, named after its class in snake case.

A weigher returns a raw weight for each candidate row; the scheduler
normalises each weigher's weights to [0, 1] over the candidates (min-max, as
upstream), multiplies them by the weigher's multiplier and sums them. The
highest total wins.
"""

import numpy as np


class BaseWeigher:
    # Fixed bounds for normalisation; None: the candidates' minimum / maximum.
    minval = None
    maxval = None
    # The [filter_scheduler] option holding this weigher's multiplier.
    multiplier_option = None

    def __init__(self, conf=None):
        self.multiplier = 1.0
        if conf is not None and self.multiplier_option:
            self.multiplier = float(conf.filter_scheduler[self.multiplier_option])

    @property
    def name(self):
        return type(self).__name__

    def weigh_all(self, hosts, spec, rows):
        """Raw weights (float array) of the candidate ``rows`` (an index array)."""
        raise NotImplementedError


def normalize(weights, minval=None, maxval=None):
    """Scale to [0, 1]: (w - min) / (max - min); all zeros when max == min."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.size == 0:
        return weights
    lo = float(weights.min()) if minval is None else float(minval)
    hi = float(weights.max()) if maxval is None else float(maxval)
    if lo == hi:
        return np.zeros_like(weights)
    return (weights - lo) / (hi - lo)
