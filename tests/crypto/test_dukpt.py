"""DUKPT and PIN blocks against published test vectors.

Sources (the standards themselves are sold, their test vectors are widely
republished):

- ANSI X9.24-1:2009 Annex A.4.2, "Initial Sequence": BDK
  0123456789ABCDEFFEDCBA9876543210, KSN FFFF9876543210E0000n, IPEK
  6AC292FAA1315B4D858AB3A3D7D5933A, current keys, PIN blocks (PIN 1234, PAN
  4012345678909) and request/response data encryption of
  "4012345678909D987". Transcribed from moov-io/dukpt, pkg/des/des_test.go
  (commit 1155c927870e2005282046358fa0f4736146f4af), which quotes A.4.2.
- ANSI X9.24-3:2017 Annex B.1 (AES-128 BDK FEDCBA9876543210F1F1F1F1F1F1F1F1,
  initial key ID 1234567890123456, initial key 1273671EA26AC29AFA4D1084127652A1,
  transaction keys and data encryption for counters 1-8): moov-io/dukpt,
  pkg/aes/aes_test.go (commit 012b340133ebaa2b2ccbc07f25086c4ab1984991).
- ISO 9564-1 format 0 clear block for PIN 1234 / PAN 4012345678909:
  041274EDCBA9876F, as in the DUKPT2000 verify table of the public
  dukpt-pinblock examples (the same block ANSI X9.24-1 A.4 encrypts into
  1B9C1845EB993A7A).
"""

from __future__ import annotations

import pytest
from psec import pinblock as iso9564

from mpos_cli.drivers.crypto import dukpt, pinblock

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
IPEK = "6AC292FAA1315B4D858AB3A3D7D5933A"
PIN, PAN, DATA = "1234", "4012345678909", b"4012345678909D987"

# (KSN, current key, encrypted PIN block, request data, response data) - A.4.2
X9_24_1 = [
    ("FFFF9876543210E00001", "042666B49184CFA368DE9628D0397BC9", "1B9C1845EB993A7A",
     "FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F", "1FCC89AF66222F27B903898BB2BC8589CDBFDE5EC6AFCC25"),
    ("FFFF9876543210E00002", "C46551CEF9FD24B0AA9AD834130D3BC7", "10A01C8D02C69107",
     "A2B4E70F846E63D68775B7215EB4563DFD3037244C61CC13", "5B692A6B1FDD5E25B0DEFAFDE1672E402F8011360CFF3508"),
    ("FFFF9876543210E00003", "0DF3D9422ACA56E547676D07AD6BADFA", "18DC07B94797B466",
     "BD751E65F10E75B6C1D5B1D283496A36C2DE21D993C387A7", "345992D4163E4926C927BFD8ABD5D76F087A9CE81D5A27B8"),
    ("FFFF9876543210E00004", "279C0F6AEED0BE652B2C733E1383AE91", "0BC79509D5645DF7",
     "1118F50947441BBDA3C8C70220021A12EC31CC473F7215F4", "418C7413576C0D1819E785D3807AF32334231FDEC23414DB"),
    ("FFFF9876543210E00005", "5F8DC6D2C845C125508DDC048093B83F", "5BC0AF22AD87B327",
     "9FD7BD1EC28845ACA93367A9DA9317BD555C6B33AE22D365", "7D4C109E49E83355A556AE949EED359F4404E7A2F0167C00"),
]


def test_ipek_from_the_test_bdk():
    assert dukpt.ipek(BDK, bytes.fromhex("FFFF9876543210E00000")).hex().upper() == IPEK
    # The counter never changes the IPEK.
    assert dukpt.ipek(BDK, bytes.fromhex("FFFF9876543210E00005")).hex().upper() == IPEK


@pytest.mark.parametrize("ksn,key,epb,request_data,response_data", X9_24_1)
def test_x9_24_1_initial_sequence(ksn, key, epb, request_data, response_data):
    ksn = bytes.fromhex(ksn)
    current = dukpt.transaction_key(bytes.fromhex(IPEK), ksn)
    assert current.hex().upper() == key
    assert pinblock.encrypt_format0(current, PIN, PAN).hex().upper() == epb
    assert pinblock.decrypt_format0(current, bytes.fromhex(epb), PAN) == PIN
    padded = dukpt.zero_pad(DATA, 8)
    assert dukpt.tdes_cbc(dukpt.data_request_key(current), padded).hex().upper() == request_data
    assert dukpt.tdes_cbc(dukpt.data_response_key(current), padded).hex().upper() == response_data
    assert dukpt.tdes_cbc(dukpt.data_request_key(current), bytes.fromhex(request_data), decrypt=True) == padded


def test_iso_9564_format_0_clear_block():
    assert iso9564.encode_pinblock_iso_0(PIN, PAN).hex().upper() == "041274EDCBA9876F"


def test_a_pin_block_under_another_ksn_does_not_open():
    key_1 = dukpt.transaction_key(bytes.fromhex(IPEK), bytes.fromhex("FFFF9876543210E00001"))
    key_2 = dukpt.transaction_key(bytes.fromhex(IPEK), bytes.fromhex("FFFF9876543210E00002"))
    with pytest.raises(ValueError):
        pinblock.decrypt_format0(key_2, pinblock.encrypt_format0(key_1, PIN, PAN), PAN)


def test_next_ksn_skips_counters_with_more_than_ten_one_bits():
    assert dukpt.next_ksn(bytes.fromhex("FFFF9876543210E00001")).hex().upper() == "FFFF9876543210E00002"
    # 0x0003FF has ten 1 bits; 0x000400 is next (every value between has more).
    assert dukpt.ksn_counter(dukpt.next_ksn(dukpt.with_counter(bytes(10), 0x3FF))) == 0x400
    with pytest.raises(dukpt.DukptError):
        dukpt.next_ksn(dukpt.with_counter(bytes(10), 0x1FF800))


AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
# (counter, transaction key, data request, data response) - X9.24-3 B.1, AES-128
X9_24_3 = [
    (1, "4F21B565BAD9835E112B6465635EAE44", "E5AFA5B408A3310E3D779C8A9A2AE29448BD5B4232582090DB703AF647205A79",
     "84904DFC6B5201A4F1FE2EAA49E70B8C01838EF53030790FF785D630AB3916B4"),
    (2, "2F34D68DE10F68D38091A73B9E7C437C", "A17A9658EE0F451D6CA11B65B592EF9C5F90BB175D926F1457B63B3273042476",
     "699ED7BC85994F1C11DE1C40177A629530E85262EA0B02FB80771255DC1F65B6"),
    (3, "031504E530365CF81264238540518318", "E289C32A084A39419A6C147DE40B53A67BABE2BD22DC3D5EE09B002E83B93ACE",
     "0F440D9321C1ABBEF9CA7008B40CF18B3045A84D5435D6CF9A4955E3451C49E9"),
    (8, "718EE6CF0B27E53D5F7AF99C4D8146A2", "304EC254A7B528D9892E47F7C1315D498C0D88EA8CD71CA52D38F362721AEA67",
     "8CD1A54538B9DC79A5DF4544ADE8D1F1A085AC1F89AA59BFF49351A68957DE1B"),
]


def test_aes_initial_key():
    ksn = bytes.fromhex("123456789012345600000001")
    assert dukpt.aes_initial_key(AES_BDK, ksn).hex().upper() == "1273671EA26AC29AFA4D1084127652A1"


@pytest.mark.parametrize("counter,key,request_data,response_data", X9_24_3)
def test_x9_24_3_aes128_sequence(counter, key, request_data, response_data):
    ksn = bytes.fromhex("1234567890123456") + counter.to_bytes(4, "big")
    current = dukpt.aes_transaction_key(dukpt.aes_initial_key(AES_BDK, ksn), ksn)
    assert current.hex().upper() == key
    padded = dukpt.zero_pad(DATA, 16)
    encrypt = dukpt.aes_working_key(current, ksn, dukpt.USAGE_DATA_ENCRYPT)
    decrypt = dukpt.aes_working_key(current, ksn, dukpt.USAGE_DATA_DECRYPT)
    assert dukpt.aes_cbc(encrypt, padded).hex().upper() == request_data
    assert dukpt.aes_cbc(decrypt, padded).hex().upper() == response_data
    # ISO 9564 format 4 carries a random pad: round trip, and refused under another PAN.
    block = pinblock.encrypt_format4(current, ksn, PIN, "4111111111111111")
    assert len(block) == 16 and pinblock.decrypt_format4(current, ksn, block, "4111111111111111") == PIN
    with pytest.raises(ValueError):
        pinblock.decrypt_format4(current, ksn, block, "4111111111111129")
