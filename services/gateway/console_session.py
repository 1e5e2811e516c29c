"""The operator console's session: an admin token in a cookie, and the checks that keep another
site from using it (docs/decisions.md, "The operator console").

The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends
it), `Secure` when the gateway is reached over https, scoped to `/v1/admin` (it never reaches
the user API), and holds a token with `aud: console`, which the bearer check refuses. On top
of SameSite, every state-changing request must carry `X-Requested-By: console` (a header
another site cannot send without a CORS preflight the gateway never grants), and a request
whose `Origin` or `Sec-Fetch-Site` names another origin is refused.
"""

from __future__ import annotations

from starlette.requests import Request

from services.gateway.errors import CrossSiteRefused

COOKIE = "cryptoorch_console"
COOKIE_PATH = "/v1/admin"
AUDIENCE = "console"
REQUEST_HEADER = "X-Requested-By"
REQUEST_HEADER_VALUE = "console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def refuse_cross_site(request: Request) -> None:
    """`CrossSiteRefused` unless this request comes from the gateway's own pages."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in SAME_SITE_FETCHES:
        raise CrossSiteRefused(f"a {fetch_site} request cannot use the console session")
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request):
        raise CrossSiteRefused("a request from another origin cannot use the console session")
    unsafe = request.method not in SAFE_METHODS
    if unsafe and request.headers.get(REQUEST_HEADER) != REQUEST_HEADER_VALUE:
        raise CrossSiteRefused(f"the console sends `{REQUEST_HEADER}: {REQUEST_HEADER_VALUE}`")


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"
