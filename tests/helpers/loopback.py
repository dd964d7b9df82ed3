"""A server socket on loopback for the test servers that misbehave on purpose
(``fault_proxy.FaultProxy``, ``gateway.FaultServer``): a free port, an
accepting thread, a thread per connection, and ``close``."""

from __future__ import annotations

import socket
import threading


class LoopbackServer:
    """Listens on 127.0.0.1 (``url``) from construction until ``close``;
    each connection goes to ``_serve(conn)`` on a thread of its own."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
