"""A keyring backend for one test: the ``keyring`` library's own backend
interface over a JSON file named by ``MPOS_TEST_KEYRING`` (selected with
``PYTHON_KEYRING_BACKEND``, as any user's backend is)."""

from __future__ import annotations

import json
import os

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    priority = 1

    def _load(self) -> dict:
        with open(os.environ["MPOS_TEST_KEYRING"]) as fh:
            return json.load(fh)

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service}/{username}"] = password
        with open(os.environ["MPOS_TEST_KEYRING"], "w") as fh:
            json.dump(data, fh)

    def delete_password(self, service, username):
        data = self._load()
        data.pop(f"{service}/{username}", None)
        with open(os.environ["MPOS_TEST_KEYRING"], "w") as fh:
            json.dump(data, fh)
