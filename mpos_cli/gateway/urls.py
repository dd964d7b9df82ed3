"""The acquirer URL rule of SPEC §8: ``https://``, or plain ``http://`` only to
loopback, and never with credentials in it.

Kept apart from the httpx client so that the configuration can check a URL
at every start-up without importing httpx.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from mpos_cli.errors import UsageError


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_CREDENTIALS = re.compile(r"//[^/?#@]*@")


def without_credentials(url: str) -> str:
    """The URL as it may be printed: a ``user:password@`` in it is masked (SPEC §8)."""
    return _CREDENTIALS.sub("//***@", url)


def checked_url(url: str) -> str:
    """The base URL if it is allowed (SPEC §8), else a UsageError saying why."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"gateway URL {without_credentials(url)!r} is not an http(s) URL",
                         hint="use https://HOST/ or 'sandbox'")
    if parts.username or parts.password:
        raise UsageError(
            "the gateway URL must not carry credentials",
            hint="put the secret in MPOS_GATEWAY_KEY or the OS keyring",
        )
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port only when asked
    except ValueError as exc:
        raise UsageError(f"gateway URL {without_credentials(url)!r} has a bad port", hint="use https://HOST[:PORT]/") from exc
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"gateway URL {parts.scheme}://{parts.hostname} is plain http to a remote host",
            hint="use https:// (plain http is allowed only to loopback: 127.0.0.0/8, ::1, localhost)",
        )
    return url.strip().rstrip("/")
