"""The access matrix (customer_profile/access.py) on the running app, entry by entry and role
by role, and its table in docs/roles.md (`crm_common.testing.access.MatrixTests`)."""

from crm_common.testing.access import MatrixTests
from customer_profile.access import ACCESS
from customer_profile.main import create_app


class TestAccess(MatrixTests):
    access = ACCESS
    module = "customer_profile.access"
    app = staticmethod(create_app)
