"""JWT (HS256) bearer auth with roles and the scope of each role (API.md "Authentication")."""

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from fastapi import Request

from shared.problem import Problem

Role = Literal["pos", "kitchen", "driver", "admin"]
SCOPE_CLAIM: dict[str, str] = {"pos": "site_id", "kitchen": "kitchen_id", "driver": "driver_id"}
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a till (site), a kitchen, a driver or an administrator."""

    sub: str
    role: str
    scope: str | None = None

    def require_scope(self, role: str, value: str) -> None:
        """403 unless an admin, or `role` scoped to exactly `value`."""
        if self.role == "admin":
            return
        if self.role != role or self.scope != value:
            raise Problem(403, "scope_forbidden", f"this {self.role} token may not act for {value}")


def issue_token(secret: str, *, sub: str, role: str, scope: str | None = None, ttl_s: int = 365 * 24 * 3600) -> str:
    """A signed token; scope goes in the claim of the role (site_id, kitchen_id, driver_id)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl_s}
    if role in SCOPE_CLAIM:
        if not scope:
            raise ValueError(f"role {role} needs a {SCOPE_CLAIM[role]}")
        claims[SCOPE_CLAIM[role]] = scope
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str) -> Principal:
    """Principal from a token; 401 problem when missing, expired, forged or malformed."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "role"]})
    except jwt.PyJWTError as exc:
        raise Problem(401, "invalid_token", f"bearer token rejected: {exc}") from exc
    role = claims.get("role")
    if role not in ("pos", "kitchen", "driver", "admin"):
        raise Problem(401, "invalid_token", "unknown role in token")
    scope = claims.get(SCOPE_CLAIM[role]) if role in SCOPE_CLAIM else None
    if role in SCOPE_CLAIM and not isinstance(scope, str):
        raise Problem(401, "invalid_token", f"a {role} token needs {SCOPE_CLAIM[role]}")
    return Principal(sub=str(claims["sub"]), role=role, scope=scope)


def requires(*roles: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """FastAPI dependency: a valid bearer token whose role is one of `roles`."""

    async def dependency(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "missing_token", "send Authorization: Bearer <token>")
        principal = decode_token(request.app.state.settings.auth_secret, token.strip())
        if principal.role not in roles:
            raise Problem(403, "role_forbidden", f"role {principal.role} may not call this endpoint")
        return principal

    return dependency
