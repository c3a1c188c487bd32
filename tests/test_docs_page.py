"""The API documentation page works offline: its Swagger UI assets are served locally."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_docs_page_loads_its_assets_from_the_service_itself(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", worker=False, index=False, admin_key=None)
    client = TestClient(create_app(settings), client=("203.0.113.9", 50000))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert client.get("/static/swagger-ui/swagger-ui.css").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Intelligent Monitoring"
