"""Only the gateway may call the USSD and SMS webhooks.

A phone number in a callback is only as true as whoever posted it: the first
version took a ticket, showed a check-in code, cancelled and rated for any
``phoneNumber``/``from`` anyone on the network sent. So a callback must carry the
centre's gateway secret (``?key=`` in the callback URL the aggregator is given, or
the ``X-Gateway-Key`` header), may be limited to the gateway's address ranges, and
each address is rate limited. Outside a demo a centre without a secret refuses
every callback (and says so in the log) rather than trusting anyone.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets

from fastapi import Request
from fastapi.responses import PlainTextResponse

from centre_server.runtime.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

HEADER = "x-gateway-key"


class GatewayGuard:
    """Checks one webhook request: address range, secret, per-address rate."""

    def __init__(self, key: str, networks: list[str], per_minute: int, demo: bool) -> None:
        self.key = key
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self.limiter = RateLimiter(per_minute, 60.0)
        self.demo = demo
        self._warned = False

    def refuse(self, request: Request) -> PlainTextResponse | None:
        """None when the request may go on; else the answer to send (403 or 429)."""
        address = request.client.host if request.client else ""
        if self.networks and not self._in_networks(address):
            logger.warning("webhook %s refused: %s is outside the gateway's networks", request.url.path, address)
            return PlainTextResponse("forbidden", status_code=403)
        if not self.key:
            if not self.demo:
                if not self._warned:
                    self._warned = True
                    logger.error("USSD/SMS webhooks refused: set [channels] gateway_key and give the gateway "
                                 "the callback URL with ?key=<it>")
                return PlainTextResponse("webhook not configured", status_code=403)
        else:
            given = request.query_params.get("key") or request.headers.get(HEADER) or ""
            if not secrets.compare_digest(given.encode(), self.key.encode()):
                return PlainTextResponse("forbidden", status_code=403)
        wait = self.limiter.allow(address or "unknown")
        if wait > 0:
            return PlainTextResponse("too many requests", status_code=429,
                                     headers={"Retry-After": str(int(wait) + 1)})
        return None

    def _in_networks(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)
