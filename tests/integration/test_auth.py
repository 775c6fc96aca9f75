"""Authentication and authorisation on every endpoint (API.md "Authentication"), against the running services.

Missing token: 401 `missing_token`; forged, expired or malformed: 401 `invalid_token`; valid token of a role the
endpoint does not serve: 403 `role_forbidden`; right role, another site/kitchen: 403 `scope_forbidden`. Every
refused request is problem+json and leaves the service's database exactly as it was. /healthz, /readyz and
/metrics need no token. In prod a default or missing AUTH_SECRET stops the service at start.
"""

import base64
import json
import time
import uuid
import warnings
from datetime import timedelta
from typing import Any

import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.order.adapters.tables import MealOrder, StandingOrder
from shared.auth import issue_token
from shared.settings import DEV_SECRET, InsecureSettings, load_settings
from tests.conftest import settings_for
from tests.integration.test_bad_input import (
    CARD,
    CITY,
    DAY,
    DISTRICT,
    KITCHEN,
    MENU,
    ORDER,
    QUOTE,
    STANDING,
    assert_problem,
    diff,
    snapshot,
)

pytestmark = pytest.mark.timeout(90)
SERVICES = ["central_kitchen", "pricing", "order", "delivery"]
ROLES = ["pos", "kitchen", "driver", "admin"]
SCOPES = {"pos": "s1", "kitchen": "k1", "driver": "d1", "admin": None}
ORDER_ID = "00000000-0000-4000-8000-000000000001"
STRONG_SECRET = "a-long-random-production-secret-0123456789abcdef"

# Every endpoint under /v1 with the roles API.md (or, where API.md is silent, the service's design) lets in,
# and a valid request: if authentication were skipped, it would succeed and store something.
ENDPOINTS: dict[str, list[tuple[str, str, frozenset[str], Any]]] = {
    "central_kitchen": [
        ("PUT", "/v1/sites/{site_id}", frozenset({"admin"}), KITCHEN),
        ("GET", "/v1/sites", frozenset({"admin", "kitchen"}), None),
        ("GET", "/v1/sites/{site_id}", frozenset({"admin", "kitchen"}), None),
        ("PUT", "/v1/menus/{kitchen_id}/{service_date}/{meal_slot}", frozenset({"admin"}), MENU),
        ("GET", "/v1/menus/{kitchen_id}/{service_date}/{meal_slot}", frozenset({"admin", "kitchen"}), None),
        ("GET", "/v1/plans/{kitchen_id}/{service_date}/{meal_slot}", frozenset({"admin", "kitchen"}), None),
    ],
    "pricing": [
        ("PUT", "/v1/cards/{card_id}", frozenset({"admin"}), CARD),
        ("GET", "/v1/cards", frozenset({"admin"}), None),
        ("GET", "/v1/cards/{card_id}", frozenset({"admin"}), None),
        ("GET", "/v1/cards/{card_id}/wallet", frozenset({"admin"}), None),
        ("GET", "/v1/cards/{card_id}/meals", frozenset({"admin"}), None),
        ("POST", "/v1/cards/{card_id}/topups", frozenset({"admin"}), {"amount_fen": 1000}),
        ("GET", "/v1/policies/city", frozenset({"admin"}), None),
        ("PUT", "/v1/policies/city", frozenset({"admin"}), CITY),
        ("GET", "/v1/policies/districts", frozenset({"admin"}), None),
        ("PUT", "/v1/policies/districts/{district}", frozenset({"admin"}), DISTRICT),
        ("POST", "/v1/quotes", frozenset({"pos", "admin"}), QUOTE),
        ("GET", "/v1/settlements/{period}", frozenset({"admin"}), None),
        ("POST", "/v1/settlements/{period}/close", frozenset({"admin"}), None),
    ],
    "order": [
        ("POST", "/v1/orders", frozenset({"pos", "admin"}), ORDER),
        ("GET", "/v1/orders/{order_id}", frozenset({"pos", "admin"}), None),
        ("POST", "/v1/orders/{order_id}/cancel", frozenset({"pos", "admin"}), None),
        ("POST", "/v1/quotes", frozenset({"pos", "admin"}), QUOTE),
        ("GET", "/v1/sites/{site_id}/menu", frozenset({"pos", "admin"}), None),
        (
            "PUT",
            "/v1/sites/{site_id}/availability/{service_date}/{meal_slot}/{menu_item_id}",
            frozenset({"pos", "admin"}),
            {"portions_left": 5},
        ),
        ("POST", "/v1/standing-orders", frozenset({"pos", "admin"}), STANDING),
        ("GET", "/v1/standing-orders", frozenset({"pos", "admin"}), None),
        ("PATCH", "/v1/standing-orders/{standing_order_id}", frozenset({"pos", "admin"}), {"active": False}),
        ("POST", "/v1/standing-orders/materialize", frozenset({"admin"}), None),
    ],
    "delivery": [
        ("GET", "/v1/deliveries", frozenset({"admin", "kitchen"}), None),
    ],
}
PATH_VALUES = {
    "site_id": "s1",
    "kitchen_id": "k1",
    "service_date": str(DAY),
    "meal_slot": "lunch",
    "card_id": "card-1",
    "district": "xihu",
    "order_id": ORDER_ID,
    "standing_order_id": ORDER_ID,
    "menu_item_id": "m-rice",
    "period": "2026-01",
}
QUERIES = {
    "/v1/deliveries": f"?service_date={DAY}&meal_slot=lunch",
    "/v1/sites/{site_id}/menu": f"?service_date={DAY}&meal_slot=lunch",
}


def url(template: str) -> str:
    return template.format(**PATH_VALUES) + QUERIES.get(template, "")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """A token with alg "none" and no signature."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "x", "role": "admin", "exp": int(time.time()) + 600, **extra}


def hs512(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():  # the 44-byte dev secret is short for HS512; the token is meant to be refused anyway
        warnings.simplefilter("ignore")
        return jwt.encode(claims, DEV_SECRET, algorithm="HS512")


def tampered() -> str:
    """A pos token whose payload was rewritten to admin, keeping the original signature."""
    header, _, signature = issue_token(DEV_SECRET, sub="till", role="pos", scope="s1").split(".")
    return f"{header}.{_b64(_claims(role='admin'))}.{signature}"


BAD_CREDENTIALS: list[tuple[str, dict[str, str], str]] = [
    ("no_header", {}, "missing_token"),
    ("basic_scheme", {"Authorization": "Basic YWRtaW46YWRtaW4="}, "missing_token"),
    ("bearer_without_token", {"Authorization": "Bearer "}, "missing_token"),
    ("raw_token_without_scheme", {"Authorization": issue_token(DEV_SECRET, sub="a", role="admin")}, "missing_token"),
    ("garbage", bearer("not-a-jwt"), "invalid_token"),
    ("three_garbage_parts", bearer("abc.def.ghi"), "invalid_token"),
    ("other_secret", bearer(issue_token("another-secret-of-sufficient-length-123456", sub="a", role="admin")), "invalid_token"),
    ("expired", bearer(issue_token(DEV_SECRET, sub="a", role="admin", ttl_s=-60)), "invalid_token"),
    ("alg_none", bearer(unsigned(_claims())), "invalid_token"),
    ("hs512_same_secret", bearer(hs512(_claims())), "invalid_token"),
    ("payload_tampered", bearer(tampered()), "invalid_token"),
    ("no_exp", bearer(jwt.encode({"sub": "a", "role": "admin"}, DEV_SECRET, algorithm="HS256")), "invalid_token"),
    ("unknown_role", bearer(jwt.encode(_claims(role="root"), DEV_SECRET, algorithm="HS256")), "invalid_token"),
    ("pos_without_site_id", bearer(jwt.encode(_claims(role="pos"), DEV_SECRET, algorithm="HS256")), "invalid_token"),
]


def request_args(template: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    args: dict[str, Any] = {"headers": {**headers, "Idempotency-Key": str(uuid.uuid4())}}
    if body is not None:
        args["json"] = body
    return args


def test_endpoint_table_lists_every_endpoint() -> None:
    """A new endpoint must be added to ENDPOINTS, so that it gets these auth checks too."""
    for name in SERVICES:
        module = __import__(f"services.{name}.main", fromlist=["create_app"])
        app = module.create_app(settings_for(name, database_url="sqlite+aiosqlite:///:memory:", nats_url="nats://127.0.0.1:1"))
        paths = app.openapi()["paths"]
        routes = {(method.upper(), path) for path, ops in paths.items() if path.startswith("/v1") for method in ops}
        assert routes == {(m, p) for m, p, _, _ in ENDPOINTS[name]}, name


@pytest.mark.parametrize("name", SERVICES)
async def test_missing_and_bad_tokens_are_401_on_every_endpoint(start_service, name) -> None:  # type: ignore[no-untyped-def]
    app, client = await start_service(name)
    before = await snapshot(app)
    failures = []
    for method, template, _, body in ENDPOINTS[name]:
        for label, headers, code in BAD_CREDENTIALS:
            response = await client.request(method, url(template), **request_args(template, body, headers))
            try:
                assert_problem(response, 401, code)
            except AssertionError as exc:
                failures.append(f"{method} {template} with {label}: {exc}")
    assert not failures, "\n".join(failures)
    assert diff(before, await snapshot(app)) == ""


@pytest.mark.parametrize("name", SERVICES)
async def test_wrong_role_is_403_and_right_role_gets_through(start_service, token, name) -> None:  # type: ignore[no-untyped-def]
    """E.g. pos calling PUT /v1/sites, driver calling PUT /v1/cards, pos calling GET /v1/plans: 403 role_forbidden."""
    app, client = await start_service(name)
    before = await snapshot(app)
    failures = []
    for method, template, allowed, body in ENDPOINTS[name]:
        for role in sorted(set(ROLES) - allowed):
            response = await client.request(method, url(template), **request_args(template, body, token(role, SCOPES[role])))
            try:
                assert_problem(response, 403, "role_forbidden")
            except AssertionError as exc:
                failures.append(f"{method} {template} as {role}: {exc}")
    assert not failures, "\n".join(failures)
    assert diff(before, await snapshot(app)) == ""
    # the table is not over-strict: each allowed role (in its own scope) gets past authentication
    for method, template, allowed, body in ENDPOINTS[name]:
        for role in sorted(allowed):
            response = await client.request(method, url(template), **request_args(template, body, token(role, SCOPES[role])))
            assert response.status_code not in (401, 403), (method, template, role, response.text)


# A till of site s1 acting for s2, a kitchen k1 reading for k2 (each followed by the same call in its own scope).
SCOPE_CASES = [
    ("pricing", "POST", "/v1/quotes", {**QUOTE, "site_id": "s2"}, ("pos", "s1"), ("pos", "s2")),
    ("order", "POST", "/v1/quotes", {**QUOTE, "site_id": "s2"}, ("pos", "s1"), ("pos", "s2")),
    ("order", "POST", "/v1/orders", {**ORDER, "site_id": "s2"}, ("pos", "s1"), ("pos", "s2")),
    ("delivery", "GET", f"/v1/deliveries?service_date={DAY}&meal_slot=lunch&kitchen_id=k2", None, ("kitchen", "k1"), ("kitchen", "k2")),
    ("central_kitchen", "GET", f"/v1/plans/k2/{DAY}/lunch", None, ("kitchen", "k1"), ("kitchen", "k2")),
    ("central_kitchen", "GET", f"/v1/menus/k2/{DAY}/lunch", None, ("kitchen", "k1"), ("kitchen", "k2")),
    ("order", "POST", "/v1/standing-orders", {**STANDING, "site_id": "s2"}, ("pos", "s1"), ("pos", "s2")),
    ("order", "GET", f"/v1/sites/s2/menu?service_date={DAY}&meal_slot=lunch", None, ("pos", "s1"), ("pos", "s2")),
    ("order", "PUT", f"/v1/sites/s2/availability/{DAY}/lunch/m-rice", {"portions_left": 0}, ("pos", "s1"), ("pos", "s2")),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "caller", "owner"), SCOPE_CASES, ids=[f"{c[0]}:{c[1]} {c[2][:20]}" for c in SCOPE_CASES]
)
async def test_other_scope_is_403(start_service, token, name, method, path, body, caller, owner) -> None:  # type: ignore[no-untyped-def]
    app, client = await start_service(name)
    before = await snapshot(app)
    response = await client.request(method, path, **request_args(path, body, token(*caller)))
    assert_problem(response, 403, "scope_forbidden")
    assert diff(before, await snapshot(app)) == ""
    response = await client.request(method, path, **request_args(path, body, token(*owner)))
    assert response.status_code not in (401, 403), response.text


async def test_till_cannot_touch_another_sites_orders(start_service, token) -> None:  # type: ignore[no-untyped-def]
    app, client = await start_service("order")
    tomorrow = DAY + timedelta(days=1)
    row = MealOrder(
        site_id="s2", kitchen_id="k1", channel="pickup", service_date=tomorrow, meal_slot="lunch", payment_method="cash", status="confirmed"
    )
    standing = StandingOrder(
        card_id="card-1",
        site_id="s2",
        channel="pickup",
        meal_slot="lunch",
        weekdays=[1],
        items=[],
        payment_method="cash",
        starts_on=DAY + timedelta(days=60),
    )
    async with app.state.db.transaction() as session:
        session.add_all([row, standing])
    before = await snapshot(app)
    s1 = token("pos", "s1")
    assert_problem(await client.get(f"/v1/orders/{row.order_id}", headers=s1), 403, "scope_forbidden")
    assert_problem(await client.post(f"/v1/orders/{row.order_id}/cancel", headers=s1), 403, "scope_forbidden")
    patch = f"/v1/standing-orders/{standing.standing_order_id}"
    assert_problem(await client.patch(patch, json={"active": False}, headers=s1), 403, "scope_forbidden")
    listed = await client.get("/v1/standing-orders", headers=s1)
    assert listed.status_code == 200 and listed.json() == []  # another site's standing orders are not listed
    assert diff(before, await snapshot(app)) == ""
    own = await client.get(f"/v1/orders/{row.order_id}", headers=token("pos", "s2"))
    assert own.status_code == 200 and own.json()["status"] == "confirmed"
    assert [s["site_id"] for s in (await client.get("/v1/standing-orders", headers=token("pos", "s2"))).json()] == ["s2"]


async def test_kitchen_reading_deliveries_without_kitchen_id_sees_its_own(start_service, token) -> None:  # type: ignore[no-untyped-def]
    _, client = await start_service("delivery")
    response = await client.get(f"/v1/deliveries?service_date={DAY}&meal_slot=lunch", headers=token("kitchen", "k1"))
    assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize("name", SERVICES)
async def test_health_and_metrics_need_no_token(start_service, token, name) -> None:  # type: ignore[no-untyped-def]
    _, client = await start_service(name)
    await client.get("/v1/anything", headers=token("admin"))  # something for the latency histogram
    for headers in ({}, bearer("garbage")):  # a bad token on an open endpoint is ignored, not refused
        assert (await client.get("/healthz", headers=headers)).status_code == 200
        ready = await client.get("/readyz", headers=headers)
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
        metrics = await client.get("/metrics", headers=headers)
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        samples = [s for family in text_string_to_metric_families(metrics.text) for s in family.samples]
        assert any(
            s.name == "meal_http_request_seconds_count" and s.labels["service"] == name and s.labels["status"] == "404" and s.value >= 1
            for s in samples
        ), metrics.text[:500]


PAGES = {"order": "/pos", "pricing": "/admin"}  # the kitchen's /kds and the driver's /driver join when they are built


@pytest.mark.parametrize("name", sorted(PAGES))
async def test_page_needs_no_token(start_service, name) -> None:  # type: ignore[no-untyped-def]
    _, client = await start_service(name)
    for headers in ({}, bearer("garbage")):
        response = await client.get(PAGES[name], headers=headers)
        assert response.status_code == 200, response.text[:300]
        assert response.headers["content-type"].startswith("text/html")


async def test_tokens_are_checked_against_the_configured_secret(start_service) -> None:  # type: ignore[no-untyped-def]
    _, client = await start_service("pricing", auth_secret=STRONG_SECRET)
    dev = await client.get("/v1/cards/card-1", headers=bearer(issue_token(DEV_SECRET, sub="a", role="admin")))
    assert_problem(dev, 401, "invalid_token")
    own = await client.get("/v1/cards/card-1", headers=bearer(issue_token(STRONG_SECRET, sub="a", role="admin")))
    assert_problem(own, 404, "unknown_card")


# --- prod refuses to start with the default secret ---
@pytest.fixture
def no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    return monkeypatch


def test_prod_settings_with_default_or_empty_secret_are_insecure(no_secret_in_env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InsecureSettings):
        load_settings("pricing", app_env="prod").check_secure()
    with pytest.raises(InsecureSettings):
        load_settings("pricing", app_env="prod", auth_secret="").check_secure()
    load_settings("pricing", app_env="prod", auth_secret=STRONG_SECRET).check_secure()
    load_settings("pricing", app_env="dev").check_secure()  # dev may use the documented default


@pytest.mark.parametrize("name", SERVICES)
def test_prod_app_with_default_secret_refuses_to_build(no_secret_in_env, name) -> None:  # type: ignore[no-untyped-def]
    module = __import__(f"services.{name}.main", fromlist=["create_app"])
    with pytest.raises(InsecureSettings):
        module.create_app(load_settings(name, app_env="prod", database_url="sqlite+aiosqlite:///:memory:"))
    no_secret_in_env.setenv("APP_ENV", "prod")  # the way a deployment sets it
    with pytest.raises(InsecureSettings):
        module.create_app()
    module.create_app(load_settings(name, app_env="prod", auth_secret=STRONG_SECRET, database_url="sqlite+aiosqlite:///:memory:"))


def test_prod_process_stops_before_migrating(no_secret_in_env) -> None:  # type: ignore[no-untyped-def]
    from shared import runner

    no_secret_in_env.setenv("APP_ENV", "prod")
    no_secret_in_env.setattr("sys.argv", ["meal-assist", "migrate"])
    no_secret_in_env.setattr(runner, "upgrade", lambda *a: pytest.fail("migrated with an insecure secret"))
    with pytest.raises(InsecureSettings):
        runner.main("pricing")


def test_prod_settings_with_blank_secret_are_insecure(no_secret_in_env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InsecureSettings):
        load_settings("pricing", app_env="prod", auth_secret="   ").check_secure()
