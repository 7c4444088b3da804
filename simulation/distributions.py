"""Service-time distributions of a category (办理时长), drawn in minutes.

A category's ``service_time`` names one of a few distributions by its mean and
standard deviation, the way a hall manager knows them ("about 15 minutes, give or
take 6"). :func:`sampler` turns it into a function drawing ``n`` nominal service
times at once; the clerk's proficiency divides them at the window.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from queue_server.config import ServiceTime

Sampler = Callable[[np.random.Generator, int], np.ndarray]


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the normal underlying a lognormal with this mean and sd."""
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def lognormal_moments(mu: float, sigma: float) -> tuple[float, float]:
    """(mean, sd) of a lognormal from the parameters of its underlying normal."""
    mean = math.exp(mu + sigma**2 / 2)
    return mean, mean * math.sqrt(math.exp(sigma**2) - 1)


def sampler(st: ServiceTime) -> Sampler:
    """A function ``(rng, n) -> n service times in minutes`` for ``st``, clipped to [low, high] when given."""
    kind = st.distribution
    draw: Sampler
    if kind == "lognormal":
        mu, sigma = lognormal_params(st.mean, st.sd)

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            return np.exp(mu + sigma * rng.standard_normal(n))

    elif kind == "exponential":

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            return rng.exponential(st.mean, n)

    elif kind == "gamma":
        shape, scale = (st.mean / st.sd) ** 2, st.sd**2 / st.mean

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            return rng.gamma(shape, scale, n)

    elif kind == "deterministic":

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            return np.full(n, st.mean)

    else:  # uniform
        low, high = float(st.low or 0.0), float(st.high or 0.0)

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            return rng.uniform(low, high, n)

    if kind != "uniform" and (st.low is not None or st.high is not None):
        lo = st.low if st.low is not None else 0.0
        hi = st.high if st.high is not None else math.inf
        inner = draw

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            return np.clip(inner(rng, n), lo, hi)

    return draw
