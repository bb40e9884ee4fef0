"""An HTTP/1.1 protocol for uvicorn that closes connections whose request does not arrive in time.

Uvicorn waits for a request's headers and body as long as the client keeps
sending, so a client sending a byte every few seconds holds a connection
(and its memory) forever. `DeadlineH11Protocol` is uvicorn's h11 protocol
with one timer per request: the whole request, headers and body, must
arrive within `read_timeout` seconds of the connection opening (or of the
previous response on a kept-alive connection); otherwise the connection is
closed and one line is logged.
"""

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_READ_TIMEOUT = 30.0


def deadline_protocol(read_timeout=DEFAULT_READ_TIMEOUT):
    """`DeadlineH11Protocol` with `read_timeout` seconds, as `uvicorn.Config(http=...)` takes it.

    Args:
        read_timeout: seconds a request's headers and body may take to arrive (> 0).

    Returns:
        A protocol class.

    Example:
    >>> config = uvicorn.Config(app, http=deadline_protocol(10.0))  # doctest: +SKIP
    """
    if not read_timeout > 0:
        raise ValueError(f"`read_timeout` must be positive. Received: read_timeout={read_timeout!r}")
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), {"read_timeout": float(read_timeout)})


class DeadlineH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol; a request that has not fully arrived after `read_timeout` seconds is dropped."""

    read_timeout = DEFAULT_READ_TIMEOUT
    _deadline = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._start_deadline()

    def handle_events(self):
        super().handle_events()
        if self.conn.their_state is h11.DONE or self.conn.their_state is h11.CLOSED:
            self._cancel_deadline()  # the request is in: the app has it (or the client has gone)

    def on_response_complete(self):
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is not h11.DONE:
            self._start_deadline()  # the next request on this connection

    def connection_lost(self, exc):
        self._cancel_deadline()
        super().connection_lost(exc)

    def _start_deadline(self):
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self.read_timeout, self._too_slow)

    def _cancel_deadline(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self):
        self._deadline = None
        if self.transport.is_closing():
            return
        client = "%s:%d" % self.client if self.client else "a client"
        self.logger.warning("Closed the connection of %s: its request did not arrive within %g s.",
                            client, self.read_timeout)
        self.transport.close()
