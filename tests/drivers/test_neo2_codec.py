"""NEO 2 framing against the guide's published bytes, and under any split."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpos_cli.drivers.base import HostResponse, TransactionRequest
from mpos_cli.drivers.neo2 import tlv
from mpos_cli.drivers.neo2.codes import Command, Status
from mpos_cli.drivers.neo2.frame import CorruptFrame, Frame, FrameDecoder, command_frame, response_frame
from mpos_cli.drivers.sim.device import SimulatedReaderDevice
from mpos_cli.drivers.sim.reader import SimulatedReader
from mpos_cli.drivers.sim.server import Neo2DeviceServer
from tests.drivers.issuer_helpers import host_response
from mpos_cli.drivers.errors import ReaderProtocolError

# Published in the NEO 2 Interface Developer's Guide.
PING = bytes.fromhex("5669564F746563683200 1801 0000 B3CD".replace(" ", ""))
PING_ANSWER = bytes.fromhex("5669564F746563683200 1800 0000 FA83".replace(" ", ""))
QUERY_SCREEN = bytes.fromhex("5669564F746563683200 6113 0008 53637265656E3100 58F8".replace(" ", ""))
QUERY_SCREEN_ANSWER = bytes.fromhex("5669564F746563683200 6100 0001 01 5BBF".replace(" ", ""))


def test_ping_matches_the_guide_byte_for_byte():
    assert command_frame(0x18, 0x01) == PING
    assert command_frame(Command.PING.command, Command.PING.sub_command) == PING
    assert response_frame(0x18, Status.OK) == PING_ANSWER


def test_frames_with_data_match_the_guide():
    assert command_frame(0x61, 0x13, b"Screen1\x00") == QUERY_SCREEN
    assert response_frame(0x61, Status.OK, b"\x01") == QUERY_SCREEN_ANSWER


def test_decoding_the_guide_frames():
    assert FrameDecoder(from_reader=False).feed(QUERY_SCREEN) == [Frame(0x61, 0x13, b"Screen1\x00")]
    assert FrameDecoder(from_reader=True).feed(PING_ANSWER) == [Frame(0x18, 0x00, b"", from_reader=True)]


def test_a_frame_in_the_wrong_direction_fails_its_crc():
    # Terminal frames carry the CRC low byte first, reader frames high byte first.
    assert FrameDecoder(from_reader=True).feed(PING) == [CorruptFrame(0x18, "crc_mismatch")]


frames = st.builds(
    Frame,
    command=st.integers(0, 255),
    code=st.integers(0, 255),
    data=st.binary(max_size=600),
    from_reader=st.booleans(),
)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


@settings(max_examples=200)
@given(st.lists(frames, min_size=1, max_size=5), st.booleans(), st.lists(st.integers(0, 10_000), max_size=40),
       st.binary(max_size=20))
def test_any_split_reassembles_the_same_frames(batch, from_reader, cuts, noise):
    batch = [Frame(f.command, f.code, f.data, from_reader) for f in batch]
    stream = b"".join(f.encode() for f in batch)
    noise = noise.replace(b"V", b"")  # noise that cannot start a header
    decoder = FrameDecoder(from_reader=from_reader)
    decoded = []
    for chunk in _chunks(noise + stream, cuts):
        decoded += decoder.feed(chunk)
    assert decoded == batch
    assert decoder.pending == 0


@settings(max_examples=200)
@given(frames, frames, st.integers(0, 10_000), st.integers(0, 7), st.lists(st.integers(0, 10_000), max_size=10))
def test_a_damaged_frame_is_reported_and_the_next_one_still_arrives(damaged, following, position, bit, cuts):
    first = bytearray(Frame(damaged.command, damaged.code, damaged.data, True).encode())
    second = Frame(following.command, following.code, following.data, True)
    # Any single bit outside the length field (a damaged length is caught by
    # the host's timeout and retry instead).
    index = position % len(first)
    if index in (12, 13):
        index = 14 if len(first) > 16 else 0
    first[index] ^= 1 << bit
    decoder = FrameDecoder(from_reader=True)
    decoded = []
    for chunk in _chunks(bytes(first) + second.encode(), cuts):
        decoded += decoder.feed(chunk)
    assert decoded[-1] == second
    assert all(isinstance(item, CorruptFrame) for item in decoded[:-1])


@settings(max_examples=200)
@given(st.dictionaries(
    st.sampled_from(["9F02", "5F2A", "9A", "9C", "9F37", "95", "DF52", "DFEE12", "DFEF7F", "9F10", "84", "71"]),
    st.binary(max_size=300).map(lambda b: b.hex().upper()),
))
def test_tlv_round_trip(tags):
    assert tlv.decode(tlv.encode(tags)) == tags


WHEN = datetime(2025, 3, 14, 15, 9, 26, tzinfo=timezone.utc)


def sale(amount_minor=1250, scenario=None):
    return TransactionRequest(amount_minor, "978", 2, WHEN, scenario=scenario)


async def _payment(reader, scenario=None, amount_minor=1250):
    async with reader:
        result = await reader.start_transaction(sale(amount_minor, scenario))
        return result, await reader.complete(host_response(result, amount_minor))


def payment(reader, **kwargs):
    return asyncio.run(_payment(reader, **kwargs))


class CorruptOnce:
    """Flip one bit of the CRC in the n-th frame going one way, once.

    (A bit flipped in the header instead makes the frame unrecognisable:
    the host then waits out its response timeout before sending again.)"""

    def __init__(self, direction, frame_index):
        self.direction, self.frame_index, self.seen = direction, frame_index, 0

    def __call__(self, direction, frame):
        if direction != self.direction:
            return frame
        self.seen += 1
        if self.seen != self.frame_index:
            return frame
        damaged = bytearray(frame)
        damaged[-1] ^= 0x10
        return bytes(damaged)


@pytest.mark.parametrize("direction", ["to_host", "to_reader"])
@pytest.mark.parametrize("frame_index", [1, 4, 6])  # ping, contact start, apply host response
def test_a_damaged_frame_is_sent_again_and_the_payment_goes_through(direction, frame_index):
    fault = CorruptOnce(direction, frame_index)
    reader = SimulatedReader(fault=fault, mtu=23)
    result, completion = payment(reader, scenario="chip")
    assert result.decision == "online" and completion.accepted
    assert reader.client.stats.retries == 1 and reader.client.stats.corrupt_frames == 1


@pytest.mark.parametrize("lost_answer", [5, 6])  # 60-11 (first GENERATE AC), 60-12 (second)
def test_the_card_answers_once_even_when_its_answer_is_lost(lost_answer):
    device = SimulatedReaderDevice()
    reader = SimulatedReader(device=device, fault=CorruptOnce("to_host", lost_answer))
    result, completion = payment(reader, scenario="chip")
    assert completion.accepted
    assert device._cards["mastercard:False"].atc == int(result.emv["9F36"], 16)  # one GENERATE AC pair, no more


def test_a_link_that_damages_everything_gives_up_after_bounded_retries():
    reader = SimulatedReader(fault=lambda direction, frame: frame[:-1] + bytes([frame[-1] ^ 0xFF]))
    with pytest.raises(ReaderProtocolError) as caught:
        asyncio.run(reader.connect())
    assert caught.value.reason == "crc_error"
    assert reader.client.stats.frames_sent == 3


def test_small_mtu_splits_frames_but_not_the_payment():
    reader = SimulatedReader(mtu=23)
    result, completion = payment(reader, scenario="chip")
    assert completion.accepted
    stats = reader.transport.stats
    assert stats.writes > reader.client.stats.frames_sent  # activate needed several writes
    assert stats.notifications > reader.client.stats.frames_received


def test_the_device_answers_unknown_commands_with_a_status():
    server = Neo2DeviceServer(SimulatedReaderDevice())
    decoder = FrameDecoder(from_reader=True)
    (unknown_group,) = decoder.feed(server.feed(command_frame(0x77, 0x01))[0])
    (unknown_sub,) = decoder.feed(server.feed(command_frame(0x18, 0x7F))[0])
    (version,) = decoder.feed(server.feed(command_frame(0x29, 0x00))[0])
    assert unknown_group.code == Status.UNKNOWN_COMMAND and unknown_sub.code == Status.UNKNOWN_SUB_COMMAND
    assert version.code == Status.OK and version.data == b"NEO2-SIM 1.0"
