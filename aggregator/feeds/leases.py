"""Who this instance is, keeping its claims alive while it works, and taking back
the claims of a process that died.

Several ``aggregator run`` instances may share one PostgreSQL database. Each claims
the feeds it polls (and the reviews it re-links) with a lease: an owner name and a
time the claim runs out. Work that takes longer than one lease renews it; an
instance that dies stops renewing, and its claims return to the others when they
run out. The claiming itself is storage's job (``SELECT ... FOR UPDATE SKIP LOCKED``).

A lease also names the process holding it (``LeaseHolder``: where its pid means
something, and the pid). A process on the same host can see that pid gone (a poll
killed with -9, a crashed instance) and take those feeds or reviews back at once
(``take_back_from_dead``, ``take_back_reviews_from_dead``) rather than wait out the
lease; a process on another host cannot tell, and waits.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Self

from aggregator.closing import Closing
from aggregator.exceptions import StorageError
from aggregator.storage import Storage

__all__ = [
    "LeaseHolder",
    "Renewer",
    "instance_name",
    "process_gone",
    "take_back_from_dead",
    "take_back_reviews_from_dead",
    "this_process",
]

log = logging.getLogger(__name__)


def instance_name() -> str:
    """A name no other instance has: host, process id and a random part.

    The random part keeps two processes apart that reuse a pid (in containers, every
    instance may be pid 1 on a host named after the image).
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """The process holding a lease: ``host`` names where its ``pid`` means something."""

    host: str
    pid: int


def this_process() -> LeaseHolder | None:
    """This process as a lease holder; None where that cannot be told safely.

    ``host`` is the host name, the kernel's boot id and the pid namespace: two
    containers may share a host name (one named after its image), and a pid in one
    says nothing of the other's; after a reboot no earlier pid is alive. Without
    /proc (not Linux) there is no telling, and leases only run out, as before.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        return None
    return LeaseHolder(f"{socket.gethostname()} {boot} {namespace}", os.getpid())


def process_gone(pid: int) -> bool:
    """Whether no live process with this pid exists here (signal 0 checks, sends
    nothing). A zombie, dead but not yet waited for by its parent, is gone too."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # there is one, another user's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False  # it was there a moment ago; no /proc to tell more
    # "pid (name) state ...": the name may hold spaces and parentheses.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def take_back_from_dead(storage: Storage, now: datetime, me: LeaseHolder) -> int:
    """End the feed leases held by processes of ``me``'s host that no longer exist;
    returns how many feeds are free again.

    A pid that came back (another process got it since) looks alive: its leases run
    out as they would have. This process's own pid is never taken for dead.
    """
    return _take_back("feeds", storage.feed_lease_holders, storage.end_feed_leases_of, now, me)


def take_back_reviews_from_dead(storage: Storage, now: datetime, me: LeaseHolder) -> int:
    """``take_back_from_dead`` for the reviews leased for linking; returns how many
    reviews are free again."""
    return _take_back(
        "reviews", storage.review_lease_holders, storage.end_review_leases_of, now, me
    )


def _take_back(
    what: str,
    holders: Callable[..., list[tuple[str, int]]],
    end_leases_of: Callable[[list[str]], int],
    now: datetime,
    me: LeaseHolder,
) -> int:
    """End the leases on ``what`` that ``holders`` says processes of ``me``'s host
    hold, where that process is gone (never this one); returns how many ended."""
    held = holders(now, host=me.host)
    dead = sorted({owner for owner, pid in held if pid != me.pid and process_gone(pid)})
    if not dead:
        return 0
    freed = end_leases_of(dead)
    log.info("took back %d %s from %s: gone from this host", freed, what, ", ".join(dead))
    return freed


class Renewer(Closing):
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

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop renewing; returns once a renewal under way has ended."""
        self._stop.set()
        self._thread.join()
