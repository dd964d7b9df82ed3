"""The acquirer gateway: the interface, the httpx client, the sandbox acquirer.

A second acquirer adapter is one module implementing ``Gateway`` and an
entry point in the ``mpos.gateways`` group.
"""
