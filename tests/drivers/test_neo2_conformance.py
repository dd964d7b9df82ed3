"""mpos's NEO 2 codec and driver against bytes other people published.

Expected bytes are copied from the sources cited at each constant, never
produced by mpos's encoder:

- NEO 2 Interface Developer's Guide (ID TECH 80139403-002 Rev. 88.1; public
  copy: manualshive.com "IDTECH Vivopay Neo 2 Developer's Manual"): the Ping
  command and answer of the Protocol 2 examples.
- hakonschia/web-hid-api, a WebHID client for the VP3300: public/js/script.js
  (commit 3a3ff9274acc418162565274fd2ca22f9ad48c15) sends this complete
  Activate Transaction (02-40) frame; src/NfcReader.js (commit
  1932c78805e8c1d68b8f2f61582100edf7725ab4) sends Ping with CRC "b3cd".
- ID TECH's own NEO test scripts (ViVOpay protocol 3 captures of 02-05 answers
  with a DUKPT data key, test key 0123456789ABCDEFFEDCBA9876543210), as
  indexed by content in the public code index (it does not name the
  repository): the masked objects (``57 A1 13 ...``, ``5A A1 08 ...``,
  ``DF EF 18 A1 24 ...``) and the plaintext their encrypted twins decrypt to
  (``57134761739001010010D20121200012339900031F``, ``5A084761739001010010``).
  The guide (§8.5.3, p. 232-233) names the layout: Attribution byte, KSN in
  DFEE12, "Sensitive TLV will be TDES/AES encrypted with Padding (0x00)".
"""

from __future__ import annotations

from mpos_cli.drivers.neo2 import results, tlv
from mpos_cli.drivers.neo2.codes import Command
from mpos_cli.drivers.neo2.frame import Frame, FrameDecoder, command_frame, response_frame
from mpos_cli.drivers.sim import encryption
from mpos_cli.gateway.sandbox import p2pe

# NEO 2 Interface Developer's Guide, Protocol 2 examples: Ping and its answer.
GUIDE_PING = bytes.fromhex("5669564F746563683200" "1801" "0000" "B3CD")
GUIDE_PING_ANSWER = bytes.fromhex("5669564F746563683200" "1800" "0000" "FA83")

# hakonschia/web-hid-api, public/js/script.js: Activate Transaction 02-40.
WEBHID_ACTIVATE = bytes.fromhex(
    "5669564f746563683200024000169f0201009f030100ffee080adfef1a010adfed280103fd1a")
# hakonschia/web-hid-api, src/NfcReader.js: ping() appends CRC "b3cd" to 18-01.
WEBHID_PING_CRC = bytes.fromhex("b3cd")

# ID TECH test script, "ACT 02-05 slot0" answer (Visa test card), the fully
# spelled-out run of objects: 50 "VISA TEST 01", masked 57.
IDTECH_VISA_OBJECTS = bytes.fromhex(
    "500C56495341205445535420303157A113" "4761CCCCCCCC0010D2012120CCCCCCCCCCCCCC")
IDTECH_VISA_MASKED_5A = bytes.fromhex("5AA1084761CCCCCCCC0010")
IDTECH_VISA_57_PLAINTEXT = bytes.fromhex("57134761739001010010D20121200012339900031F")
IDTECH_VISA_5A_PLAINTEXT = bytes.fromhex("5A084761739001010010")
# ID TECH test script, "MCHIP" answer (Mastercard test card): masked track 2
# data (DFEF18, ASCII with *), masked 5A with six leading digits, masked 57.
IDTECH_MC_OBJECTS = bytes.fromhex(
    "DFEF18A124" "353431333333" "2A2A2A2A2A2A" "31353133" "3D" "31323037" + "2A" * 15
    + "5AA108541333CCCCCC1513" "57A112541333CCCCCC1513D1207201CCCCCCCCCCCC")
IDTECH_MC_5A_PLAINTEXT = bytes.fromhex("5A085413339000001513")


def test_ping_frames_match_the_guide_and_the_webhid_client():
    assert command_frame(Command.PING.command, Command.PING.sub_command) == GUIDE_PING
    assert GUIDE_PING.endswith(WEBHID_PING_CRC)
    assert response_frame(0x18, 0x00) == GUIDE_PING_ANSWER
    assert FrameDecoder(from_reader=True).feed(GUIDE_PING_ANSWER) == [Frame(0x18, 0x00, b"", from_reader=True)]


def test_the_webhid_activate_transaction_frame_decodes_and_reencodes_byte_for_byte():
    (frame,) = FrameDecoder(from_reader=False).feed(WEBHID_ACTIVATE)
    assert Command.of(frame.command, frame.code) is Command.ACTIVATE_TRANSACTION
    assert len(frame.data) == 0x16
    assert command_frame(0x02, 0x40, frame.data) == WEBHID_ACTIVATE
    tags = tlv.decode(frame.data)
    assert tags["9F02"] == "00" and tags["9F03"] == "00"
    # FFEE08 is not a container mpos opens: kept whole, as the reader's group.
    assert tags["FFEE08"] == "DFEF1A010ADFED280103"


def test_masked_objects_in_the_guide_length_forms_decode():
    decoded = tlv.parse(IDTECH_VISA_OBJECTS + IDTECH_VISA_MASKED_5A)
    assert bytes.fromhex(decoded.plain["50"]) == b"VISA TEST 01"
    assert decoded.masked["57"] == "4761CCCCCCCC0010D2012120CCCCCCCCCCCCCC"
    assert decoded.masked["5A"] == "4761CCCCCCCC0010"
    assert not decoded.encrypted and "57" not in decoded.plain
    assert results.masked_pan(decoded) == "4761********0010"


def test_masked_track_2_data_and_six_leading_digits():
    decoded = tlv.parse(IDTECH_MC_OBJECTS)
    assert bytes.fromhex(decoded.masked["DFEF18"]).decode() == "541333******1513=1207" + "*" * 15
    assert decoded.masked["57"].startswith("541333CCCCCC1513D1207201")
    assert results.masked_pan(decoded) == "541333******1513"


def test_encrypted_objects_decrypt_to_the_whole_tlv_as_id_tech_shows():
    # What an encrypted copy holds, once decrypted: the object's own TLV, 00-padded.
    assert tlv.decode(IDTECH_VISA_57_PLAINTEXT + bytes(3)) == {"57": IDTECH_VISA_57_PLAINTEXT[2:].hex().upper()}
    assert tlv.TlvObject("5A", IDTECH_VISA_5A_PLAINTEXT[2:]).encode() == IDTECH_VISA_5A_PLAINTEXT
    assert tlv.TlvObject("5A", IDTECH_MC_5A_PLAINTEXT[2:]).encode() == IDTECH_MC_5A_PLAINTEXT
    # The gateway's reading of the decrypted track 2 equivalent.
    found = p2pe.track2_card_data(IDTECH_VISA_57_PLAINTEXT[2:].hex())
    assert (found.pan, found.expiry) == ("4761739001010010", "2012")


def test_the_simulator_masks_and_encrypts_in_the_same_layout():
    # Our simulator, fed the ID TECH script's card, produces the script's forms.
    key = encryption.DukptKey.injected(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
                                       bytes.fromhex("FFFF9876543210E00000"))
    clear = {"57": IDTECH_VISA_57_PLAINTEXT[2:].hex().upper()}
    masked = {"57": encryption.mask_bcd(clear["57"], keep_first=4)}
    objects = encryption.sensitive_objects(key, clear, masked)
    encoded = tlv.encode_objects(objects)
    assert IDTECH_VISA_OBJECTS[14:] in encoded  # 57 A1 13 <masked> as in the script
    assert bytes.fromhex("57C118") in encoded  # 24 bytes of TDES ciphertext, as the script's "57 C1 18"
