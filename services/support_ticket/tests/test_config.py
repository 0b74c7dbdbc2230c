import pytest
from support_ticket.config import Settings


def test_settings_come_from_support_ticket_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUPPORT_TICKET_MONGODB_URL", "mongodb://mongo:27017")
    monkeypatch.delenv("SUPPORT_TICKET_MONGODB_DATABASE", raising=False)
    monkeypatch.setenv("MONGODB_DATABASE", "someone_else")

    settings = Settings()

    assert settings.mongodb_url == "mongodb://mongo:27017"
    assert settings.mongodb_database == "support_ticket"
    assert settings.consumer_group_prefix == "support_ticket"
    assert (settings.service_name, settings.http_port) == ("support-ticket", 8004)
