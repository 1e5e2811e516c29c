"""The operator console over HTTP (issue 17): the page and its assets come from the gateway under
a strict Content-Security-Policy with no inline script or style; only an admin gets a session;
the session is an HttpOnly, SameSite=Strict cookie that the admin API accepts only from the
console's own origin; no token is ever in a URL or readable by the page; the live order
stream shows a new order within 2 seconds."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest

from services.gateway.admin import create_admin
from tests.support.console import (
    CONSOLE_HEADER,
    console_session,
    next_event_where,
    server_events,
)
from tests.support.gateway_service import (
    PASSWORD,
    Gateway,
    gateway,
    market_buy,
    new_key,
)

pytestmark = pytest.mark.integration
__all__ = ["gateway"]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
NAV = ["Orders", "Accounts", "Kill switches", "Restrictions", "Dead letters", "System", "Audit"]


class Page(HTMLParser):
    """What the page loads and names: scripts, styles, links, labels, buttons, nav links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_code: list[str] = []
        self.inline_styles: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.labels: list[str] = []
        self.buttons: list[str] = []
        self.nav_links: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self._open.append(tag)
        if tag == "script":
            self.scripts.append(values)
        if tag == "style":
            self.inline_styles.append("<style>")
        if "style" in values:
            self.inline_styles.append(f"style= on <{tag}>")
        self.handlers += [name for name in values if name.startswith("on")]
        self.urls += [v for k, v in values.items() if k in ("src", "href", "action") and v]
        if tag == "label":
            self.labels.append("")
        if tag == "button":
            self.buttons.append("")
        if tag == "a" and "nav" in self._open:
            self.nav_links.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text:
            return
        if self._open and self._open[-1] == "script":
            self.inline_code.append(text)
        if "label" in self._open:
            self.labels[-1] = (self.labels[-1] + " " + text).strip()
        if "button" in self._open:
            self.buttons[-1] = (self.buttons[-1] + " " + text).strip()
        if self._open and self._open[-1] == "a" and "nav" in self._open:
            self.nav_links[-1] = text


async def page_of(gateway: Gateway) -> tuple[httpx.Response, Page]:
    response = await gateway.http.get("/console")
    page = Page()
    page.feed(response.text)
    return response, page


async def admin_credentials(gateway: Gateway) -> str:
    email = f"operator-{uuid.uuid4().hex[:8]}@example.com"
    await create_admin(gateway.database_url, email, PASSWORD)
    return email


@pytest.fixture
async def console(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    base_url = str(gateway.http.base_url)
    client = await console_session(base_url, await admin_credentials(gateway), PASSWORD)
    try:
        yield client
    finally:
        await client.aclose()


async def test_the_page_is_served_under_a_strict_csp_with_no_inline_script(
    gateway: Gateway,
) -> None:
    response, page = await page_of(gateway)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert page.scripts and all(script.get("src") for script in page.scripts)
    assert page.inline_code == [], "no inline script"
    assert page.inline_styles == [], "no inline style"
    assert page.handlers == [], "no inline event handlers"


async def test_everything_the_page_loads_comes_from_the_gateway(gateway: Gateway) -> None:
    _, page = await page_of(gateway)
    assets = [url for url in page.urls if not url.startswith("#")]
    assert all(url.startswith("/") and not url.startswith("//") for url in assets), assets
    seen: set[str] = set()
    while assets:
        url = assets.pop()
        if url in seen:
            continue
        seen.add(url)
        asset = await gateway.http.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-security-policy"] == CSP, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], url
            imports = re.findall(r"""from\s+["']([^"']+)["']""", asset.text)
            assert all(i.startswith("./") for i in imports), f"{url} imports {imports}"
            assets += [url.rsplit("/", 1)[0] + "/" + i.removeprefix("./") for i in imports]
            assert "http://" not in asset.text and "https://" not in asset.text, url
    assert any(url.endswith("console.js") for url in seen)
    assert any(url.endswith("orders.js") for url in seen)


async def test_the_page_names_its_controls_as_the_contract_says(gateway: Gateway) -> None:
    _, page = await page_of(gateway)
    assert {"Email", "Password", "TOTP code"} <= set(page.labels)
    assert "Sign in" in page.buttons
    assert page.nav_links == NAV


async def test_someone_who_is_not_an_admin_gets_no_console_session(gateway: Gateway) -> None:
    user = await gateway.register()
    async with httpx.AsyncClient(base_url=str(gateway.http.base_url)) as client:
        refused = await client.post(
            "/v1/admin/session",
            json={"email": user.email, "password": PASSWORD},
            headers=CONSOLE_HEADER,
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        assert "set-cookie" not in refused.headers
        wrong = await client.post(
            "/v1/admin/session",
            json={"email": await admin_credentials(gateway), "password": "not the password"},
            headers=CONSOLE_HEADER,
        )
        assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
        assert (await client.get("/v1/admin/kill-switch")).status_code == 401


async def test_signing_in_sets_an_http_only_strict_cookie_the_admin_api_accepts(
    gateway: Gateway,
) -> None:
    email = await admin_credentials(gateway)
    async with httpx.AsyncClient(base_url=str(gateway.http.base_url)) as client:
        response = await client.post(
            "/v1/admin/session", json={"email": email, "password": PASSWORD}, headers=CONSOLE_HEADER
        )
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "max-age", "samesite"} <= attributes
        assert "samesite=strict" in cookie.lower() and "path=/v1/admin" in cookie.lower()
        token = client.cookies["cryptoorch_console"]
        assert token not in response.text, "the page's script never holds the token"
        assert (await client.get("/v1/admin/kill-switch")).status_code == 200
        assert (await client.get("/v1/admin/session")).json()["user_id"]
        # the session's token is not an API token, and the user API does not take the cookie
        as_bearer = await client.get(
            "/v1/admin/kill-switch", headers={"Authorization": f"Bearer {token}"}
        )
        assert (as_bearer.status_code, as_bearer.json()["code"]) == (401, "token_invalid")
        as_user = await gateway.http.get(
            "/v1/balances", headers={"Cookie": f"cryptoorch_console={token}"}
        )
        assert as_user.status_code == 401
        signed_out = await client.delete("/v1/admin/session", headers=CONSOLE_HEADER)
        assert signed_out.status_code == 204
        assert (await client.get("/v1/admin/kill-switch")).status_code == 401


async def test_a_cross_site_request_with_the_session_is_refused(
    gateway: Gateway, console: httpx.AsyncClient
) -> None:
    release = {"scope": "symbol", "target": "DOGE/USDT", "engaged": False, "reason": "drill"}
    no_header = await console.post("/v1/admin/kill-switch", json=release)
    assert (no_header.status_code, no_header.json()["code"]) == (403, "cross_site_refused")
    other_origin = await console.post(
        "/v1/admin/kill-switch",
        json=release,
        headers={**CONSOLE_HEADER, "Origin": "https://evil.example"},
    )
    assert (other_origin.status_code, other_origin.json()["code"]) == (403, "cross_site_refused")
    cross_site_read = await console.get(
        "/v1/admin/accounts", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert (cross_site_read.status_code, cross_site_read.json()["code"]) == (
        403,
        "cross_site_refused",
    )
    listed = await console.get("/v1/admin/kill-switch")
    assert all(item["target"] != "DOGE/USDT" for item in listed.json()["items"]), "nothing changed"
    same_origin = await console.post(
        "/v1/admin/kill-switch",
        json=release,
        headers={**CONSOLE_HEADER, "Origin": str(gateway.http.base_url).rstrip("/")},
    )
    assert same_origin.status_code == 200, same_origin.text
    login_csrf = await gateway.http.post(
        "/v1/admin/session", json={"email": "a@example.com", "password": "x"}
    )
    assert (login_csrf.status_code, login_csrf.json()["code"]) == (403, "cross_site_refused")


async def test_no_token_is_ever_put_in_a_url(gateway: Gateway) -> None:
    scripts = [
        (await gateway.http.get(f"/console/static/{name}")).text
        for name in (
            "console.js",
            "api.js",
            "orders.js",
            "switches.js",
            "panels.js",
            "timeline.js",
            "restrictions.js",
            "deadletters.js",
        )
    ]
    for text in scripts:
        assert "access_token" not in text and "token=" not in text.lower()
        assert "localStorage" not in text and "sessionStorage" not in text
        assert "document.cookie" not in text
    page, _ = await page_of(gateway)
    assert re.search(r'<form id="sign-in-form" method="post"', page.text), "never a GET form"


async def test_a_new_order_reaches_the_order_stream_within_two_seconds(
    gateway: Gateway, console: httpx.AsyncClient
) -> None:
    trader = await gateway.register()
    async with console.stream("GET", "/v1/admin/orders/stream?max_seconds=30") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = server_events(stream)
        await next_event_where(events, lambda e: e.name == "ready", timeout=5, what="ready")
        placed = await gateway.http.post(
            "/v1/orders", json=market_buy(), headers=trader.auth(new_key())
        )
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["order_id"]
        shown = await next_event_where(
            events,
            lambda e: e.name == "order" and e.json()["order_id"] == order_id,
            timeout=2,
            what=f"order {order_id} on the stream",
        )
    assert shown.json()["account_id"] == trader.user_id
    assert shown.json()["symbol"] == "BTC/USDT"
    listed = await console.get("/v1/admin/orders", params={"account": trader.user_id})
    assert [item["order_id"] for item in listed.json()["items"]] == [order_id]
