"""Bearer tokens: HS256 JWTs with claims sub, firm, perms, exp."""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt


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
    return Caller(user_id=claims["sub"], firm_id=claims["firm"], perms=frozenset(map(str, perms)))
