"""The deployment files parse, and their probes point at routes the server has."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from driftloop.serving import ServerSettings, create_app
from driftloop.workspace import Workspace

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def server_routes(tmp_path: Path) -> set[str]:
    app = create_app(Workspace(tmp_path / "ws"), ServerSettings(models=["houses"]))
    return {getattr(route, "path", "") for route in app.routes}


def test_kubernetes_probes_point_at_existing_routes(tmp_path: Path) -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "serving.yaml").read_text(encoding="utf-8")))
    kinds = {document["kind"] for document in documents}
    assert kinds == {"Deployment", "Service"}
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    routes = server_routes(tmp_path)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in routes
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"] in routes
    service = next(d for d in documents if d["kind"] == "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_dockerfile_serves_and_checks_an_existing_route(tmp_path: Path) -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^ENTRYPOINT \["driftloop", "serve"', text, re.MULTILINE)
    checked = re.findall(r"http://127\.0\.0\.1:8000(/\w+)", text)
    assert checked and set(checked) <= server_routes(tmp_path)
    assert "USER driftloop" in text
