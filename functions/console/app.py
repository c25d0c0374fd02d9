"""GET /console and GET /console/{asset}: the web console's static files (no authorizer).

Only the files bundled in ``static/`` are served, by exact name: the page, its script and
style, and the vendored libraries (dagre for graph layout, swagger-ui for ``/docs``). The
console carries no data: every data call it makes is an ordinary API call with the Bearer key
the person types in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSETS = {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in TYPES}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Everything comes from this API: no other origin is ever contacted by the page.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


def asset(name: str) -> tuple[str, str] | None:
    """The content type and text of a bundled file, or None for any other name."""
    path = ASSETS.get(name)
    if path is None:
        return None
    return TYPES[path.suffix], path.read_text(encoding="utf-8")


def _answer(status: int, content_type: str, body: str, cache: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type, "Cache-Control": cache, **SECURITY_HEADERS},
        "body": body,
        "isBase64Encoded": False,
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = ((event.get("pathParameters") or {}).get("asset")) or "index.html"
    found = asset(name)
    if found is None:
        return _answer(404, "text/plain; charset=utf-8", "Not found\n", "no-store")
    content_type, body = found
    # The page itself is always revalidated; scripts and styles may be kept for an hour.
    cache = "no-cache" if name == "index.html" else "public, max-age=3600"
    return _answer(200, content_type, body, cache)
