"""DUKPT: Derived Unique Key Per Transaction.

Two generations, as card readers ship them:

- **TDES DUKPT**, ANSI X9.24-1:2009 Annex A (what ID TECH's NEO 2 readers
  use by default): a 10-byte KSN (59-bit initial key serial number and a
  21-bit transaction counter), a double-length initial key (IPEK) derived
  from the base derivation key (BDK), and per transaction a key reached by
  the non-reversible key generation process once for each 1 bit of the
  counter. The PIN, MAC and data keys are *variants* of that key (Table
  A-1); the data keys also go through the one-way step of Figure A-2 (each
  half TDES-encrypted under the variant itself).
- **AES DUKPT**, ANSI X9.24-3:2017 §6: a 12-byte KSN (8-byte initial key ID,
  32-bit counter), keys derived with AES-ECB over a 16-byte derivation data
  block naming the key's use, algorithm and length.

This is the host-side derivation (from the IPEK or BDK down to one KSN), as
an acquirer's HSM does it; the simulated reader uses it too, starting from
its IPEK, as a stand-in for the future-key registers of a real device.

Checked against the published vectors of X9.24-1 Annex A.4 and X9.24-3
Annex B (tests/crypto/test_dukpt.py cites where they were taken from).
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# -- TDES DUKPT (ANSI X9.24-1:2009, Annex A) ----------------------------------

TDES_KSN_SIZE = 10
COUNTER_BITS = 21
COUNTER_MASK = (1 << COUNTER_BITS) - 1
# A.6: the mask giving the right half of the IPEK, also used in A.2 step 6.
_KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")
# Table A-1: variants of the current transaction key.
PIN_VARIANT = bytes.fromhex("00000000000000FF00000000000000FF")
MAC_REQUEST_VARIANT = bytes.fromhex("000000000000FF00000000000000FF00")
MAC_RESPONSE_VARIANT = bytes.fromhex("00000000FF00000000000000FF000000")
DATA_REQUEST_VARIANT = bytes.fromhex("0000000000FF00000000000000FF0000")
DATA_RESPONSE_VARIANT = bytes.fromhex("000000FF00000000000000FF00000000")
# A device may use counters with at most ten 1 bits (A.2), the last being 0x1FF800.
MAX_ONE_BITS = 10


class DukptError(ValueError):
    pass


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _tdes(key: bytes) -> TripleDES:
    # Keying options 2 and 3 spelled out as three keys (K1 K2 K1, K1 K1 K1):
    # the same cipher, in the one form cryptography keeps supporting.
    if len(key) == 8:
        key = key * 3
    elif len(key) == 16:
        key = key + key[:8]
    return TripleDES(key)


def _ecb(key: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(_tdes(key), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


def tdes_encrypt(key: bytes, data: bytes) -> bytes:
    """Two-key TDES (EDE) in ECB mode, or single DES for an 8-byte key."""
    return _ecb(key, data)


def tdes_decrypt(key: bytes, data: bytes) -> bytes:
    return _ecb(key, data, decrypt=True)


def _check(name: str, value: bytes, size: int) -> bytes:
    value = bytes(value)
    if len(value) != size:
        raise DukptError(f"{name} must be {size} bytes, not {len(value)}")
    return value


def ksn_counter(ksn: bytes) -> int:
    """The transaction counter: the rightmost 21 bits of a TDES KSN."""
    return int.from_bytes(_check("KSN", ksn, TDES_KSN_SIZE)[-3:], "big") & COUNTER_MASK


def with_counter(ksn: bytes, counter: int) -> bytes:
    ksn = _check("KSN", ksn, TDES_KSN_SIZE)
    if not 0 <= counter <= COUNTER_MASK:
        raise DukptError(f"counter {counter:#x} does not fit 21 bits")
    tail = (int.from_bytes(ksn[-3:], "big") & ~COUNTER_MASK) | counter
    return ksn[:-3] + tail.to_bytes(3, "big")


def next_ksn(ksn: bytes) -> bytes:
    """The KSN of the device's next transaction: the next counter with at most ten 1 bits (A.2)."""
    counter = ksn_counter(ksn) + 1
    while bin(counter).count("1") > MAX_ONE_BITS:
        counter += counter & -counter  # skip every value that keeps these 1 bits
    if counter > COUNTER_MASK:
        raise DukptError("the KSN's transaction counter is exhausted: the reader needs a new key")
    return with_counter(ksn, counter)


def ipek(bdk: bytes, ksn: bytes) -> bytes:
    """A.6: the initial key from the BDK and the KSN with its counter cleared."""
    bdk = _check("BDK", bdk, 16)
    initial = with_counter(ksn, 0)[:8]
    return tdes_encrypt(bdk, initial) + tdes_encrypt(_xor(bdk, _KEY_MASK), initial)


def _non_reversible(key: bytes, register: bytes) -> bytes:
    """A.2 steps 2-10: one step of the non-reversible key generation process."""
    def half(k: bytes) -> bytes:
        return _xor(k[8:], tdes_encrypt(k[:8], _xor(k[8:], register)))

    return half(_xor(key, _KEY_MASK)) + half(key)


def transaction_key(initial_key: bytes, ksn: bytes) -> bytes:
    """A.3: the current transaction key for ``ksn``, from the IPEK."""
    key = _check("IPEK", initial_key, 16)
    counter = ksn_counter(ksn)
    register = int.from_bytes(ksn[2:], "big") & ~COUNTER_MASK  # rightmost 64 bits, counter cleared
    bit = 1 << (COUNTER_BITS - 1)
    while bit:
        if counter & bit:
            register |= bit
            key = _non_reversible(key, register.to_bytes(8, "big"))
        bit >>= 1
    return key


def pin_key(key: bytes) -> bytes:
    return _xor(_check("key", key, 16), PIN_VARIANT)


def mac_request_key(key: bytes) -> bytes:
    return _xor(_check("key", key, 16), MAC_REQUEST_VARIANT)


def _data_key(key: bytes, variant: bytes) -> bytes:
    # Figure A-2: the variant, then each half encrypted under the variant itself.
    v = _xor(_check("key", key, 16), variant)
    return tdes_encrypt(v, v[:8]) + tdes_encrypt(v, v[8:])


def data_request_key(key: bytes) -> bytes:
    """The key a device encrypts its data under (X9.24-1:2009 data variant, request)."""
    return _data_key(key, DATA_REQUEST_VARIANT)


def data_response_key(key: bytes) -> bytes:
    return _data_key(key, DATA_RESPONSE_VARIANT)


def zero_pad(data: bytes, block: int) -> bytes:
    """Pad with 00 bytes to whole blocks (NEO 2 guide: "encrypted with Padding (0x00)")."""
    return data + bytes(-len(data) % block)


def tdes_cbc(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    """TDES-CBC with a zero IV, as readers encrypt card data (whole 8-byte blocks)."""
    if len(data) % 8:
        raise DukptError("TDES data must be whole 8-byte blocks")
    cipher = Cipher(_tdes(key), modes.CBC(bytes(8)))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


# -- AES DUKPT (ANSI X9.24-3:2017) ---------------------------------------------

AES_KSN_SIZE = 12
AES_MAX_ONE_BITS = 16  # §6.1: counters with more than 16 one bits are skipped

# §6.3.2 Table 2: key usage indicators.
USAGE_KEY_DERIVATION = 0x8000
USAGE_INITIAL_KEY = 0x8001
USAGE_PIN_ENCRYPTION = 0x1000
USAGE_MAC_GENERATION = 0x2000
USAGE_MAC_VERIFICATION = 0x2001
USAGE_DATA_ENCRYPT = 0x3000
USAGE_DATA_DECRYPT = 0x3001
# §6.3.2 Table 3: algorithm indicators, and key lengths in bits.
ALGORITHMS = {"2TDEA": (0x0000, 128), "3TDEA": (0x0001, 192), "AES128": (0x0002, 128),
              "AES192": (0x0003, 192), "AES256": (0x0004, 256)}


def _aes_ecb(key: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


def _derivation_data(usage: int, algorithm: str, tail: bytes) -> list[bytes]:
    code, bits = ALGORITHMS[algorithm]
    blocks = -(-bits // 128)
    return [bytes((0x01, counter)) + usage.to_bytes(2, "big") + code.to_bytes(2, "big")
            + bits.to_bytes(2, "big") + tail for counter in range(1, blocks + 1)]


def _derive(key: bytes, usage: int, algorithm: str, tail: bytes) -> bytes:
    _, bits = ALGORITHMS[algorithm]
    derived = b"".join(_aes_ecb(key, block) for block in _derivation_data(usage, algorithm, tail))
    return derived[: bits // 8]


def aes_counter(ksn: bytes) -> int:
    return int.from_bytes(_check("AES KSN", ksn, AES_KSN_SIZE)[8:], "big")


def aes_next_ksn(ksn: bytes) -> bytes:
    ksn = _check("AES KSN", ksn, AES_KSN_SIZE)
    counter = aes_counter(ksn) + 1
    while bin(counter).count("1") > AES_MAX_ONE_BITS:
        counter += counter & -counter
    if counter >= 1 << 32:
        raise DukptError("the KSN's transaction counter is exhausted: the reader needs a new key")
    return ksn[:8] + counter.to_bytes(4, "big")


def aes_initial_key(bdk: bytes, ksn: bytes, algorithm: str = "AES128") -> bytes:
    """§6.3.3: the initial key from the BDK and the 8-byte initial key ID."""
    initial_key_id = bytes(ksn)[:8]
    return _derive(bdk, USAGE_INITIAL_KEY, algorithm, initial_key_id)


def aes_transaction_key(initial_key: bytes, ksn: bytes, algorithm: str = "AES128") -> bytes:
    """§6.3.4: the intermediate derivation key for the KSN's counter."""
    ksn = _check("AES KSN", ksn, AES_KSN_SIZE)
    derivation_id, counter = ksn[4:8], aes_counter(ksn)
    key, working = bytes(initial_key), 0
    bit = 1 << 31
    while bit:
        if counter & bit:
            working |= bit
            key = _derive(key, USAGE_KEY_DERIVATION, algorithm, derivation_id + working.to_bytes(4, "big"))
        bit >>= 1
    return key


def aes_working_key(transaction_key: bytes, ksn: bytes, usage: int, algorithm: str = "AES128") -> bytes:
    """§6.3.5: a working key (PIN, MAC, data) under the transaction key."""
    ksn = _check("AES KSN", ksn, AES_KSN_SIZE)
    return _derive(transaction_key, usage, algorithm, ksn[4:12])


def aes_cbc(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    """AES-CBC with a zero IV (whole 16-byte blocks)."""
    if len(data) % 16:
        raise DukptError("AES data must be whole 16-byte blocks")
    cipher = Cipher(algorithms.AES(key), modes.CBC(bytes(16)))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()
