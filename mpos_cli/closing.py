"""``with part:`` for the parts that hold a file, a lock or a connection
(the point of sale, the gateway, the catalogue, the hub and its local copy):
the block's end closes the part, however the block ended."""

from __future__ import annotations

from typing import Self


class ClosedOnExit:
    """Mixed into a class with a ``close()``: ``with`` returns the object
    itself and closes it on the way out (an error in the block still propagates)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
