"""``mpos doctor``: check every part mpos depends on and say what to do.

Each check is ``ok``, ``warn`` or ``fail`` with one line: what was found
and, unless it is ok, what to do. A failing check belongs to an area whose
exit status the command returns (SPEC §12): the home, journal and config
(8), the reader and Bluetooth (5), the acquirer and the hub (6). The clock,
the hooks and the open payments only warn.

Nothing here waits long: each network step has its own time limit (the
``*_TIMEOUT_S`` constants), the reader, the acquirer and the hub are
checked at the same time, and a step is not tried once the one before it
failed. With everything down a run takes a few seconds (tests/bench/
bench_doctor.py measures it). Doctor never changes a payment, and never
shows a secret: credentials are checked by a harmless authenticated call
(a lookup of a reference that does not exist) and named only by where they
came from.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from mpos_cli.errors import ExitStatus, JournalLocked, MposError, StateUnreadable

OK, WARN, FAIL = "ok", "warn", "fail"
HOME, READER, ACQUIRER = ExitStatus.STATE_UNREADABLE, ExitStatus.READER_UNAVAILABLE, ExitStatus.GATEWAY_UNREACHABLE

# Time limits, per step (seconds).
DNS_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 2.0
TLS_TIMEOUT_S = 3.0
HTTP_TIMEOUT_S = 3.0
DBUS_TIMEOUT_S = 2.0
SCAN_TIMEOUT_S = 3.0  # a short Bluetooth discovery for a reader BlueZ has not seen lately
JOURNAL_LOCK_TIMEOUT_S = 2.0
CLOCK_SKEW_WARN_S = 60.0
CERT_EXPIRY_WARN_DAYS = 14
DEFAULT_SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"
POSTGRES_PORT = 5432
# PostgreSQL's SSLRequest: Int32 length 8, Int32 code 80877103; the server
# answers one byte, 'S' or 'N' (PostgreSQL documentation, "Message Formats",
# SSLRequest; "Message Flow", SSL Session Encryption).
PG_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


@dataclass
class Check:
    check: str
    status: str
    detail: str
    area: ExitStatus | None = None  # the exit status when it fails
    seconds: float = 0.0

    def to_public(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "detail": self.detail}


@dataclass
class Diagnosis:
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def exit_status(self) -> ExitStatus:
        """The area of the first failing check (in the order shown), else success."""
        for check in self.failed:
            return check.area or ExitStatus.ERROR
        return ExitStatus.SUCCESS

    def to_public(self) -> list[dict[str, str]]:
        return [c.to_public() for c in self.checks]


class ChecksFailed(MposError):
    """Doctor found a failure: the exit status is the first failing check's area."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        failed = diagnosis.failed
        super().__init__(f"{len(failed)} of {len(diagnosis.checks)} checks failed, the first: {failed[0].check}",
                         hint="see its line for what to do")
        self.exit_status = diagnosis.exit_status


def diagnose(env) -> Diagnosis:
    started = time.monotonic()
    out = Diagnosis()
    out.checks += _timed(check_home, env)
    out.checks += _timed(check_journal, env)
    out.checks += _timed(check_config, env)
    if not _config_loads(env):
        for name, area in (("clock", None), ("reader", READER), ("acquirer", ACQUIRER), ("hub", ACQUIRER)):
            out.checks.append(Check(name, WARN, "not checked: the config is unreadable (fix it first)", area))
    else:
        # The slow parts at once: each is bounded by its own time limits.
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="doctor") as pool:
            reader = pool.submit(_timed, check_reader, env)
            acquirer = pool.submit(_timed_acquirer, env)
            hub = pool.submit(_timed, check_hub, env)
            acquirer_checks, server_clock = acquirer.result()
            out.checks += _timed(check_clock, env, server_clock)
            out.checks += reader.result()
            out.checks += acquirer_checks
            out.checks += hub.result()
    out.checks += _timed(check_hooks, env)
    out.checks += _timed(check_open_payments, env)
    out.seconds = time.monotonic() - started
    return out


def _config_loads(env) -> bool:
    try:
        env.config
    except MposError:  # a bad file (exit 8) or a bad environment variable (exit 2)
        return False
    return True


def _timed(function: Callable[..., list[Check]], *args) -> list[Check]:
    started = time.monotonic()
    try:
        checks = function(*args)
    except MposError as exc:  # a check that could not even run says why
        checks = [Check(function.__name__.removeprefix("check_"), FAIL, exc.one_line(), exc.exit_status)]
    except Exception as exc:  # a bug in one check must not hide the others
        checks = [_crashed(function.__name__.removeprefix("check_"), exc)]
    elapsed = time.monotonic() - started
    for check in checks:
        check.seconds = check.seconds or elapsed
    return checks


def _crashed(name: str, exc: Exception) -> Check:
    return Check(name, FAIL, f"the check itself failed ({type(exc).__name__}: {exc}): please report it, "
                             "with mpos support-bundle", ExitStatus.ERROR)


def _timed_acquirer(env):
    started = time.monotonic()
    try:
        checks, server_clock = check_acquirer(env)
    except MposError as exc:
        checks, server_clock = [Check("acquirer", FAIL, exc.one_line(), ACQUIRER)], None
    except Exception as exc:
        checks, server_clock = [_crashed("acquirer", exc)], None
    for check in checks:
        check.seconds = check.seconds or time.monotonic() - started
    return checks, server_clock


# -- home, journal, config ---------------------------------------------------------------------------------


def check_home(env) -> list[Check]:
    from mpos_cli.hooks import hooks_dir

    homes = list(dict.fromkeys([env.config_dir, env.data_dir]))
    hooks = hooks_dir(env)
    checks = []
    for home in homes:
        name = "home" if len(homes) == 1 else ("home.config" if home == env.config_dir else "home.data")
        if not home.exists():
            checks.append(Check(name, OK, f"{home} does not exist yet; mpos creates it (mode 0700) when first used"))
            continue
        if not home.is_dir():
            checks.append(Check(name, FAIL, f"{home} is not a folder: move it away (mpos keeps its state there)", HOME))
            continue
        if not os.access(home, os.W_OK | os.X_OK):
            checks.append(Check(name, FAIL, f"{home} is not writable by you: fix its owner or mode (chmod 700)", HOME))
            continue
        loose, foreign, count = [], [], 0
        uid = os.geteuid()
        for folder, dirs, files in os.walk(home):
            for entry in [folder, *(os.path.join(folder, f) for f in files)]:
                try:
                    info = os.lstat(entry)
                except FileNotFoundError:
                    continue  # removed while we walked (a compaction, a lock)
                if stat.S_ISLNK(info.st_mode):
                    continue
                count += 1
                relative = os.path.relpath(entry, home)
                if info.st_uid != uid:
                    foreign.append(relative)
                mode = stat.S_IMODE(info.st_mode)
                # Hooks are the user's programs: they may be readable by others, never writable.
                allowed = 0o755 if Path(entry) == hooks or Path(entry).parent == hooks else 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
                if mode & ~allowed & 0o777:
                    loose.append(f"{relative} is {mode:04o}")
        if foreign:
            checks.append(Check(name, FAIL, f"{home} holds entries that are not yours ({len(foreign)}; the first: "
                                            f"{foreign[0]}): chown them back", HOME))
        elif loose:
            checks.append(Check(name, FAIL, f"{home} holds entries open to others ({len(loose)}; the first: {loose[0]}): "
                                            f"chmod -R go-rwx {home}", HOME))
        else:
            checks.append(Check(name, OK, f"{home}: folders 0700 and files 0600 ({count} entries)"))
    return checks


def check_journal(env) -> list[Check]:
    from mpos_cli.journal import Journal

    folder = env.data_dir / "journal"
    if not folder.is_dir():
        return [Check("journal", OK, "no journal yet (no payments taken)")]
    try:
        with Journal(folder, lock_timeout=JOURNAL_LOCK_TIMEOUT_S) as journal:
            report = journal.verify(fast=True)
    except JournalLocked:
        return [Check("journal", WARN, "another mpos process holds the journal: run mpos doctor again when it is done")]
    except StateUnreadable as exc:
        return [Check("journal", FAIL, f"{exc.one_line()}; mpos journal verify shows the details", HOME)]
    if report.problems:
        return [Check("journal", FAIL, f"{len(report.problems)} problems, the first: {report.problems[0]}; "
                                       "mpos journal verify lists them (the journal is left as it is)", HOME)]
    summary = f"{_count(report.records, 'transaction')} in {_count(report.partitions, 'month')}, every record's checksum good"
    if report.torn_tails:
        return [Check("journal", WARN, f"{summary}; {len(report.torn_tails)} torn tails (a write cut short by a crash, "
                                       "never acknowledged): nothing to do, mpos journal verify shows them")]
    return [Check("journal", OK, summary + " (mpos journal verify checks every transaction too)")]


def check_config(env) -> list[Check]:
    """Every setting as ``mpos config show`` checks it (``mpos_cli.config``
    holds the validators); a file spoilt by hand is a failure (area 8)."""
    from mpos_cli.config import inspect

    path = env.config_path
    try:
        report = inspect(path, env.environ)
    except StateUnreadable as exc:
        return [Check("config", FAIL, f"unreadable: {exc.one_line()}", HOME)]
    if report.problems:
        error = report.first_error()
        return [Check("config", FAIL, error.one_line(), HOME)]
    where = f"{path}, {len(report.file_values)} settings" if path.exists() else "no config.toml: the defaults"
    return [Check("config", OK, f"valid ({where})")]


# -- clock ---------------------------------------------------------------------------------------------------------


def check_clock(env, server_clock: tuple[str, float] | None) -> list[Check]:
    """The time zone business dates follow, and our clock against the acquirer's."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    status, notes = OK, []
    configured = env.config["timezone"]
    zone = None
    if configured:
        try:
            ZoneInfo(configured)
            zone = f"{configured} (config)"
        except (ZoneInfoNotFoundError, ValueError):
            status = WARN
            notes.append(f"timezone {configured!r} is not an IANA zone, so the system's is used: "
                         "mpos config set timezone Area/City")
    if zone is None and env.environ.get("TZ"):
        zone = f"{env.environ['TZ'].lstrip(':')} (TZ)"
    if zone is None and status == OK:
        system = _system_zone()
        if system is None:
            status = WARN
            notes.append("no time zone is set: business dates follow UTC; mpos config set timezone Area/City")
        elif system.removeprefix("Etc/") in ("UTC", "UCT", "Universal", "Zulu", "GMT"):
            status = WARN
            notes.append(f"the system zone is {system}: if the business is elsewhere, mpos config set timezone Area/City")
        else:
            zone = f"{system} (system)"
    if server_clock is None:
        notes.append("not compared with the acquirer's clock (no answer from it)")
    else:
        header, skew = server_clock
        if header == "same-machine":
            notes.append("the embedded sandbox shares this machine's clock")
        elif abs(skew) > CLOCK_SKEW_WARN_S:
            status = WARN
            way = "ahead of" if skew > 0 else "behind"
            notes.append(f"this clock is {_duration(abs(skew))} {way} the acquirer's: set the time (timedatectl set-ntp true)")
        else:
            notes.append(f"within {max(1, round(abs(skew)))} s of the acquirer's clock")
    return [Check("clock", status, "; ".join(([zone] if zone else []) + notes))]


def _system_zone() -> str | None:
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    try:
        return Path("/etc/timezone").read_text().strip() or None
    except OSError:
        return None


def now_or_system(env) -> datetime:
    """``env.now()``, or the system's time when a broken config hides the time zone."""
    try:
        return env.now()
    except MposError:
        return datetime.now().astimezone()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


# -- the reader and Bluetooth ------------------------------------------------------------------------------------


def check_reader(env) -> list[Check]:
    spec = str(env.config["reader"] or "sim").strip()
    kind, _, argument = spec.partition(":")
    kind = kind.lower()
    if kind == "sim":
        return [Check("reader", OK, "the simulated reader (in process; no hardware needed)")]
    if kind == "serial":
        return [_check_serial(argument)]
    if kind == "ble":
        try:
            import dbus_fast  # noqa: F401  (BlueZ's D-Bus API: Linux only)
        except ImportError:
            return [Check("bluetooth", WARN, "not checked here (BlueZ over D-Bus is Linux's): "
                                             "mpos reader status connects to the reader")]
        from mpos_cli.reader_select import MEMORY_FILE, RememberedReaders

        # The address this spec connected to last time (reader.json), without creating anything.
        remembered = RememberedReaders(env.data_dir / MEMORY_FILE).address_for(spec)
        return asyncio.run(_check_ble(env, argument, remembered))
    return [Check("reader", OK, f"{spec}: a third-party reader; mpos reader status asks it")]


def _check_serial(path: str) -> Check:
    if not path:
        return Check("reader", FAIL, "reader spec serial needs a device: mpos reader use serial:/dev/ttyACM0", READER)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Check("reader", FAIL, f"{path} is not there: plug the reader in (ls /dev/ttyACM* /dev/ttyUSB*)", READER)
    except OSError as exc:
        return Check("reader", FAIL, f"{path}: {exc.strerror}", READER)
    if not stat.S_ISCHR(info.st_mode):
        return Check("reader", FAIL, f"{path} is not a serial device: check the reader spec (mpos reader use)", READER)
    if not os.access(path, os.R_OK | os.W_OK):
        return Check("reader", FAIL, f"{path} is there but not yours to open: join its group (usually dialout) "
                                     "and log in again", READER)
    return Check("reader", OK, f"{path} is present and can be opened")


async def _check_ble(env, target: str, remembered: str | None = None) -> list[Check]:
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    address = env.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS
    wanted_adapter = env.config["ble.adapter"] or None
    try:
        bus = await asyncio.wait_for(MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect(), DBUS_TIMEOUT_S)
    except Exception as exc:  # OSError, a timeout, or dbus-fast's own errors (authentication)
        why = "timed out" if isinstance(exc, asyncio.TimeoutError) else (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
        return [Check("bluetooth", FAIL, f"cannot reach the system D-Bus at {address} ({why}): "
                                         "is dbus running? (Bluetooth goes through it)", READER)]

    async def call(**message) -> Any:
        reply = await asyncio.wait_for(bus.call(Message(**message)), DBUS_TIMEOUT_S)
        if reply.message_type == MessageType.ERROR:
            raise _DBusError(reply.error_name, (reply.body or [""])[0])
        return reply.body

    try:
        (has_owner,) = await call(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                  interface="org.freedesktop.DBus", member="NameHasOwner", signature="s",
                                  body=["org.bluez"])
        if not has_owner:
            return [Check("bluetooth", FAIL, "BlueZ (bluetoothd) is not running: start it (systemctl start bluetooth)",
                          READER)]
        objects = await _managed_objects(call)
        adapters = {path.rsplit("/", 1)[-1]: (path, ifaces["org.bluez.Adapter1"]) for path, ifaces in objects.items()
                    if "org.bluez.Adapter1" in ifaces}
        if not adapters:
            return [Check("bluetooth", FAIL, "BlueZ runs but has no Bluetooth adapter: plug one in or check rfkill",
                          READER)]
        name = wanted_adapter or sorted(adapters)[0]
        if name not in adapters:
            return [Check("bluetooth", FAIL, f"no Bluetooth adapter {name} (there is {', '.join(sorted(adapters))}): "
                                             "pick one with MPOS_BLE_ADAPTER or ble.adapter", READER)]
        adapter_path, props = adapters[name]
        if not _value(props.get("Powered")):
            return [Check("bluetooth", FAIL, f"Bluetooth adapter {name} is switched off: bluetoothctl power on", READER)]
        bluetooth = Check("bluetooth", OK, f"BlueZ runs; adapter {name} ({_value(props.get('Address'))}) is on")
        return [bluetooth, await _find_reader(call, adapter_path, target, remembered)]
    except (_DBusError, asyncio.TimeoutError) as exc:
        return [Check("bluetooth", FAIL, f"BlueZ did not answer as expected ({exc or 'timed out'}): "
                                         "restart the Bluetooth service", READER)]
    finally:
        bus.disconnect()


class _DBusError(Exception):
    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}" if text else name)
        self.name = name


def _value(variant) -> Any:
    return getattr(variant, "value", variant)


async def _managed_objects(call) -> dict[str, dict[str, dict[str, Any]]]:
    (objects,) = await call(destination="org.bluez", path="/", interface="org.freedesktop.DBus.ObjectManager",
                            member="GetManagedObjects")
    return objects


def _matching_device(objects, adapter_path: str, wanted: set[str]) -> dict | None:
    """The device whose address, name or alias is one of ``wanted`` (lower case)."""
    for path, ifaces in objects.items():
        device = ifaces.get("org.bluez.Device1")
        if device is None or not path.startswith(adapter_path + "/"):
            continue
        names = {str(_value(device.get(k)) or "").lower() for k in ("Address", "Name", "Alias")}
        if wanted & names:
            return device
    return None


async def _find_reader(call, adapter_path: str, target: str, remembered: str | None = None) -> Check:
    """Seen now (BlueZ has an RSSI for it), else a short discovery; by the
    spec's address or name, or the address it connected to last time."""
    from dbus_fast import Variant

    if not target:
        return Check("reader", FAIL, "reader spec ble needs an address or a name: mpos reader scan, then mpos reader use",
                     READER)
    wanted = {target.lower()} | ({remembered.lower()} if remembered else set())
    device = _matching_device(await _managed_objects(call), adapter_path, wanted)
    known = device is not None
    if device is None or device.get("RSSI") is None:
        adapter = dict(destination="org.bluez", path=adapter_path, interface="org.bluez.Adapter1")
        try:
            await call(**adapter, member="SetDiscoveryFilter", signature="a{sv}", body=[{"Transport": Variant("s", "le")}])
            await call(**adapter, member="StartDiscovery")
        except _DBusError as exc:
            if exc.name != "org.bluez.Error.InProgress":
                return Check("reader", FAIL, f"could not look for {target} ({exc}): try mpos reader scan", READER)
        try:
            deadline = time.monotonic() + SCAN_TIMEOUT_S
            while time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                device = _matching_device(await _managed_objects(call), adapter_path, wanted)
                if device is not None and device.get("RSSI") is not None:
                    break
        finally:
            try:
                await call(**adapter, member="StopDiscovery")
            except (_DBusError, asyncio.TimeoutError):
                pass
    if device is not None and device.get("RSSI") is not None:
        name = _value(device.get("Name")) or _value(device.get("Alias")) or "no name"
        return Check("reader", OK, f"{target} is in range ({name}, {_value(device['Address'])}, "
                                   f"{_value(device['RSSI'])} dBm)")
    if known:
        return Check("reader", FAIL, f"{target} is known to BlueZ but not seen within {SCAN_TIMEOUT_S:g} s: "
                                     "switch it on, charge it, bring it near", READER)
    return Check("reader", FAIL, f"{target} not seen within {SCAN_TIMEOUT_S:g} s: switch it on and bring it near "
                                 "(mpos reader scan lists the readers in range)", READER)


# -- the acquirer and the hub -------------------------------------------------------------------------------------


def check_acquirer(env) -> tuple[list[Check], tuple[str, float] | None]:
    """DNS, TCP, TLS, the API, the credentials; and the acquirer's clock."""
    url = str(env.config["gateway.url"] or "sandbox").strip()
    checks: list[Check] = []
    if url != "sandbox":
        target = url.split("+", 1)[1] if "+" in url.split("://", 1)[0] else url
        parts = urlsplit(target)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        connection = _reach(checks, "acquirer", host, port, "check gateway.url and the network")
        if connection is None:
            return checks, None
        if parts.scheme == "https":
            checks.append(_tls(connection, host, env.config["gateway.ca_bundle"] or None))
        else:
            connection.close()
            checks.append(Check("acquirer.tls", OK, "not used: plain http, allowed to loopback only"))
        if checks[-1].status == FAIL:
            return checks, None
    return _api_and_credentials(env, url, checks)


def _reach(checks: list[Check], name: str, host: str, port: int, what_to_check: str) -> socket.socket | None:
    """DNS then TCP; appends a check for each; returns the connected socket or None."""
    started = time.monotonic()
    try:
        addresses = _resolve(host, port)
    except TimeoutError:
        checks.append(Check(f"{name}.dns", FAIL, f"no answer for {host} within {DNS_TIMEOUT_S:g} s: {what_to_check} (DNS)",
                            ACQUIRER, time.monotonic() - started))
        return None
    except OSError as exc:
        checks.append(Check(f"{name}.dns", FAIL, f"cannot resolve {host} ({exc.strerror or exc}): {what_to_check} (DNS)",
                            ACQUIRER, time.monotonic() - started))
        return None
    numeric = _is_ip(host)
    shown = ", ".join(sorted({a[4][0] for a in addresses})[:3])
    checks.append(Check(f"{name}.dns", OK, f"{host} is an address; no lookup needed" if numeric else f"{host} is {shown}",
                        seconds=time.monotonic() - started))
    started = time.monotonic()
    deadline = started + CONNECT_TIMEOUT_S
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        checks.append(Check(f"{name}.tcp", OK, f"{host}:{port} accepts connections ({(time.monotonic() - started) * 1000:.0f} ms)",
                            seconds=time.monotonic() - started))
        return sock
    if isinstance(error, (TimeoutError, socket.timeout)) or error is None:
        why = f"no answer within {CONNECT_TIMEOUT_S:g} s (a firewall, or the host is down)"
    elif isinstance(error, ConnectionRefusedError):
        why = "the connection was refused (nothing listens there)"
    else:
        why = error.strerror or str(error)
    checks.append(Check(f"{name}.tcp", FAIL, f"cannot connect to {host}:{port}: {why}; {what_to_check}", ACQUIRER,
                        time.monotonic() - started))
    return None


def _resolve(host: str, port: int) -> list:
    """getaddrinfo with a time limit (it has none of its own): in a daemon
    thread, left behind if the resolver hangs."""
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc

    worker = threading.Thread(target=work, daemon=True, name="doctor-dns")
    worker.start()
    worker.join(DNS_TIMEOUT_S)
    if worker.is_alive():
        raise TimeoutError(host)
    if "error" in result:
        raise result["error"]
    return result["addresses"]


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _tls(sock: socket.socket, host: str, ca_bundle: str | None) -> Check:
    """The handshake as the client makes it: verification on, the configured
    CA bundle or the same roots httpx trusts (certifi)."""
    started = time.monotonic()
    try:
        if ca_bundle:
            context = ssl.create_default_context(cafile=ca_bundle)
        else:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
        sock.settimeout(TLS_TIMEOUT_S)
        with context.wrap_socket(sock, server_hostname=host) as tls:
            version, cert = tls.version(), tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        return Check("acquirer.tls", FAIL, f"the certificate of {host} is not trusted ({exc.verify_message}): "
                                           "set gateway.ca_bundle if the acquirer uses a private CA", ACQUIRER,
                     time.monotonic() - started)
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        why = f"no handshake within {TLS_TIMEOUT_S:g} s" if isinstance(exc, (TimeoutError, socket.timeout)) else str(exc)
        return Check("acquirer.tls", FAIL, f"TLS with {host} failed ({why}): is it an https server? check gateway.url",
                     ACQUIRER, time.monotonic() - started)
    issuer = dict(pair[0] for pair in cert.get("issuer", ()) if pair)
    expires = cert.get("notAfter")
    detail = f"{version}, certificate verified (issuer {issuer.get('organizationName') or issuer.get('commonName') or '?'}"
    status = OK
    if expires:
        until = datetime.fromtimestamp(ssl.cert_time_to_seconds(expires)).astimezone()
        detail += f", valid until {until.date().isoformat()}"
        if until - datetime.now().astimezone() < timedelta(days=CERT_EXPIRY_WARN_DAYS):
            status = WARN
            detail += "; it expires soon: tell the acquirer"
    return Check("acquirer.tls", status, detail + ")", seconds=time.monotonic() - started)


def _api_and_credentials(env, url: str, checks: list[Check]) -> tuple[list[Check], tuple[str, float] | None]:
    import dataclasses

    from mpos_cli.errors import GatewayRejected
    from mpos_cli.gateway import open_gateway
    from mpos_cli.gateway.retry import RetryPolicy

    started = time.monotonic()
    # The gateway as payments open it, but with doctor's limit: one attempt, HTTP_TIMEOUT_S.
    brief = dataclasses.replace(env, environ={**env.environ, "MPOS_GATEWAY_TIMEOUT": str(HTTP_TIMEOUT_S)})
    once = RetryPolicy(attempts=1, timeout=HTTP_TIMEOUT_S)
    try:
        gateway = open_gateway(brief)
    except MposError as exc:
        checks.append(Check("acquirer.api", FAIL, exc.one_line(), ACQUIRER, time.monotonic() - started))
        return checks, None
    server_clock = None
    try:
        try:
            health = gateway.health()
        except MposError as exc:
            checks.append(Check("acquirer.api", FAIL, exc.one_line(), ACQUIRER, time.monotonic() - started))
            return checks, None
        received = env.now()
        header = getattr(gateway, "server_date", None)
        if url == "sandbox":
            server_clock = ("same-machine", 0.0)
            checks.append(Check("acquirer.api", OK, "the embedded sandbox acquirer answers (SANDBOX: test cards, "
                                                    "no real money)", seconds=time.monotonic() - started))
            return checks, server_clock
        if header:
            from email.utils import parsedate_to_datetime

            try:
                server_clock = (header, (received - parsedate_to_datetime(header)).total_seconds())
            except (TypeError, ValueError):
                server_clock = None
        sandbox = " (the mpos sandbox: no real money)" if health.get("sandbox") else ""
        version = f", API version {health['api_version']}" if "api_version" in health else ""
        checks.append(Check("acquirer.api", OK, f"answers{version}{sandbox}", seconds=time.monotonic() - started))
        started = time.monotonic()
        source = _key_source(env)
        try:
            gateway.lookup(f"mpos-doctor-{secrets.token_hex(6)}", policy=once)  # a reference nobody used: harmless
        except GatewayRejected as exc:
            checks.append(Check("acquirer.credentials", FAIL, f"refused with {source}: {exc.one_line()}", ACQUIRER,
                                time.monotonic() - started))
            return checks, server_clock
        except MposError as exc:
            checks.append(Check("acquirer.credentials", FAIL, f"not checked: {exc.one_line()}", ACQUIRER,
                                time.monotonic() - started))
            return checks, server_clock
        checks.append(Check("acquirer.credentials", OK, f"accepted ({source})", seconds=time.monotonic() - started))
    finally:
        gateway.close()
    return checks, server_clock


def _key_source(env) -> str:
    """Where the key comes from; never the key."""
    if env.environ.get("MPOS_GATEWAY_KEY"):
        return "the key in MPOS_GATEWAY_KEY"
    if env.gateway_key:
        return "the key in the OS keyring"
    return "no key set"


def check_hub(env) -> list[Check]:
    """The hub (``MPOS_HUB_URL`` or ``hub.url``, as ``mpos sync`` reads it):
    DNS and TCP, PostgreSQL answering there, then the login."""
    from mpos_cli.hub.sync import hub_url

    try:
        url = hub_url(env)
    except MposError as exc:  # a URL mpos sync would refuse
        return [Check("hub", FAIL, exc.one_line(), ACQUIRER)]
    if not url:
        return [Check("hub", OK, "none configured: this terminal works alone")]
    parts = urlsplit(url)
    query = parse_qs(parts.query)  # libpq's URI parameters: ?host=/run/postgresql&port=5433
    socket_dir = (query.get("host") or [""])[0]
    port = parts.port or int((query.get("port") or [POSTGRES_PORT])[0])
    if not parts.hostname and (socket_dir.startswith("/") or not socket_dir):
        answer = _hub_unix(Path(socket_dir or "/var/run/postgresql") / f".s.PGSQL.{port}")
        return [answer] if answer.status == FAIL else [answer, _hub_login(env, url)]
    host = parts.hostname or socket_dir
    checks: list[Check] = []
    connection = _reach(checks, "hub", host, port, "check hub.url and the network")
    if connection is None:
        return checks
    checks.append(_pg_answer(connection, f"{host}:{port}"))
    if checks[-1].status == FAIL:
        return checks
    return checks + [_hub_login(env, url)]


def _hub_login(env, url: str) -> Check:
    """Log in as mpos sync does (the password from the URL, PGPASSFILE or the
    keyring); never shows the password."""
    from mpos_cli.hub.remote import HubError, connect

    started = time.monotonic()
    try:
        hub = connect(url, timeout_s=CONNECT_TIMEOUT_S, statement_timeout_s=HTTP_TIMEOUT_S,
                      application_name="mpos doctor", environ=env.environ)
    except HubError as exc:
        return Check("hub.login", FAIL, f"{exc.one_line()}: check the user, the password (PGPASSFILE, the OS "
                                        "keyring or MPOS_HUB_URL) and the database name", ACQUIRER,
                     time.monotonic() - started)
    hub.close()
    return Check("hub.login", OK, "accepted; mpos sync sends and receives the journal",
                 seconds=time.monotonic() - started)


def _hub_unix(path: Path) -> Check:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        return Check("hub", FAIL, f"cannot connect to {path} ({exc.strerror or exc}): is PostgreSQL running there?",
                     ACQUIRER)
    return _pg_answer(sock, str(path))


def _pg_answer(sock: socket.socket, where: str) -> Check:
    """Send PostgreSQL's SSLRequest and read its one-byte answer, then hang up."""
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.sendall(PG_SSL_REQUEST)
        answer = sock.recv(1)
    except (TimeoutError, socket.timeout):
        return Check("hub", FAIL, f"{where} accepts connections but did not answer PostgreSQL's greeting within "
                                  f"{CONNECT_TIMEOUT_S:g} s: is it the hub? check hub.url", ACQUIRER)
    except OSError as exc:
        return Check("hub", FAIL, f"{where} accepts connections but does not answer as PostgreSQL ({exc}): "
                                  "check hub.url", ACQUIRER)
    finally:
        sock.close()
    if not answer:
        return Check("hub", FAIL, f"{where} hung up instead of answering as PostgreSQL: check hub.url", ACQUIRER)
    if answer in (b"S", b"N"):
        tls = "offers TLS" if answer == b"S" else "without TLS"
        return Check("hub", OK, f"PostgreSQL answers at {where} ({tls})")
    return Check("hub", FAIL, f"something answers at {where}, but not as PostgreSQL: check hub.url", ACQUIRER)


# -- hooks and open payments --------------------------------------------------------------------------------------


def check_hooks(env) -> list[Check]:
    from mpos_cli.hooks import HOOK_NAMES, hooks_dir

    folder = hooks_dir(env)
    if not folder.is_dir():
        return [Check("hooks", OK, f"none ({folder} does not exist)")]
    ready, notes = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name.endswith((".sample", "~")):
            continue
        if entry.name not in HOOK_NAMES:
            notes.append(f"{entry.name} is not a hook name ({', '.join(HOOK_NAMES)})")
        elif not entry.is_file() or not entry.stat().st_mode & 0o111:
            notes.append(f"{entry.name} is not executable (chmod +x {entry})")
        else:
            ready.append(entry.name)
    found = f"{', '.join(ready)} ready" if ready else "no hook ready"
    if notes:
        return [Check("hooks", WARN, f"{found}; {'; '.join(notes)}")]
    return [Check("hooks", OK, found)]


def check_open_payments(env) -> list[Check]:
    from mpos_cli import offline
    from mpos_cli.journal import Journal
    from mpos_cli.money import currency, format_money
    from mpos_cli.records import InFlight
    from mpos_cli.transaction import Stage

    folder = env.data_dir / "journal"
    if not folder.is_dir():
        return [Check("offline", OK, "no payments stored offline"), Check("recover", OK, "no payment left open")]
    try:
        with Journal(folder, lock_timeout=JOURNAL_LOCK_TIMEOUT_S) as journal:
            queue = offline.summary(journal)
            open_ = [tx for tx in journal.open_transactions()
                     if tx.stage in (Stage.INTENT, Stage.SENT, Stage.AUTHORISED, Stage.REVERSAL_DUE)]
    except MposError:
        text = "not checked: the journal is unreadable (see the journal check)"
        return [Check("offline", WARN, text), Check("recover", WARN, text)]
    checks = []
    if queue.count:
        totals = ", ".join(format_money(minor, currency(code)) for code, minor in sorted(queue.totals_minor.items()))
        age = now_or_system(env) - queue.oldest.created_at
        late = ""
        try:
            if age > timedelta(hours=env.config["offline.max_age_hours"]):
                late = "; past the age limit, so no new payment can be stored offline"
        except MposError:
            pass  # the config check says what is wrong with it
        checks.append(Check("offline", WARN, f"{_count(queue.count, 'payment')} stored offline ({totals}), the oldest "
                                             f"{_duration(age.total_seconds())} old{late}: mpos offline forward"))
    else:
        checks.append(Check("offline", OK, "no payments stored offline"))
    busy = InFlight(env).busy if open_ else None
    waiting = [tx for tx in open_ if not busy(tx.id)]
    if waiting:
        checks.append(Check("recover", WARN, f"{_count(len(waiting), 'payment')} with an outcome still to settle "
                                             f"(first: {waiting[0].id}): mpos recover"))
    elif open_:
        checks.append(Check("recover", OK, f"{_count(len(open_), 'payment')} in progress in another mpos process"))
    else:
        checks.append(Check("recover", OK, "no payment left open"))
    return checks
