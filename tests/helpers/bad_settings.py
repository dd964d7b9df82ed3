"""Settings that must be refused, shared by the configuration core's tests and the CLI's."""

# The values issue 13 found accepted by ``config set``, each of which later
# broke a sale after the card was read.
ISSUE_13_REPROS = [
    ("offline.max_amount", "abc"),
    ("contactless.cvm_limit", "abc"),
    ("locale", "xx_YY"),
    ("timezone", "Mars/Base"),
    ("gateway.url", "http://example.com"),
]
