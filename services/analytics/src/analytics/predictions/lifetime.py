"""The buy-till-you-die models of customer lifetime value, fitted by maximum likelihood.

Purchase counts: BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way")
and Pareto/NBD (Schmittlein, Morrison and Colombo 1987, in the closed form of Fader and Hardie's
2005 note "A Note on Deriving the Pareto/NBD Model and Related Expressions"). Spend per purchase:
Gamma-Gamma (Fader, Hardie and Lee 2005, "RFM and CLV"). A customer's history is `x` repeat
purchases (purchases after the first, at most one a time unit), the time `t_x` from the first
purchase to the last, and the age `T` from the first purchase to the end of observation, all in
one time unit, which the parameters are then expressed in.

The closed-form log-likelihoods are maximised with scipy over the logarithms of the parameters
(so every step stays positive), each distinct history weighted by the customers sharing it: a
store's million customers collapse to a few hundred thousand rows at most. Pure computation:
no database, no I/O.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Levels:
    """The distinct values of a column (or of a pair of columns) and where each row's is: a
    function of the column is computed once per distinct value, then spread to the rows."""

    first: Array
    second: Array
    index: npt.NDArray[np.intp]

    @classmethod
    def of(cls, first: Array, second: Array | None = None) -> Levels:
        if second is None:
            values, index = np.unique(first, return_inverse=True)
            return cls(values, values, index.reshape(-1))
        pairs, index = np.unique(np.column_stack([first, second]), axis=0, return_inverse=True)
        return cls(pairs[:, 0], pairs[:, 1], index.reshape(-1))


@dataclass(frozen=True)
class Histories:
    """Distinct purchase histories and how many customers share each."""

    frequency: Array
    """`x`: repeat purchases."""
    recency: Array
    """`t_x`: from the first purchase to the last."""
    age: Array
    """`T`: from the first purchase to the end of observation."""
    weight: Array
    """Customers with this history."""

    @property
    def customers(self) -> int:
        return int(self.weight.sum())

    # A store's histories in days hold a few hundred distinct frequencies and ages for hundreds
    # of thousands of rows: the special functions are evaluated on those, once per step.
    @cached_property
    def by_frequency(self) -> Levels:
        return Levels.of(self.frequency)

    @cached_property
    def by_recency(self) -> Levels:
        return Levels.of(self.recency)

    @cached_property
    def by_age(self) -> Levels:
        return Levels.of(self.age)

    @cached_property
    def by_frequency_recency(self) -> Levels:
        return Levels.of(self.frequency, self.recency)

    @cached_property
    def by_frequency_age(self) -> Levels:
        return Levels.of(self.frequency, self.age)


def collapse(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> tuple[Histories, npt.NDArray[np.intp]]:
    """The distinct (x, t_x, T) histories with their counts, and for each customer the index
    of its history (to spread per-history results back to customers)."""
    columns = [np.asarray(c, float).reshape(-1) for c in (frequency, recency, age)]
    # One lexsort and a comparison of neighbours: several times faster than np.unique(axis=0).
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    starts = np.ones(len(order), bool)
    if len(order):
        starts[1:] = np.any([np.diff(c) != 0 for c in ordered], axis=0)
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(order), np.intp)
    inverse[order] = group
    counts = np.bincount(group).astype(float) if len(order) else np.empty(0)
    first = [c[starts] for c in ordered]
    return Histories(first[0], first[1], first[2], counts), inverse


class CountModel(Protocol):
    """A model of how many purchases a customer makes, and for how long."""

    name: str
    parameter_names: tuple[str, ...]

    def log_likelihood(self, params: Array, h: Histories) -> Array:
        """Each history's log-likelihood under `params`."""
        ...

    def start(self, h: Histories) -> Array:
        """Where the search starts."""
        ...

    def probability_alive(self, params: Array, h: Histories) -> Array: ...

    def expected_purchases(self, params: Array, h: Histories, t: float | Array) -> Array:
        """Expected purchases over the next `t` time units (one for all, or one each), given
        each history."""
        ...


class BgNbd:
    """BG/NBD: purchases at a gamma(r, alpha)-distributed Poisson rate; after each purchase
    the customer drops out with a beta(a, b)-distributed probability."""

    name = "bg-nbd"
    parameter_names: tuple[str, ...] = ("r", "alpha", "a", "b")

    def log_likelihood(self, params: Array, h: Histories) -> Array:
        r, alpha, a, b = params
        x = h.frequency
        xs, ages, lasts = h.by_frequency, h.by_age, h.by_recency
        base = special.betaln(a, b)
        common = (special.gammaln(r + xs.first) - special.gammaln(r) + r * np.log(alpha))[xs.index]
        still = (special.betaln(a, b + xs.first) - base)[xs.index] - (r + x) * np.log(
            alpha + ages.first
        )[ages.index]
        with np.errstate(divide="ignore", invalid="ignore"):
            leave = np.where(
                xs.first > 0, special.betaln(a + 1, np.maximum(b + xs.first - 1, 1e-300)), -np.inf
            )
        gone = (leave - base)[xs.index] - (r + x) * np.log(alpha + lasts.first)[lasts.index]
        result: Array = common + np.logaddexp(still, gone)
        return result

    def start(self, h: Histories) -> Array:
        return np.array([1.0, max(float(np.average(h.age, weights=h.weight)), 1.0), 1.0, 1.0])

    def probability_alive(self, params: Array, h: Histories) -> Array:
        alive: Array = special.expit(-self._log_odds_gone(params, h))
        return alive

    def _log_odds_gone(self, params: Array, h: Histories) -> Array:
        r, alpha, a, b = params
        x = h.frequency
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(
                x > 0,
                np.log(a)
                - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + h.age) - np.log(alpha + h.recency)),
                -np.inf,
            )
        result: Array = odds
        return result

    def expected_purchases(self, params: Array, h: Histories, t: float | Array) -> Array:
        r, alpha, a, b = params
        x, age = h.frequency, h.age
        z = t / (alpha + age + t)
        # The expression is continuous at a = 1 but divides by a - 1 there: evaluate beside it.
        a = a if abs(a - 1) > 1e-7 else 1 + 1e-7
        # Euler's transformation of 2F1(r+x, b+x; a+b+x-1; z) times ((alpha+T)/(alpha+T+t))^(r+x):
        # the same value without the overflow of the first form for customers with many
        # purchases.
        shrink = (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        bracket = (a + b + x - 1) / (a - 1) * (1 - shrink)
        result: Array = bracket * self.probability_alive(params, h)
        return result


class ParetoNbd:
    """Pareto/NBD: purchases at a gamma(r, alpha)-distributed Poisson rate, for an exponential
    lifetime whose rate is gamma(s, beta)-distributed."""

    name = "pareto-nbd"
    parameter_names: tuple[str, ...] = ("r", "alpha", "s", "beta")

    def log_likelihood(self, params: Array, h: Histories) -> Array:
        r, alpha, s, beta = params
        x = h.frequency
        xs, ages = h.by_frequency, h.by_age
        head = special.gammaln(r + xs.first)[xs.index] - special.gammaln(r)
        head += r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + ages.first)[ages.index]
        alive -= s * np.log(beta + ages.first)[ages.index]
        dead = (np.log(s) - np.log(r + s + xs.first))[xs.index] + self._log_a0(params, h)
        result: Array = head + np.logaddexp(alive, dead)
        return result

    def _log_a0(self, params: Array, h: Histories) -> Array:
        """log A0 of the note, as the log of a difference computed from logs: the two terms
        are often within rounding of each other, and each alone under- or overflows."""
        r, alpha, s, beta = params
        if alpha >= beta:
            top, base = alpha, alpha - beta
        else:
            top, base = beta, beta - alpha

        def term(levels: Levels) -> Array:
            x, t = levels.first, levels.second
            rsx = r + s + x
            second = s + 1 if alpha >= beta else r + x
            z = base / (top + t)
            # 2F1(a, b; a+1; z) lies in [1, (1-z)^-b]: its log is finite for z < 1.
            log_f: Array = np.log(special.hyp2f1(rsx, second, rsx + 1, z)) - rsx * np.log(top + t)
            return log_f[levels.index]

        at_last, at_end = term(h.by_frequency_recency), term(h.by_frequency_age)
        with np.errstate(divide="ignore"):
            result: Array = at_last + np.log(-np.expm1(np.minimum(at_end - at_last, 0.0)))
        return result

    def start(self, h: Histories) -> Array:
        mean_age = max(float(np.average(h.age, weights=h.weight)), 1.0)
        return np.array([1.0, mean_age, 1.0, mean_age])

    def start_from(self, bg_nbd: Fit, h: Histories) -> Array:
        """A start near the optimum: the purchase rate's distribution as BG/NBD found it."""
        mean_age = max(float(np.average(h.age, weights=h.weight)), 1.0)
        if not bg_nbd.converged:
            return self.start(h)
        return np.array([bg_nbd.parameters["r"], bg_nbd.parameters["alpha"], 1.0, mean_age])

    def probability_alive(self, params: Array, h: Histories) -> Array:
        r, alpha, s, beta = params
        x = h.frequency
        log_ratio = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + h.age)
            + s * np.log(beta + h.age)
            + self._log_a0(params, h)
        )
        alive: Array = special.expit(-log_ratio)
        return alive

    def expected_purchases(self, params: Array, h: Histories, t: float | Array) -> Array:
        r, alpha, s, beta = params
        x, age = h.frequency, h.age
        ratio = (beta + age) / (beta + age + t)
        # (1 - ratio^(s-1)) / (s-1), whose limit at s = 1 is -log(ratio).
        if abs(s - 1) < 1e-9:
            decay = -np.log(ratio)
        else:
            decay = -np.expm1((s - 1) * np.log(ratio)) / (s - 1)
        result: Array = (
            (r + x) * (beta + age) / (alpha + age) * decay * self.probability_alive(params, h)
        )
        return result


@dataclass(frozen=True)
class Spends:
    """Customers with repeat purchases: how many, and their mean spend per repeat purchase."""

    frequency: Array
    mean_value: Array

    @cached_property
    def by_frequency(self) -> Levels:
        return Levels.of(self.frequency)


class GammaGamma:
    """Gamma-Gamma: each purchase's value is gamma(p, nu), a customer's nu gamma(q, v)."""

    name = "gamma-gamma"
    parameter_names: tuple[str, ...] = ("p", "q", "v")

    def log_likelihood(self, params: Array, s: Spends) -> Array:
        p, q, v = params
        x, z = s.frequency, s.mean_value
        xs = s.by_frequency
        px = p * xs.first
        per_x = special.gammaln(px + q) - special.gammaln(px) + px * np.log(xs.first)
        result: Array = (
            per_x[xs.index]
            - special.gammaln(q)
            + q * np.log(v)
            + (p * x - 1) * np.log(z)
            - (p * x + q) * np.log(x * z + v)
        )
        return result

    def start(self, s: Spends) -> Array:
        mean = float(np.mean(s.mean_value)) if len(s.mean_value) else 1.0
        return np.array([1.0, 2.0, max(mean, 1e-3)])

    def expected_value(self, params: Array, frequency: Array, mean_value: Array) -> Array:
        """The expected value of a customer's next purchases, given their repeat purchases and
        mean value (anything for those without): the population mean shrunk toward their own."""
        p, q, v = params
        result: Array = p * (v + frequency * mean_value) / (p * frequency + q - 1)
        return result


@dataclass(frozen=True, slots=True)
class Fit:
    """A maximum-likelihood fit, and how sure it is."""

    model: str
    parameters: dict[str, float]
    standard_errors: dict[str, float | None]
    """From the inverse of the observed information (delta method from the log-parameters);
    None when the curvature there is not that of a maximum."""
    log_likelihood: float
    customers: int
    converged: bool
    iterations: int

    def values(self) -> Array:
        return np.array(list(self.parameters.values()))


def fit_counts(model: CountModel, histories: Histories, *, start: Array | None = None) -> Fit:
    """The maximum-likelihood fit of a count model to the weighted histories."""
    return _maximise(
        model.name,
        model.parameter_names,
        lambda params: float(np.dot(histories.weight, model.log_likelihood(params, histories))),
        model.start(histories) if start is None else start,
        histories.customers,
    )


def fit_spend(spends: Spends) -> Fit:
    """The maximum-likelihood fit of Gamma-Gamma to customers with repeat purchases of
    positive mean value."""
    model = GammaGamma()
    return _maximise(
        model.name,
        model.parameter_names,
        lambda params: float(np.sum(model.log_likelihood(params, spends))),
        model.start(spends),
        len(spends.frequency),
    )


# Beyond these the likelihood is flat or the parameters meaningless; the search stays inside.
_LOG_BOUNDS = (-12.0, 12.0)


def _maximise(
    name: str,
    names: tuple[str, ...],
    total: Callable[[Array], float],
    start: Array,
    customers: int,
) -> Fit:
    if customers == 0:
        nan = dict.fromkeys(names, math.nan)
        return Fit(name, nan, dict.fromkeys(names), math.nan, 0, False, 0)
    scale = 1.0 / customers

    def objective(log_params: Array) -> float:
        value = -total(np.exp(log_params)) * scale
        return value if math.isfinite(value) else 1e300

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = optimize.minimize(
            objective,
            np.log(start),
            method="L-BFGS-B",
            bounds=[_LOG_BOUNDS] * len(names),
            options={"maxiter": 500, "ftol": 1e-10, "gtol": 1e-7},
        )
        log_params: Array = result.x
        errors = _standard_errors(objective, log_params, customers)
    values = np.exp(log_params)
    log_likelihood = -float(result.fun) * customers
    at_bound = bool(np.any(np.abs(log_params) > max(_LOG_BOUNDS) - 1e-6))
    converged = (
        bool(result.success)
        and math.isfinite(log_likelihood)
        and not at_bound
        and errors is not None
    )
    return Fit(
        model=name,
        parameters={n: float(v) for n, v in zip(names, values, strict=True)},
        standard_errors={
            n: (float(v * e) if errors is not None else None)
            for n, v, e in zip(names, values, errors if errors is not None else values, strict=True)
        },
        log_likelihood=log_likelihood,
        customers=customers,
        converged=converged,
        iterations=int(result.nit),
    )


def _standard_errors(
    objective: Callable[[Array], float], at: Array, customers: int
) -> Array | None:
    """Standard errors of the log-parameters: the square roots of the diagonal of the inverse
    Hessian of the negative log-likelihood, by central differences."""
    size = len(at)
    step = 1e-4
    hessian = np.empty((size, size))
    for i in range(size):
        for j in range(i, size):
            e_i, e_j = np.eye(size)[i] * step, np.eye(size)[j] * step
            value = (
                objective(at + e_i + e_j)
                - objective(at + e_i - e_j)
                - objective(at - e_i + e_j)
                + objective(at - e_i - e_j)
            ) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value * customers
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return None
    variances = np.diag(np.linalg.inv(hessian))
    if not np.all(np.isfinite(variances)):
        return None
    result: Array = np.sqrt(variances)
    return result


def discounted_purchases(
    model: CountModel,
    params: Array,
    h: Histories,
    *,
    horizon: float,
    rate_per_unit: float,
    steps: int,
) -> Array:
    """Expected purchases over `horizon`, each discounted to now at the continuous-time
    equivalent of `rate_per_unit`, summed over `steps` equal periods (discounted at their end,
    as a monthly or weekly sum would)."""
    total = np.zeros_like(h.frequency)
    before = np.zeros_like(h.frequency)
    for step in range(1, steps + 1):
        t = horizon * step / steps
        upto = model.expected_purchases(params, h, t)
        total += (upto - before) / (1 + rate_per_unit) ** t
        before = upto
    return total


def time_to_purchases(
    model: CountModel, params: Array, h: Histories, *, purchases: float, within: float
) -> Array:
    """The time by which `purchases` further purchases are expected, for each history; NaN
    when that is not within `within` (bisection: expected purchases grow with time)."""
    reach = model.expected_purchases(params, h, within)
    low = np.zeros_like(h.frequency)
    high = np.full_like(h.frequency, within)
    # 40 halvings: well under a minute of precision on a horizon of years in days.
    for _ in range(40):
        middle = (low + high) / 2
        below = model.expected_purchases(params, h, middle) < purchases
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    result: Array = np.where(reach >= purchases, high, np.nan)
    return result
