"""Exact queueing results the model must agree with.

- :func:`erlang_c` — M/M/c: probability of waiting and mean wait.
- :func:`erlang_a` — M/M/c+M (exponential patience): mean wait in queue, share
  that abandons, from the birth–death chain (exact up to a truncation far in the
  tail).
- :func:`cobham` — M/M/c with non-preemptive priority classes and one service
  rate: mean wait per class.

Rates are per minute, times in minutes.
"""

from __future__ import annotations

import math

import numpy as np


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """(P(wait > 0), mean wait in queue) of an M/M/c queue."""
    a = lam / mu
    rho = a / c
    if rho >= 1:
        raise ValueError("unstable queue: lambda / (c * mu) must be below 1")
    term = 1.0
    total = 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    last = term * a / c / (1 - rho)
    p_wait = last / (total + last)
    return p_wait, p_wait / (c * mu - lam)


def erlang_a(lam: float, mu: float, c: int, theta: float, cap: int = 2000) -> tuple[float, float]:
    """(mean wait in queue of all arrivals, share abandoning) of an M/M/c+M queue with patience rate ``theta``."""
    # Stationary distribution of the birth-death chain, in logs to stay finite.
    logp = np.zeros(cap + 1)
    for n in range(1, cap + 1):
        death = min(n, c) * mu + max(n - c, 0) * theta
        logp[n] = logp[n - 1] + math.log(lam / death)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    states = np.arange(cap + 1)
    lq = float((np.maximum(states - c, 0) * p).sum())
    return lq / lam, theta * lq / lam


def cobham(lams: list[float], mu: float, c: int) -> list[float]:
    """Mean wait in queue per class, highest priority first (M/M/c, non-preemptive, common rate ``mu``)."""
    lam = sum(lams)
    p_wait, _ = erlang_c(lam, mu, c)
    w0 = p_wait / (c * mu)
    out = []
    sigma_prev = 0.0
    for lk in lams:
        sigma = sigma_prev + lk / (c * mu)
        out.append(w0 / ((1 - sigma_prev) * (1 - sigma)))
        sigma_prev = sigma
    return out
