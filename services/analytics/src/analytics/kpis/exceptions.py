from collections.abc import Sequence

from crm_common.problems import ProblemError


class MixedCurrencies(ProblemError):
    """Amounts in different currencies cannot be added up; the caller has to pick one."""

    def __init__(self, currencies: Sequence[str]) -> None:
        super().__init__(
            409,
            f"the orders in this window are in {', '.join(currencies)}: "
            "pass the `currency` query parameter to choose one",
            title="More than one currency",
        )
        self.currencies = tuple(currencies)
