"""Who this instance is, and keeping its claims alive while it works.

Several ``aggregator run`` instances may share one PostgreSQL database. Each claims
the feeds it polls (and the reviews it re-links) with a lease: an owner name and a
time the claim runs out. Work that takes longer than one lease renews it; an
instance that dies stops renewing, and its claims return to the others when they
run out. The claiming itself is storage's job (``SELECT ... FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from aggregator.exceptions import StorageError

__all__ = ["Renewer", "instance_name"]

log = logging.getLogger(__name__)


def instance_name() -> str:
    """A name no other instance has: host, process id and a random part.

    The random part keeps two processes apart that reuse a pid (in containers, every
    instance may be pid 1 on a host named after the image).
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Renewer:
    """Calls ``renew`` every ``period`` seconds in a thread, while the block runs.

    A failed renewal is logged and tried again at the next period: a lease that
    runs out meanwhile only means another instance may take that work too.
    """

    def __init__(self, renew: Callable[[], object], period: float) -> None:
        self._renew = renew
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._renew()
            except StorageError as e:
                log.warning("renewing leases failed: %s", e)

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
