"""GET /docs on the local runner: Swagger UI over the agents' API document (GET /openapi.json, served by the
stack itself), with the dev agent token filled in, so routes can be tried from the browser.

Only the local runner serves it; in AWS the document is at /openapi.json and any Swagger UI or client generator
can read it. The page loads swagger-ui-dist from a CDN: the browser fetches it, never the tests.
"""

from __future__ import annotations

import html
import json

from infra.local.http_api_payload import HttpResponse

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
# Pinned: a new major of Swagger UI must not change the page under us (npm: swagger-ui-dist).
SWAGGER_UI_DIST = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard agent API (local)</title>
<link rel="stylesheet" href="{dist}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{dist}/swagger-ui-bundle.js" crossorigin="anonymous"></script>
<script>
window.onload = function () {{
  const ui = SwaggerUIBundle({{
    url: {openapi_url},
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    // Swagger UI's Authorize button holds the bearer token; the dev agent token of this run is filled in.
    onComplete: function () {{ if ({token}) {{ ui.preauthorizeApiKey("bearerAuth", {token}); }} }},
  }});
  window.ui = ui;
}};
</script>
<noscript>Swagger UI needs JavaScript; the document itself is at <a href="{openapi_href}">{openapi_href}</a>.</noscript>
</body>
</html>
"""


def swagger_ui_page(dev_token: str = "") -> HttpResponse:
    """The page, pointing at this stack's own /openapi.json (same origin: no CORS needed)."""
    body = _PAGE.format(
        dist=SWAGGER_UI_DIST,
        openapi_url=json.dumps(OPENAPI_PATH),
        openapi_href=html.escape(OPENAPI_PATH),
        # json.dumps keeps the token a JS string; a JWT holds no "<" to close the script element early.
        token=json.dumps(dev_token),
    )
    return HttpResponse(
        200,
        [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")],
        body.encode("utf-8"),
    )
