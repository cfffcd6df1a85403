"""Bearer tokens: HS256 JWTs with claims sub, firm, perms, exp."""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from domain.input_policy import is_id


@dataclass(frozen=True)
class Caller:
    user_id: str
    firm_id: str
    perms: frozenset[str]


class Unauthenticated(Exception):
    pass


def issue_token(secret: str, firm: str, user: str, perms: list[str], ttl: int = 3600) -> str:
    return jwt.encode({"sub": user, "firm": firm, "perms": list(perms), "exp": int(time.time()) + ttl},
                      secret, algorithm="HS256")


def caller_from_token(secret: str, token: str) -> Caller:
    """Verify signature and expiry; raise Unauthenticated with a reason otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "firm"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired.") from None
    except jwt.PyJWTError:
        raise Unauthenticated("The token is not valid.") from None
    perms = claims.get("perms") or []
    if not isinstance(perms, list) or not isinstance(claims["sub"], str) or not isinstance(claims["firm"], str):
        raise Unauthenticated("The token's claims are malformed.")
    # 401, not 422: the claims are the caller's identity, and no request can be served
    # under an id outside the grammar (docs/input-policy.md); the host must mint a new token.
    if not (is_id(claims["firm"]) and is_id(claims["sub"])):
        raise Unauthenticated("The token's firm or sub claim is not a valid id (1 to 128 letters, digits or . _ ~ -).")
    return Caller(user_id=claims["sub"], firm_id=claims["firm"], perms=frozenset(map(str, perms)))
