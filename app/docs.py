"""The interactive API documentation (/docs), served from packaged Swagger UI assets.

FastAPI's default page loads Swagger UI from a CDN, which leaves it blank on a machine
without internet access; here the assets come from the `swagger-ui-bundle` package.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/static/swagger-ui"


def install_docs(app: FastAPI) -> None:
    """Serve /docs with local assets; like /openapi.json, it needs no key."""

    async def docs_page(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    app.add_route("/docs", docs_page, include_in_schema=False)
