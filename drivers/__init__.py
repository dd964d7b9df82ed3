"""Card-reader drivers: the reader ABC, transports and the simulated reader.

New readers plug in through the ``mpos.readers`` entry-point group.
"""
