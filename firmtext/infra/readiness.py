"""When a started component counts as ready."""
from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from firmtext.config import Settings

# No proxy: /healthz is on 127.0.0.1 whatever http_proxy says.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Ready:
    """When a started component counts as ready: ``url`` answers 200, or (no url) it is
    still alive after ``alive_for`` seconds. Either way within ``timeout`` seconds."""

    url: str | None = None
    alive_for: float = 1.0
    timeout: float = 60.0

    def check(self) -> bool:
        """One probe of ``url`` (True without a url: aliveness is timed by the Stack)."""
        if self.url is None:
            return True
        try:
            with _HTTP.open(self.url, timeout=1.0) as response:
                return response.status == 200
        except OSError:
            return False


def default_readiness(settings: Settings) -> dict[str, Ready]:
    """Readiness of the real components: the HTTP ones by /healthz, the rest by staying up."""
    return {
        "simulator": Ready(url=f"http://127.0.0.1:{settings.simulator_port}/healthz"),
        "api": Ready(url=f"http://127.0.0.1:{settings.http_port}/healthz"),
    }
