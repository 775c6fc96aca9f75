"""shared.auth without services: issuing and decoding tokens, scopes, the FastAPI dependency, the prod secret check."""

import base64
import json
import time
import warnings
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from shared.auth import SCOPE_CLAIM, Principal, decode_token, issue_token, requires
from shared.errors import Problem
from shared.problem import install_problem_handlers
from shared.settings import DEV_SECRET, InsecureSettings, Settings

SECRET = "unit-test-secret-0123456789-abcdefghijklmnop"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def signed(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():  # HS512 with our 44-byte secret warns; the token is meant to be refused anyway
        warnings.simplefilter("ignore")
        return jwt.encode(claims, secret, algorithm=algorithm)


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "someone", "role": "admin", "exp": int(time.time()) + 600, **extra}


@pytest.mark.parametrize(("role", "scope"), [("pos", "s1"), ("kitchen", "k1"), ("driver", "d1"), ("admin", None)])
def test_issued_token_decodes_to_its_principal(role: str, scope: str | None) -> None:
    token = issue_token(SECRET, sub=f"{role}-1", role=role, scope=scope)
    assert decode_token(SECRET, token) == Principal(sub=f"{role}-1", role=role, scope=scope)
    raw = jwt.decode(token, SECRET, algorithms=["HS256"])
    if role in SCOPE_CLAIM:
        assert raw[SCOPE_CLAIM[role]] == scope  # site_id, kitchen_id, driver_id as API.md names them
    assert raw["exp"] > time.time()


def test_admin_token_carries_no_scope() -> None:
    assert decode_token(SECRET, issue_token(SECRET, sub="a", role="admin", scope="s1")).scope is None


@pytest.mark.parametrize("role", ["pos", "kitchen", "driver"])
def test_scoped_role_cannot_be_issued_without_its_scope(role: str) -> None:
    with pytest.raises(ValueError, match=SCOPE_CLAIM[role]):
        issue_token(SECRET, sub="x", role=role)


def _tampered() -> str:
    header, _, signature = issue_token(SECRET, sub="till", role="pos", scope="s1").split(".")
    return f"{header}.{_b64(claims())}.{signature}"


BAD_TOKENS = {
    "empty": "",
    "garbage": "not-a-jwt",
    "three_garbage_parts": "abc.def.ghi",
    "expired": issue_token(SECRET, sub="a", role="admin", ttl_s=-1),
    "other_secret": issue_token("another-secret-0123456789-abcdefghijklmn", sub="a", role="admin"),
    "dev_secret": issue_token(DEV_SECRET, sub="a", role="admin"),
    "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}.",
    "hs512_same_secret": signed(claims(), algorithm="HS512"),
    "payload_tampered": _tampered(),
    "no_exp": signed({"sub": "a", "role": "admin"}),
    "exp_not_a_number": signed(claims(exp="tomorrow")),
    "no_sub": signed({"role": "admin", "exp": int(time.time()) + 60}),
    "no_role": signed({"sub": "a", "exp": int(time.time()) + 60}),
    "unknown_role": signed(claims(role="root")),
    "role_not_a_string": signed(claims(role=["admin"])),
    "not_yet_valid": signed(claims(nbf=int(time.time()) + 3600)),
    "pos_without_site_id": signed(claims(role="pos")),
    "pos_with_kitchen_claim_only": signed(claims(role="pos", kitchen_id="k1")),
    "kitchen_id_not_a_string": signed(claims(role="kitchen", kitchen_id=7)),
    "driver_id_null": signed(claims(role="driver", driver_id=None)),
}


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_bad_token_is_401_invalid_token(name: str) -> None:
    with pytest.raises(Problem) as caught:
        decode_token(SECRET, BAD_TOKENS[name])
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")


@pytest.mark.parametrize(
    ("principal", "role", "value", "allowed"),
    [
        (Principal("a", "admin"), "pos", "s1", True),
        (Principal("a", "admin"), "kitchen", "anything", True),
        (Principal("t", "pos", "s1"), "pos", "s1", True),
        (Principal("t", "pos", "s1"), "pos", "s2", False),
        (Principal("t", "pos", "s1"), "pos", "S1", False),
        (Principal("t", "pos", "s1"), "pos", "", False),
        (Principal("k", "kitchen", "k1"), "kitchen", "k1", True),
        (Principal("k", "kitchen", "k1"), "kitchen", "k2", False),
        (Principal("k", "kitchen", "s1"), "pos", "s1", False),  # same value, wrong role
        (Principal("d", "driver", "d1"), "driver", "d2", False),
    ],
)
def test_require_scope(principal: Principal, role: str, value: str, allowed: bool) -> None:
    if allowed:
        principal.require_scope(role, value)
        return
    with pytest.raises(Problem) as caught:
        principal.require_scope(role, value)
    assert (caught.value.status, caught.value.code) == (403, "scope_forbidden")


def _app() -> FastAPI:
    app = FastAPI()
    app.state.settings = SimpleNamespace(auth_secret=SECRET)
    install_problem_handlers(app)

    @app.get("/staff")
    async def staff(principal: Principal = Depends(requires("admin", "kitchen"))) -> dict[str, Any]:
        return {"role": principal.role, "scope": principal.scope}

    return app


def _auth(value: str) -> dict[str, str]:
    return {"Authorization": value}


KITCHEN = issue_token(SECRET, sub="k", role="kitchen", scope="k1")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_token"),
        (_auth(""), 401, "missing_token"),
        (_auth("Bearer"), 401, "missing_token"),
        (_auth("Bearer    "), 401, "missing_token"),
        (_auth("Basic YTpi"), 401, "missing_token"),
        (_auth("Token " + KITCHEN), 401, "missing_token"),
        (_auth(KITCHEN), 401, "missing_token"),
        (_auth("Bearer not-a-jwt"), 401, "invalid_token"),
        (_auth("Bearer " + issue_token(SECRET, sub="t", role="pos", scope="s1")), 403, "role_forbidden"),
        (_auth("Bearer " + issue_token(SECRET, sub="d", role="driver", scope="d1")), 403, "role_forbidden"),
        (_auth("Bearer " + KITCHEN), 200, None),
        (_auth("bearer " + KITCHEN), 200, None),  # the scheme is case-insensitive (RFC 7235)
        (_auth("Bearer  " + KITCHEN + " "), 200, None),
    ],
)
async def test_requires_dependency(headers: dict[str, str], status: int, code: str | None) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://unit") as client:
        response = await client.get("/staff", headers=headers)
    assert response.status_code == status, response.text
    if code is None:
        assert response.json() == {"role": "kitchen", "scope": "k1"}
        return
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert (body["status"], body["code"]) == (status, code)


@pytest.mark.parametrize(
    ("env", "secret", "insecure"),
    [
        ("prod", DEV_SECRET, True),
        ("prod", "", True),
        ("prod", SECRET, False),
        ("dev", DEV_SECRET, False),
        ("test", DEV_SECRET, False),
    ],
)
def test_check_secure(env: str, secret: str, insecure: bool) -> None:
    settings = Settings(service_name="pricing", app_env=env, auth_secret=secret)  # type: ignore[arg-type]
    if insecure:
        with pytest.raises(InsecureSettings):
            settings.check_secure()
    else:
        settings.check_secure()
