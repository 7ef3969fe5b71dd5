"""The NOC dashboard: one static page and its script and style, served at ``/``.

    app.include_router(dashboard.router)

The page holds no data of its own and this module never touches the database:
the browser signs in with a NOC token (kept in ``sessionStorage``, sent as a
bearer header, never in a URL) and reads and acts through the JSON API.
Every answer carries a strict Content-Security-Policy, so even a slip in the
script could not run code that arrived as data.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

__all__ = ["router"]

_HERE = Path(__file__).resolve().parent
_PAGE = _HERE / "templates" / "dashboard.html"
_STATIC = _HERE / "static"

# Only these files are served: a fixed list, so no path ever reaches the file system unchecked.
_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # a new release's script must not meet an old cached page
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/")
def dashboard_page() -> FileResponse:
    """The NOC dashboard page."""
    return FileResponse(_PAGE, media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/static/{name}")
def dashboard_asset(name: str) -> FileResponse:
    """The dashboard's script, style sheet and icon."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no static file named {name!r}")
    return FileResponse(_STATIC / name, media_type=media_type, headers=_HEADERS)
