"""The access matrix (campaign/access.py) on the running app, entry by entry and role by role,
and its table in docs/roles.md (`crm_common.testing.access.MatrixTests`)."""

from campaign.access import ACCESS
from campaign.main import create_app
from crm_common.testing.access import MatrixTests


class TestAccess(MatrixTests):
    access = ACCESS
    module = "campaign.access"
    app = staticmethod(create_app)
