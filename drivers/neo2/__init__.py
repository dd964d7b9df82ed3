"""ID TECH NEO 2 ("ViVOpay") protocol: framing, TLV payloads, the host side."""
