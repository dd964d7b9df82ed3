"""The simulated reader: a card emulator and a NEO 2 reader device (what it
does), apart from its fronts (in process, Bluetooth LE peripheral)."""
