"""The dashboards and alerts read metrics the services expose, and compose wires them up."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .conftest import PORTS, ROOT

pytestmark = pytest.mark.integration

OBSERVABILITY = ROOT / "deploy/observability"
DASHBOARDS = sorted((OBSERVABILITY / "grafana/dashboards").glob("*.json"))
ALERTS = OBSERVABILITY / "prometheus/alerts.yml"
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
_PROMQL_WORDS |= {"unless", "bool", "offset", "inf", "nan"}


def dashboard_queries(path: Path) -> Iterator[str]:
    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield item
            yield from panels(item.get("panels", []))

    dashboard = json.loads(path.read_text())
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield target["expr"]


def alert_queries() -> Iterator[str]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule["expr"]


def metric_names(expr: str) -> set[str]:
    """The series an expression selects: identifiers that are no function, keyword or label."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare)
    return {name for name in names if name.lower() not in _PROMQL_WORDS}


async def exposed_series(http: dict[str, httpx.AsyncClient]) -> set[str]:
    """Every series name some service can expose, histograms' bucket, sum and count included."""
    series: set[str] = set()
    for client in http.values():
        response = await client.get("/metrics")
        assert response.status_code == 200, response.text
        for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", response.text, re.MULTILINE):
            series.add(name)
            if kind == "histogram":
                series |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return series


def test_the_queries_are_read_as_promql_is() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) (rate(crm_http_request_seconds_bucket"
        '{service=~"$service",status=~"5.."}[$__rate_interval]))) / on (service) up > 1'
    )
    assert metric_names(expr) == {"crm_http_request_seconds_bucket", "up"}


@pytest.mark.parametrize(
    "source", [*DASHBOARDS, ALERTS], ids=lambda path: str(path.relative_to(ROOT))
)
async def test_every_query_reads_metrics_the_services_expose(
    source: Path, http: dict[str, httpx.AsyncClient]
) -> None:
    queries = list(alert_queries() if source == ALERTS else dashboard_queries(source))
    assert queries, f"{source} has no query"
    exposed = await exposed_series(http)
    unknown = {name for expr in queries for name in metric_names(expr)} - exposed
    assert not unknown, f"{source.name} reads metrics no service exposes: {sorted(unknown)}"


def test_compose_sends_every_services_spans_and_metrics_to_the_observability_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    scrape = yaml.safe_load((OBSERVABILITY / "prometheus/prometheus.yml").read_text())
    targets = {
        config["labels"]["service"]: config["targets"]
        for job in scrape["scrape_configs"]
        for config in job["static_configs"]
    }
    for name, port in PORTS.items():
        prefix = name.upper().replace("-", "_")
        environment = compose[name]["environment"]
        assert environment[f"{prefix}_OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert int(environment[f"{prefix}_HTTP_PORT"]) == port
        assert targets[name] == [f"{name}:{port}"]
    collector = yaml.safe_load((OBSERVABILITY / "otel-collector.yaml").read_text())
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert {"otel-collector", "jaeger", "prometheus", "grafana"} <= compose.keys()
    mounted = {volume.split(":")[1] for volume in compose["grafana"]["volumes"]}
    provider = yaml.safe_load(
        (OBSERVABILITY / "grafana/provisioning/dashboards/crm.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] in mounted
