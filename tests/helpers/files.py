"""Every file below a folder by its digest, to assert that nothing was written."""

from __future__ import annotations

import hashlib
import os


def file_digests(folder, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` by relative path, leaving out the names in ``skip``."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            if name in skip:
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return out
