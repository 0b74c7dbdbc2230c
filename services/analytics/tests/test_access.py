"""The access matrix (analytics/access.py) on the running app, entry by entry and role by role,
and its table in docs/roles.md (`crm_common.testing.access.MatrixTests`); and an app whose routes
and matrix disagree refused."""

import dataclasses

import pytest
from analytics.access import ACCESS
from analytics.config import Settings
from analytics.main import create_app
from crm_common.access import EVERYONE, AccessMatrixError
from crm_common.testing.access import MatrixTests


class TestAccess(MatrixTests):
    access = ACCESS
    module = "analytics.access"
    app = staticmethod(create_app)


def test_an_app_and_a_matrix_that_disagree_are_refused() -> None:
    offline = Settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_public_key="(none: the matrix only)",
    )
    app = create_app(offline)
    assert app.state.access is ACCESS
    without = dict(ACCESS.rules)
    del without[("GET", "/v1/kpis")]
    with pytest.raises(AccessMatrixError, match="no access rule for GET /v1/kpis"):
        dataclasses.replace(ACCESS, rules=without).check(app)
    stale = {**ACCESS.rules, ("DELETE", "/v1/kpis"): EVERYONE}
    with pytest.raises(AccessMatrixError, match="DELETE /v1/kpis, which is not served"):
        dataclasses.replace(ACCESS, rules=stale).check(app)
