import pytest
from campaign.config import Settings


def test_settings_come_from_campaign_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAMPAIGN_DATABASE_URL", "postgresql://crm:crm@db:5432/campaign")
    monkeypatch.setenv("CAMPAIGN_CONSUMER_GROUP_PREFIX", "campaign-blue")
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone-else")

    settings = Settings()

    assert settings.database_url == "postgresql://crm:crm@db:5432/campaign"
    assert settings.consumer_group_prefix == "campaign-blue"
    assert (settings.service_name, settings.http_port) == ("campaign", 8003)
