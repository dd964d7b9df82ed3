"""Encrypted PIN blocks (ISO 9564-1) under a DUKPT PIN key.

- Format 0 (the "ANSI" block, ISO 9564-1 §9.3.1.4): PIN field XOR PAN field,
  8 bytes, encrypted TDES-ECB under the TDES DUKPT PIN variant.
- Format 4 (ISO 9564-1 §9.4.2, for AES): the 16-byte PIN field is encrypted,
  XORed with the PAN field and encrypted again, under the AES DUKPT PIN
  encryption working key.

The block layouts come from psec (pinblock.encode_pinblock_iso_0 and
friends); the encryption around them from drivers.crypto.dukpt.
"""

from __future__ import annotations

from psec import pinblock as _pinblock

from mpos_cli.drivers.crypto import dukpt


def encrypt_format0(transaction_key: bytes, pin: str, pan: str) -> bytes:
    """The PIN block a TDES DUKPT reader sends: format 0 under the PIN variant."""
    return dukpt.tdes_encrypt(dukpt.pin_key(transaction_key), _pinblock.encode_pinblock_iso_0(pin, pan))


def decrypt_format0(transaction_key: bytes, encrypted: bytes, pan: str) -> str:
    """The PIN inside; ValueError if the block is not a format 0 block for ``pan``."""
    if len(encrypted) != 8:
        raise ValueError("a format 0 PIN block is 8 bytes")
    clear = dukpt.tdes_decrypt(dukpt.pin_key(transaction_key), bytes(encrypted))
    return _pinblock.decode_pinblock_iso_0(clear, pan)


def encrypt_format4(transaction_key: bytes, ksn: bytes, pin: str, pan: str) -> bytes:
    key = dukpt.aes_working_key(transaction_key, ksn, dukpt.USAGE_PIN_ENCRYPTION)
    return _pinblock.encipher_pinblock_iso_4(key, pin, pan)


def decrypt_format4(transaction_key: bytes, ksn: bytes, encrypted: bytes, pan: str) -> str:
    key = dukpt.aes_working_key(transaction_key, ksn, dukpt.USAGE_PIN_ENCRYPTION)
    return _pinblock.decipher_pinblock_iso_4(key, bytes(encrypted), pan)
