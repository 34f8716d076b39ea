"""A limit on failed authentication per client address, kept in this process.

A wrong API token and a failed web login count alike, against one budget per
client: at most ``limit`` failures in any ``window`` seconds (a sliding log of the
last ``limit`` failure times). A client over it is refused (429, ``Retry-After``)
without its token being compared, so the right guess among many is not told apart
from the wrong ones. Successes are not counted.

Clients are told apart by address, IPv6 ones by their /64: a host is usually given a
whole /64 and could take a fresh address for every guess.

Why in process rather than the ``limits`` library or the database: the check and
the count happen under one lock (``attempt``), so concurrent guesses cannot slip
past the limit between looking and counting; time is an injected clock, so the
window is tested without sleeping; and the only store the instances share is the
database, where a write per failed guess would hand the guesser a lever on it.
The cost: each instance counts for itself, so N instances behind one address
allow N times the limit (docs/security.md).

Memory: at most ``max_clients`` clients are remembered, each with at most ``limit``
times; clients whose last failure left the window are forgotten, and beyond
``max_clients`` the one that failed longest ago goes first.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Attempt", "FailureThrottle", "Outcome", "client_key"]

WINDOW_SECONDS = 60.0
# Enough for every client of one busy instance; each costs well under 1 KB.
MAX_CLIENTS = 10_000


class Outcome(enum.Enum):
    PASSED = "passed"  # the check said yes
    FAILED = "failed"  # the check said no, and that was counted
    REFUSED = "refused"  # over the limit: not checked at all


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Outcome
    # Whole seconds until this client's next attempt is checked again; 0 when it
    # may try at once. Set on FAILED too: the failure that used up the budget.
    retry_after: int = 0
    client: str = ""  # the key it was counted under (an address, or an IPv6 /64)


def client_key(address: str) -> str:
    """What a client is counted under: its address, or its IPv6 /64.

    >>> client_key("127.0.0.1"), client_key("2001:db8:1:2:3:4:5:6"), client_key("::ffff:10.1.2.3")
    ('127.0.0.1', '2001:db8:1:2::/64', '10.1.2.3')
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # no address (a Unix socket, a test client): one shared budget
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class FailureThrottle:
    """At most ``limit`` failed checks per client in any ``window`` seconds."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if limit < 1 or window <= 0 or max_clients < 1:
            raise ValueError("limit, window and max_clients must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        # Least recently failed first: the front is what expires, or goes, first.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def attempt(self, address: str, check: Callable[[], bool]) -> Attempt:
        """Run ``check`` (a token comparison: quick, no I/O) for the client at
        ``address`` unless it is over the limit; count it when it fails."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            times = self._current(key, now)
            if len(times) >= self.limit:
                return Attempt(Outcome.REFUSED, self._wait(times, now), key)
            if check():
                return Attempt(Outcome.PASSED, 0, key)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)
            wait = self._wait(times, now) if len(times) >= self.limit else 0
            return Attempt(Outcome.FAILED, wait, key)

    def note(self, attempt: Attempt) -> str:
        """For a log line: what the failure in ``attempt`` led to, if anything.

        >>> FailureThrottle(10).note(Attempt(Outcome.FAILED, 60))
        '; 10 failures within a minute: refusing it for 60 s'
        """
        if attempt.outcome is not Outcome.FAILED or not attempt.retry_after:
            return ""
        within = "a minute" if self.window == WINDOW_SECONDS else f"{self.window:g} s"
        return f"; {self.limit} failures within {within}: refusing it for {attempt.retry_after} s"

    def failures(self, address: str) -> int:
        """Failures of the client at ``address`` within the window."""
        with self._lock:
            return len(self._current(client_key(address), self._clock()))

    def _current(self, key: str, now: float) -> deque[float]:
        """The client's failures within the window (a new, unstored deque if none)."""
        cutoff = now - self.window
        # Clients are ordered by their last failure: those at the front whose last
        # failure left the window are forgotten whole.
        while self._failures:
            oldest = next(iter(self._failures.values()))
            if oldest[-1] > cutoff:
                break
            self._failures.popitem(last=False)
        times = self._failures.get(key)
        if times is None:
            return deque(maxlen=self.limit)
        while times[0] <= cutoff:
            times.popleft()
        return times

    def _wait(self, times: deque[float], now: float) -> int:
        # The oldest remembered failure leaving the window frees one attempt.
        return max(1, math.ceil(times[0] + self.window - now))
