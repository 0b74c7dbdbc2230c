"""The likelihoods and predictions of analytics.predictions.lifetime: the published CDNOW fits,
the closed forms against numerical integration of the models' definitions, and predictions
against purchases drawn from the model.

`cdnow_summary.csv` is the CDNOW sample of Fader, Hardie and Lee (2005): 2,357 customers,
39-week calibration period, in weeks (`x`, `t_x`, `T`) and the mean value of the repeat
purchases (`zbar`); copied from `lifetimes/datasets/cdnow_customers_summary_with_transactions.csv`
of the `lifetimes` 0.11.3 package on PyPI.
"""

import csv
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from analytics.predictions import lifetime
from scipy import integrate, stats

CDNOW = Path(__file__).with_name("cdnow_summary.csv")


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    with CDNOW.open() as file:
        rows = list(csv.DictReader(file))
    columns = ("x", "t_x", "T", "zbar")
    return {name: np.array([float(row[name]) for row in rows]) for name in columns}


@pytest.fixture(scope="module")
def cdnow_histories(cdnow: dict[str, np.ndarray]) -> lifetime.Histories:
    histories, _ = lifetime.collapse(cdnow["x"], cdnow["t_x"], cdnow["T"])
    return histories


def close_to(published: dict[str, float], fit: lifetime.Fit, tolerance: float = 0.01) -> None:
    for name, value in published.items():
        assert fit.parameters[name] == pytest.approx(value, rel=tolerance), name


def test_bg_nbd_reproduces_the_published_cdnow_fit(cdnow_histories: lifetime.Histories) -> None:
    fit = lifetime.fit_counts(lifetime.BgNbd(), cdnow_histories)

    assert fit.converged
    assert fit.customers == 2357
    close_to({"r": 0.2426, "alpha": 4.414, "a": 0.7929, "b": 2.4259}, fit)
    assert fit.log_likelihood == pytest.approx(-9582.4, rel=0.01)
    assert all(error is not None and error > 0 for error in fit.standard_errors.values())


def test_pareto_nbd_reproduces_the_published_cdnow_fit(
    cdnow_histories: lifetime.Histories,
) -> None:
    bg = lifetime.fit_counts(lifetime.BgNbd(), cdnow_histories)
    pareto = lifetime.ParetoNbd()

    start = pareto.start_from(bg, cdnow_histories)
    from_bg = lifetime.fit_counts(pareto, cdnow_histories, start=start)
    from_scratch = lifetime.fit_counts(pareto, cdnow_histories)

    for fit in (from_bg, from_scratch):
        assert fit.converged
        close_to({"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}, fit)
    # On CDNOW the BG/NBD is the likelier model, as Fader, Hardie and Lee found.
    assert from_bg.log_likelihood < bg.log_likelihood


def test_gamma_gamma_reproduces_the_published_cdnow_fit(cdnow: dict[str, np.ndarray]) -> None:
    repeat = cdnow["x"] > 0

    fit = lifetime.fit_spend(lifetime.Spends(cdnow["x"][repeat], cdnow["zbar"][repeat]))

    assert fit.converged
    assert fit.customers == 946
    close_to({"p": 6.25, "q": 3.74, "v": 15.44}, fit)


def test_collapsing_keeps_the_likelihood_and_maps_customers_back() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 500).astype(float)
    age = rng.integers(20, 30, 500).astype(float)
    recency = np.where(x > 0, np.floor(age * rng.random(500)), 0.0)
    params = np.array([0.5, 6.0, 0.9, 3.0])

    histories, inverse = lifetime.collapse(x, recency, age)
    one_each = lifetime.Histories(x, recency, age, np.ones(500))

    assert len(histories.frequency) < 500
    assert histories.customers == 500
    assert np.array_equal(histories.frequency[inverse], x)
    assert np.array_equal(histories.recency[inverse], recency)
    assert np.array_equal(histories.age[inverse], age)
    for model in (lifetime.BgNbd(), lifetime.ParetoNbd()):
        collapsed = np.dot(histories.weight, model.log_likelihood(params, histories))
        assert collapsed == pytest.approx(model.log_likelihood(params, one_each).sum(), rel=1e-12)


def gamma_pdf(shape: float, rate: float) -> Callable[[float], float]:
    # Written out: scipy.stats' frozen distributions cost more per call than the integrand.
    constant = shape * math.log(rate) - math.lgamma(shape)
    return lambda value: math.exp(constant + (shape - 1) * math.log(value) - rate * value)


def beta_pdf(a: float, b: float) -> Callable[[float], float]:
    constant = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    return lambda value: math.exp(
        constant + (a - 1) * math.log(value) + (b - 1) * math.log1p(-value)
    )


HISTORIES = [(0, 0.0, 12.0), (1, 4.0, 12.0), (3, 9.5, 12.0), (6, 7.0, 20.0)]


def _one(x: float, t_x: float, age: float) -> lifetime.Histories:
    return lifetime.Histories(np.array([x]), np.array([t_x]), np.array([age]), np.ones(1))


@pytest.mark.parametrize(("x", "t_x", "age"), HISTORIES)
def test_bg_nbd_likelihood_is_the_model_integrated(x: int, t_x: float, age: float) -> None:
    r, alpha, a, b = 0.8, 5.0, 1.3, 2.2
    rate, drop = gamma_pdf(r, alpha), beta_pdf(a, b)

    def individual(p: float, lam: float) -> float:
        stays = (1 - p) ** x * lam**x * math.exp(-lam * age)
        leaves = p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) if x > 0 else 0.0
        return float((stays + leaves) * rate(lam) * drop(p))

    expected, _ = integrate.dblquad(individual, 0, 40, 0, 1, epsabs=0, epsrel=1e-7)

    closed = lifetime.BgNbd().log_likelihood(np.array([r, alpha, a, b]), _one(x, t_x, age))
    assert closed[0] == pytest.approx(math.log(expected), rel=1e-4)


@pytest.mark.parametrize(("x", "t_x", "age"), HISTORIES)
@pytest.mark.parametrize("beta", [2.0, 9.0])
def test_pareto_nbd_likelihood_is_the_model_integrated(
    x: int, t_x: float, age: float, beta: float
) -> None:
    # Both branches of the closed form: alpha above beta and below it.
    r, alpha, s = 0.8, 5.0, 1.4
    rate, death = gamma_pdf(r, alpha), gamma_pdf(s, beta)

    def individual(mu: float, lam: float) -> float:
        total = lam + mu
        alive = lam**x * math.exp(-total * age)
        died = mu / total * lam**x * (math.exp(-total * t_x) - math.exp(-total * age))
        return float((alive + died) * rate(lam) * death(mu))

    expected, _ = integrate.dblquad(individual, 0, 40, 0, 40, epsabs=0, epsrel=1e-7)

    closed = lifetime.ParetoNbd().log_likelihood(np.array([r, alpha, s, beta]), _one(x, t_x, age))
    assert closed[0] == pytest.approx(math.log(expected), rel=1e-4)


def test_gamma_gamma_likelihood_is_the_model_integrated() -> None:
    p, q, v = 4.0, 3.0, 20.0
    x, mean_value = 3.0, 17.5

    def density(nu: float) -> float:
        # The mean of x gamma(p, nu) values is gamma(p x, nu x).
        given_nu = stats.gamma(p * x, scale=1 / (nu * x)).pdf(mean_value)
        return float(given_nu * stats.gamma(q, scale=1 / v).pdf(nu))

    expected, _ = integrate.quad(density, 0, np.inf, epsabs=1e-14)

    closed = lifetime.GammaGamma().log_likelihood(
        np.array([p, q, v]), lifetime.Spends(np.array([x]), np.array([mean_value]))
    )
    assert closed[0] == pytest.approx(math.log(expected), rel=1e-6)


def test_the_published_conditional_expectation() -> None:
    """Fader, Hardie and Lee (2005), section 5: a CDNOW customer with 2 repeat purchases, the
    last at 30.43 weeks of 38.86, is expected to make 1.226 in the next 39 weeks."""
    params = np.array([0.2426, 4.414, 0.7929, 2.4259])

    expected = lifetime.BgNbd().expected_purchases(params, _one(2, 30.43, 38.86), 39.0)

    assert expected[0] == pytest.approx(1.226, abs=0.001)


def simulate_bg_nbd(
    customers: int, params: dict[str, float], *, calibration: float, holdout: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD customers (continuous time), first purchases spread over the calibration period:
    their calibration histories, and their purchases in the holdout period after it."""
    rng = np.random.default_rng(seed)
    first = rng.uniform(0, calibration, customers)
    age = calibration - first
    rate = rng.gamma(params["r"], 1 / params["alpha"], customers)
    drop = rng.beta(params["a"], params["b"], customers)
    frequency, recency, later = (np.zeros(customers) for _ in range(3))
    clock = np.zeros(customers)
    active = np.arange(customers)
    while len(active):
        clock[active] += rng.exponential(1 / rate[active])
        active = active[clock[active] < age[active] + holdout]
        inside = clock[active] < age[active]
        frequency[active[inside]] += 1
        recency[active[inside]] = clock[active[inside]]
        later[active[~inside]] += 1
        active = active[rng.random(len(active)) >= drop[active]]
    return frequency, recency, age, later


@pytest.mark.slow
def test_fits_and_predictions_match_purchases_drawn_from_the_model() -> None:
    truth = {"r": 0.6, "alpha": 8.0, "a": 0.7, "b": 3.0}
    x, t_x, age, later = simulate_bg_nbd(20_000, truth, calibration=52.0, holdout=26.0, seed=11)
    histories, inverse = lifetime.collapse(x, t_x, age)

    bg = lifetime.fit_counts(lifetime.BgNbd(), histories)
    pareto = lifetime.fit_counts(
        lifetime.ParetoNbd(), histories, start=lifetime.ParetoNbd().start_from(bg, histories)
    )

    assert bg.converged
    for name, value in truth.items():
        error = bg.standard_errors[name]
        assert error is not None
        assert abs(bg.parameters[name] - value) < 3 * error, name
    assert pareto.converged
    for model, fit in ((lifetime.BgNbd(), bg), (lifetime.ParetoNbd(), pareto)):
        predicted = model.expected_purchases(fit.values(), histories, 26.0)[inverse]
        assert predicted.sum() == pytest.approx(later.sum(), rel=0.05), fit.model
        # Customers who bought more before buy more after, as predicted, on average.
        for group in (x == 0, x == 1, (x >= 2) & (x < 5), x >= 5):
            assert predicted[group].mean() == pytest.approx(later[group].mean(), rel=0.2, abs=0.05)
        alive = model.probability_alive(fit.values(), histories)
        assert np.all((alive >= 0) & (alive <= 1))


def test_probability_alive_falls_the_longer_a_buyer_is_silent() -> None:
    for model, params in (
        (lifetime.BgNbd(), np.array([0.2426, 4.414, 0.7929, 2.4259])),
        (lifetime.ParetoNbd(), np.array([0.553, 10.58, 0.606, 11.67])),
    ):
        silent = lifetime.Histories(
            np.full(4, 3.0), np.full(4, 10.0), np.array([10.0, 20.0, 40.0, 80.0]), np.ones(4)
        )
        alive = model.probability_alive(params, silent)
        assert np.all(np.diff(alive) < 0)
        assert np.all((alive > 0) & (alive <= 1))


def test_discounting_and_the_time_to_the_next_purchase() -> None:
    model, params = lifetime.BgNbd(), np.array([0.2426, 4.414, 0.7929, 2.4259])
    h = lifetime.Histories(
        np.array([0.0, 2.0, 20.0]), np.array([0.0, 30.0, 38.0]), np.full(3, 39.0), np.ones(3)
    )
    undiscounted = lifetime.discounted_purchases(
        model, params, h, horizon=52.0, rate_per_unit=0.0, steps=12
    )
    discounted = lifetime.discounted_purchases(
        model, params, h, horizon=52.0, rate_per_unit=0.002, steps=12
    )
    assert undiscounted == pytest.approx(model.expected_purchases(params, h, 52.0))
    assert np.all(discounted < undiscounted)

    when = lifetime.time_to_purchases(model, params, h, purchases=1.0, within=52.0)

    # The frequent buyer within weeks, the one-off buyer not within the year.
    assert math.isnan(when[0])
    assert when[2] < when[1] < 52.0
    reached = model.expected_purchases(params, h, when)
    assert reached[1:] == pytest.approx(1.0, abs=1e-6)


def test_a_store_without_repeat_buyers_does_not_converge() -> None:
    histories, _ = lifetime.collapse(np.zeros(50), np.zeros(50), np.full(50, 30.0))

    assert not lifetime.fit_counts(lifetime.BgNbd(), histories).converged
    assert not lifetime.fit_spend(lifetime.Spends(np.empty(0), np.empty(0))).converged
