"""How a reader is reached: one folder (or module) per transport."""
