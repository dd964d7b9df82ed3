"""The remembered reader's file and the live status line (mpos_cli.reader_select)."""

from __future__ import annotations

import io
import json

from mpos_cli.reader_select import MAX_REMEMBERED, LiveLine, RememberedReaders


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_address_is_remembered_per_spec_in_a_private_file(tmp_path):
    memory = RememberedReaders(tmp_path / "reader.json")
    assert memory.address_for("ble:VP3300-1234") is None
    memory.remember("ble:VP3300-1234", "C8:47:8C:10:22:01", "VP3300-1234")
    memory.remember("ble:counter-2", "C8:47:8C:10:22:02", "counter-2")
    again = RememberedReaders(tmp_path / "reader.json")
    assert again.address_for("ble:VP3300-1234") == "C8:47:8C:10:22:01"
    assert again.get("ble:counter-2")["name"] == "counter-2"
    assert (tmp_path / "reader.json").stat().st_mode & 0o777 == 0o600
    again.forget("ble:counter-2")
    assert again.address_for("ble:counter-2") is None and again.address_for("ble:VP3300-1234")


def test_only_the_newest_readers_are_kept(tmp_path):
    memory = RememberedReaders(tmp_path / "reader.json")
    for n in range(MAX_REMEMBERED + 3):
        memory.remember(f"ble:reader-{n}", f"00:00:00:00:00:{n:02X}")
    kept = json.loads((tmp_path / "reader.json").read_text())["readers"]
    assert len(kept) == MAX_REMEMBERED and "ble:reader-0" not in kept and f"ble:reader-{MAX_REMEMBERED + 2}" in kept


def test_an_unreadable_memory_is_an_empty_one(tmp_path):
    path = tmp_path / "reader.json"
    path.write_text("{not json")
    memory = RememberedReaders(path)
    assert memory.address_for("ble:x") is None
    memory.remember("ble:x", "00:00:00:00:00:01")  # and it heals on the next connection
    assert memory.address_for("ble:x") == "00:00:00:00:00:01"


def test_the_live_line_rewrites_itself_on_a_terminal_and_is_silent_elsewhere():
    terminal = Terminal()
    line = LiveLine(terminal)
    line("looking for VP3300-1234… 0 s")
    line("looking for VP3300-1234… 1 s")
    line(None)
    assert terminal.getvalue() == ("\r\x1b[Klooking for VP3300-1234… 0 s\r\x1b[Klooking for VP3300-1234… 1 s"
                                   "\r\x1b[K")
    piped = io.StringIO()
    quiet = LiveLine(piped)
    quiet("looking for VP3300-1234… 0 s")
    quiet(None)
    assert piped.getvalue() == ""
