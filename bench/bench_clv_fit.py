"""analytics' lifetime-value fits on a million customers: collapse, optimise, predict.

Draws `--customers` purchase histories from a BG/NBD process in days (fixed seed; first
purchases spread over two years, purchases per distinct day, spend per day from Gamma-Gamma),
then times what a store's refit does with them (`analytics.predictions.lifetime`): collapsing
to distinct (frequency, recency, age) rows with weights, the BG/NBD, Pareto/NBD and Gamma-Gamma
maximum-likelihood fits, and every customer's predictions (probability alive, expected orders in
90 and 365 days, discounted value over 365 days, days to the next order). No database: the
figures are the computation's own.

Run by `make bench`, or:
    uv run python bench/bench_clv_fit.py
    uv run python bench/bench_clv_fit.py --customers 200000 --seed 7
"""

import argparse
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from analytics.predictions import lifetime

T = TypeVar("T")

TRUE_COUNTS = {"r": 0.25, "alpha": 20.0, "a": 0.8, "b": 2.5}
TRUE_SPEND = {"p": 6.0, "q": 3.8, "v": 15.0}
WINDOW_DAYS = 730


def simulate(customers: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frequency, recency and age in whole days, and the mean spend of the repeat days."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, WINDOW_DAYS, customers).astype(float)
    rate = rng.gamma(TRUE_COUNTS["r"], 1 / TRUE_COUNTS["alpha"], customers)
    drop = rng.beta(TRUE_COUNTS["a"], TRUE_COUNTS["b"], customers)
    frequency = np.zeros(customers)
    last_day = np.zeros(customers)
    clock = np.zeros(customers)
    # The first purchase starts the clock; a customer may leave after each one that follows.
    active = np.arange(customers)
    while len(active):
        clock[active] += rng.exponential(1 / rate[active])
        active = active[clock[active] < age[active]]
        day = np.floor(clock[active])
        fresh = day > last_day[active]
        frequency[active[fresh]] += 1
        last_day[active[fresh]] = day[fresh]
        active = active[rng.random(len(active)) >= drop[active]]
    nu = rng.gamma(TRUE_SPEND["q"], 1 / TRUE_SPEND["v"], customers)
    repeat = frequency > 0
    mean_value = np.zeros(customers)
    mean_value[repeat] = (
        rng.gamma(TRUE_SPEND["p"] * frequency[repeat], 1 / nu[repeat]) / (frequency[repeat])
    )
    return frequency, last_day, age, mean_value


def timed(label: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = work()
    sys.stdout.write(f"{label:<44} {time.perf_counter() - started:8.2f} s\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()

    frequency, recency, age, mean_value = timed(
        f"simulate {args.customers:,} customers (not part of a fit)",
        lambda: simulate(args.customers, args.seed),
    )
    started = time.perf_counter()
    histories, _ = timed(
        "collapse to distinct histories", lambda: lifetime.collapse(frequency, recency, age)
    )
    bg = timed("fit BG/NBD", lambda: lifetime.fit_counts(lifetime.BgNbd(), histories))
    pareto = timed(
        "fit Pareto/NBD",
        lambda: lifetime.fit_counts(
            lifetime.ParetoNbd(),
            histories,
            start=lifetime.ParetoNbd().start_from(bg, histories),
        ),
    )
    repeat = (frequency > 0) & (mean_value > 0)
    spend = timed(
        "fit Gamma-Gamma",
        lambda: lifetime.fit_spend(lifetime.Spends(frequency[repeat], mean_value[repeat])),
    )
    fitted = time.perf_counter() - started
    model, params = lifetime.BgNbd(), bg.values()

    def predict() -> None:
        model.probability_alive(params, histories)
        model.expected_purchases(params, histories, 90.0)
        model.expected_purchases(params, histories, 365.0)
        lifetime.discounted_purchases(
            model, params, histories, horizon=365.0, rate_per_unit=0.1 / 365, steps=12
        )
        lifetime.time_to_purchases(model, params, histories, purchases=1.0, within=365.0)

    timed("predict every distinct history", predict)
    out = sys.stdout.write
    out(
        f"\ndistinct histories: {len(histories.frequency):,} of {histories.customers:,} customers\n"
    )
    out(f"fit time, collapse to the three fits: {fitted:.2f} s\n")
    for fit, truth in ((bg, TRUE_COUNTS), (pareto, None), (spend, TRUE_SPEND)):
        shown = ", ".join(
            f"{name} {value:.4g}" + (f" (true {truth[name]:g})" if truth else "")
            for name, value in fit.parameters.items()
        )
        out(f"{fit.model:<12} LL {fit.log_likelihood:14,.1f}  converged {fit.converged}  {shown}\n")


if __name__ == "__main__":
    main()
