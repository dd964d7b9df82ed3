"""``hub.url``: the hub's address, a libpq connection URI.

PostgreSQL's own syntax (PostgreSQL documentation, libpq, "Connection
URIs"): ``postgresql://[USER[:PASSWORD]@][HOST][:PORT][/DBNAME][?PARAM=VALUE…]``,
``postgres://`` alike; a Unix socket folder goes in ``?host=/run/postgresql``.
Everything the URL asks for (``sslmode``, ``sslrootcert``, ``connect_timeout``…)
is libpq's to honour; mpos adds two rules of its own (SPEC §8):

- the password is never written to ``config.toml``: it comes from the URL
  given in ``MPOS_HUB_URL``, from ``PGPASSFILE`` (or libpq's ``~/.pgpass``),
  or from the OS keyring (service ``mpos``, name ``hub``);
- a hub reached over the network must be reached over TLS: off loopback,
  ``sslmode`` must be ``require``, ``verify-ca`` or ``verify-full``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
TLS_MODES = ("require", "verify-ca", "verify-full")
KEYRING_SERVICE, KEYRING_NAME = "mpos", "hub"


def shown(url: str) -> str:
    """The URL as people may see it: the password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***{at}{hostport}"))


def has_password(url: str) -> bool:
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def _hosts(parts) -> list[str]:
    """Every host the URI names (libpq takes a comma-separated list), ``/…``
    for socket folders; empty means libpq's default socket."""
    netloc = parts.netloc.rpartition("@")[2]
    hosts = []
    for item in netloc.split(","):
        if item.startswith("["):
            hosts.append(item[1 : item.find("]")])
        elif item:
            hosts.append(unquote(item.rsplit(":", 1)[0] if item.count(":") == 1 else item))
    query = parse_qs(parts.query)
    for value in query.get("host", []) + query.get("hostaddr", []):
        hosts.extend(h for h in value.split(",") if h)
    return hosts


def is_local(host: str) -> bool:
    if not host or host.startswith("/") or host.startswith("@") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_hub_url(value: str, *, allow_password: bool, environ: dict[str, str] | None = None) -> str:
    """``value`` if it is a usable hub URL, else ``ValueError`` saying why
    (one line, never quoting a password). Empty means no hub."""
    text = value.strip()
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"not a postgresql:// URL ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError(f"the hub is a PostgreSQL database: a postgresql:// URL, not {shown(text)!r}")
    if parts.password is not None and not allow_password:
        raise ValueError(
            "the hub's password is never written to config.toml: give it in PGPASSFILE or the OS keyring "
            "(keyring set mpos hub), or in MPOS_HUB_URL"
        )
    query = parse_qs(parts.query)
    mode = (query.get("sslmode") or [(environ or {}).get("PGSSLMODE", "")])[0]
    remote = [host for host in _hosts(parts) if not is_local(host)]
    if remote and mode not in TLS_MODES:
        raise ValueError(
            f"the hub at {remote[0]} is reached over the network, so over TLS: add ?sslmode=verify-full "
            "(with sslrootcert=FILE for your own CA) to the URL"
        )
    return text


def hub_configured(env) -> bool:
    """Whether this terminal syncs with a hub (``MPOS_HUB_URL`` or ``hub.url``);
    cheap, so that a payment without a hub never loads the sync code."""
    return bool(env.environ.get("MPOS_HUB_URL", "").strip() or env.config["hub.url"])
