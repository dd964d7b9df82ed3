"""Test scaffolding shared by every test folder: the sandbox acquirer as a
server (embedded or as ``mpos sandbox serve``), the fault proxy, the
journal/ledger agreement check and the gateway request builders. The
fixtures live in tests/conftest.py."""
