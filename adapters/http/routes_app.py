"""``GET /app/``: the staff web inbox, a static page that talks to the public API only.

Everything is served from ``adapters/http/static`` by this process: no CDN, works
offline. A strict Content-Security-Policy allows scripts, styles and connections from
this origin only and no inline script or style, so a text such as
``<img src=x onerror=…>`` could not run even if it were ever inserted as markup.
The bearer token never reaches this route: it travels in the URL fragment.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from domain.errors import NotFound

router = APIRouter(tags=["web inbox"], include_in_schema=False)
STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           # A new deploy is picked up at the next load; the files are small.
           "Cache-Control": "no-cache"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@router.get("/app")
def app_without_slash():
    """Relative asset paths need the trailing slash."""
    return RedirectResponse("/app/", status_code=308)


@router.get("/app/")
def app_page():
    """The page itself; it reads the token from ``#token=…``."""
    return FileResponse(STATIC / "index.html", media_type=TYPES[".html"], headers=HEADERS)


@router.get("/app/{asset}")
def app_asset(asset: str):
    """One of the page's own files, by exact name (nothing outside ``static/``)."""
    path = STATIC / asset
    if "/" in asset or path.suffix not in TYPES or path.name.startswith(".") or not path.is_file():
        raise NotFound("No such file.")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=HEADERS)
