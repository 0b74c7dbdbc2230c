"""The access matrix (support_ticket/access.py) on the running app, entry by entry and role by role,
and its table in docs/roles.md (`crm_common.testing.access.MatrixTests`)."""

from crm_common.testing.access import MatrixTests
from support_ticket.access import ACCESS
from support_ticket.main import create_app


class TestAccess(MatrixTests):
    access = ACCESS
    module = "support_ticket.access"
    app = staticmethod(create_app)
