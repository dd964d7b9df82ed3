"""One HTTP attempt to an acquirer, its failure classified as SPEC §9 needs
it. Every adapter sends through here (the mpos gateway API client and the
vendor adapters), so "never arrived" and "may have arrived" mean the same
everywhere:

- ``GatewayUnreachable``: the request certainly never arrived (connection
  refused, DNS, connect timeout, a TLS handshake refused: the request is only
  written after the handshake);
- ``AnswerTimeout`` (a ``GatewayOutcomeUnknown``): it went out and no answer
  came in time; the acquirer is slow, not gone: never resent, looked up;
- ``GatewayOutcomeUnknown``: reset or closed after sending, or a 5xx.

Retrying is the caller's decision, through its ``RetryPolicy``.
"""

from __future__ import annotations

from typing import Any

import httpx

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayUnreachable

DEFAULT_CONNECT_TIMEOUT = 5.0
UNKNOWN_HINT = "the outcome is unknown; mpos recover resolves it"


class AnswerTimeout(GatewayOutcomeUnknown):
    """The request went out and no answer came in time: the acquirer is slow,
    not gone; never resent, the flow looks the outcome up."""


def limits(seconds: float) -> httpx.Timeout:
    """Per-request timeouts: ``seconds`` in all, the connection at most 5 s."""
    return httpx.Timeout(seconds, connect=min(seconds, DEFAULT_CONNECT_TIMEOUT), pool=seconds)


def send_once(client: httpx.Client, method: str, path: str, *, who: str, where: str, what: str, seconds: float,
              **request: Any) -> httpx.Response:
    """One request; the response for any status below 500, else the failure
    raised. ``who`` names the acquirer in messages ("the acquirer",
    "Cybersource"), ``where`` is its base URL."""
    try:
        response = client.request(method, path, timeout=limits(seconds), **request)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError) as exc:
        raise GatewayUnreachable(f"{who} at {where} is unreachable ({reason(exc)})", hint=unreachable_hint(exc)) from exc
    except httpx.TimeoutException as exc:
        raise AnswerTimeout(f"{who} did not answer {what} within {seconds:g} s", hint=UNKNOWN_HINT) from exc
    except (httpx.TransportError, httpx.DecodingError) as exc:
        raise GatewayOutcomeUnknown(
            f"the connection to {who} failed during {what} ({reason(exc)})", hint=UNKNOWN_HINT,
        ) from exc
    if response.status_code >= 500:
        raise GatewayOutcomeUnknown(
            f"{who} failed on {what} (HTTP {response.status_code}: {server_message(response)})", hint=UNKNOWN_HINT,
        )
    return response


def reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]


def unreachable_hint(exc: Exception) -> str:
    if "CERTIFICATE" in str(exc).upper():
        return "its TLS certificate is not trusted; set gateway.ca_bundle if it uses a private CA"
    return "check the connection and gateway.url; nothing was sent"


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def server_message(response: httpx.Response) -> str:
    data = json_or_none(response)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"][:300]
    return response.reason_phrase or "no message"
