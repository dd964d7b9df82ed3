"""Payment cryptography shared by readers and acquirers: DUKPT key
derivation (ANSI X9.24) and encrypted PIN blocks (ISO 9564).

It imports nothing from the rest of mpos, so the simulated reader
(drivers/sim) and the sandbox acquirer (mpos_cli/gateway/sandbox) both use
it without drivers/ depending on the core.
"""
