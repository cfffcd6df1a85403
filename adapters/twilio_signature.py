"""Twilio's request signature (``X-Twilio-Signature``): HMAC-SHA1 over the URL and the form.

The signed string is the full URL the carrier called (query string included) followed
by every POST parameter as ``name + value``, names sorted, repeated values sorted.
Used both to verify carrier webhooks and, in the simulator, to sign them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

Params = Mapping[str, "str | Sequence[str]"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _values(params: Params, name: str) -> list[str]:
    # Multi-dicts (Starlette's FormData) expose every value of a repeated key via getlist.
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    value = params[name]
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _signed_params(params: Params) -> str:
    """The form's part of the signed string: ``name + value`` for every value, names sorted,
    repeated values sorted."""
    return "".join(name + value for name in sorted(set(params.keys())) for value in sorted(_values(params, name)))


def _sign(auth_token: str, url: str, signed_params: str) -> str:
    digest = hmac.new(auth_token.encode("utf-8"), (url + signed_params).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def compute_signature(auth_token: str, url: str, params: Params) -> str:
    """Twilio's base64 HMAC-SHA1 signature of ``url`` and the form ``params``."""
    return _sign(auth_token, url, _signed_params(params))


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port.

    Twilio's own SDKs accept either form because proxies and load balancers disagree
    about whether the port was part of the URL the carrier signed.
    """
    variants = [url]
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in _DEFAULT_PORTS:
        return variants
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    host = f"[{host}]" if ":" in host else host
    without_port = urlunsplit(parts._replace(netloc=prefix + host))
    with_default = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{_DEFAULT_PORTS[parts.scheme]}"))
    for candidate in (without_port, with_default):
        if candidate not in variants:
            variants.append(candidate)
    return variants


def is_valid_signature(auth_token: str, url: str, params: Params, signature: str | None) -> bool:
    """True when ``signature`` is Twilio's signature of ``url`` + ``params`` (constant-time)."""
    if not signature or not auth_token:
        return False
    given = signature.encode("utf-8")
    signed_params = _signed_params(params)  # the same for every variant: built once
    # Each comparison is constant-time. Which variant matched may show in the timing: the
    # variants are public (the URL the caller chose), so that tells a forger nothing, and a
    # forgery is compared with all of them.
    return any(hmac.compare_digest(_sign(auth_token, candidate, signed_params).encode("ascii"), given)
               for candidate in _url_variants(url))
