"""``Closing``: a resource that a ``with`` block closes on its way out.

>>> class Door(Closing):
...     def close(self) -> None:
...         print("closed")
>>> with Door() as door:
...     print(type(door).__name__)
Door
closed
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """``with thing as t:`` gives the thing itself and calls its ``close()`` at the
    end, however the block ends (the app, a fetcher, the storage)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
