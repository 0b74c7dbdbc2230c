"""The access matrix (order_sync/access.py) on the running app, entry by entry and role by role,
and its table in docs/roles.md (`crm_common.testing.access.MatrixTests`)."""

from crm_common.testing.access import MatrixTests
from order_sync.access import ACCESS
from order_sync.main import create_app


class TestAccess(MatrixTests):
    access = ACCESS
    module = "order_sync.access"
    app = staticmethod(create_app)
