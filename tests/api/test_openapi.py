"""The OpenAPI description of /api/v1/ and the Swagger UI that shows it, served without any CDN."""

import re

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "/api/v1/alerts/": {"get"},
    "/api/v1/alerts/{id}/": {"get"},
    "/api/v1/alerts/{id}/acknowledge/": {"post"},
    "/api/v1/alerts/{id}/resolve/": {"post"},
    "/api/v1/alert-rules/": {"get"},
    "/api/v1/alert-rules/{kind}/": {"get", "patch"},
    "/api/v1/erp-pushes/": {"get"},
    "/api/v1/erp-pushes/{id}/": {"get"},
    "/api/v1/erp-pushes/{id}/retry/": {"post"},
    "/api/v1/erp-pulls/": {"post"},
    "/api/v1/wms-shipments/": {"get", "post"},
    "/api/v1/reconciliation/": {"get"},
    "/api/v1/reconciliation/periods/": {"get"},
    "/api/v1/shipments/today/": {"get"},
    "/api/v1/work-orders/": {"get"},
    "/api/v1/work-orders/{number}/": {"get"},
    "/api/v1/work-order-operations/{code}/": {"get"},
    "/api/v1/report-events/": {"get", "post"},
    "/api/v1/downtimes/": {"get", "post"},
    "/api/v1/downtimes/end/": {"post"},
    "/api/v1/downtimes/{id}/correct/": {"post"},
    "/api/v1/report-events/{id}/correct/": {"post"},
    "/api/v1/stock-levels/{id}/count/": {"post"},
    "/api/v1/stock-levels/{id}/adjust/": {"post"},
    "/api/v1/sales-orders/": {"get"},
    "/api/v1/sales-orders/{number}/": {"get"},
    "/api/v1/sales-orders/{number}/approve/": {"post"},
    "/api/v1/sales-orders/{number}/force-approve/": {"post"},
    "/api/v1/sales-orders/{number}/reject/": {"post"},
    "/api/v1/sales-orders/{number}/receiver/": {"post"},
    "/api/v1/order-issues/{id}/acknowledge/": {"post"},
    "/api/v1/order-issues/{id}/resolve-change/": {"post"},
    "/api/v1/channel-accounts/": {"get"},
    "/api/v1/channel-accounts/{code}/": {"get"},
    "/api/v1/channel-accounts/{code}/test/": {"post"},
    "/api/v1/channel-accounts/{code}/poll/": {"post"},
    "/api/v1/sync-runs/": {"get"},
    "/api/v1/sync-runs/{id}/": {"get"},
    "/api/v1/sku-mappings/": {"get", "post"},
    "/api/v1/sku-mappings/{id}/": {"get", "delete"},
    "/api/v1/me/": {"get"},
    "/api/v1/teams/": {"get"},
    "/api/v1/teams/{code}/": {"get"},
    "/api/v1/items/": {"get", "post"},
    "/api/v1/items/{code}/": {"get", "put", "patch"},
    "/api/v1/items/{code}/bom/": {"get"},
    "/api/v1/bom-lines/": {"get", "post"},
    "/api/v1/bom-lines/{id}/": {"get", "put", "patch", "delete"},
    "/api/v1/warehouses/": {"get"},
    "/api/v1/warehouses/{code}/": {"get"},
    "/api/v1/stock-levels/": {"get"},
    "/api/v1/stock-levels/{id}/": {"get"},
    "/api/v1/workshops/": {"get"},
    "/api/v1/workshops/{code}/": {"get"},
    "/api/v1/work-centers/": {"get"},
    "/api/v1/work-centers/{code}/": {"get"},
    "/api/v1/operations/": {"get"},
    "/api/v1/operations/{code}/": {"get"},
    "/api/v1/operations/resolve/": {"get"},
    "/api/v1/routing-steps/": {"get"},
    "/api/v1/routing-steps/{id}/": {"get"},
    "/api/v1/dashboards/gantt/": {"get"},
    "/api/v1/dashboards/order-progress/": {"get"},
    "/api/v1/machine-load/": {"get"},
    "/api/v1/oee/": {"get"},
    "/api/v1/downtime-pareto/": {"get"},
    "/api/v1/kpis/": {"get"},
}


def test_it_generates_a_valid_schema_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    # --fail-on-warn turns any warning (an undocumented field, an unresolvable type) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert {path: set(ops) - {"parameters"} for path, ops in schema["paths"].items()} == ENDPOINTS


def test_it_documents_every_operation_parameter_and_field():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not operation.get("description"):
                missing.append(f"{method} {path}")
            missing += [
                f"{method} {path} ?{p['name']}" for p in operation.get("parameters", []) if not p.get("description")
            ]
    for name, component in schema["components"]["schemas"].items():
        missing += [
            f"{name}.{field}" for field, spec in component.get("properties", {}).items() if "description" not in spec
        ]
    assert missing == []


def test_it_documents_the_bom_explosion_and_its_error_body():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    bom = schema["paths"]["/api/v1/items/{code}/bom/"]["get"]
    assert [p["name"] for p in bom["parameters"]] == ["code", "qty"]
    assert set(bom["responses"]) == {"200", "400", "401", "403", "404", "429"}
    assert bom["responses"]["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_every_operation_documents_the_common_errors_in_the_error_body():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    undocumented = [
        f"{method.upper()} {path} {status}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status in ("400", "401", "403", "404", "429")
        if "schema" not in operation["responses"].get(status, {}).get("content", {}).get("application/json", {})
    ]
    assert undocumented == []
    throttled = schema["paths"]["/api/v1/sales-orders/"]["get"]["responses"]["429"]
    assert "Retry-After" in throttled["headers"]
    explosion = schema["components"]["schemas"]["BomExplosion"]["properties"]
    assert set(explosion) == {"root", "qty", "depth", "rows", "totals"}


def test_it_serves_swagger_ui_from_loopline_itself(client, users):
    client.force_login(users[None])
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    # Swagger UI starts from a script file (no inline script under the CSP); that script names the schema.
    script = re.search(r'<script src="([^"]*\?script=[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "/api/schema/" in client.get(script).content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", page)
    assert external == []
    for cdn in ("cdn.", "unpkg", "jsdelivr", "cdnjs"):
        assert cdn not in page
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_it_serves_the_schema_document(client, users):
    client.force_login(users[None])
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "/api/v1/items/{code}/bom/" in response.json()["paths"]
