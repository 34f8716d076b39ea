"""Episodes gone from their feed, beyond what is kept of them, are deleted.

An episode that leaves its feed is kept and marked ``missing_since``: most feeds list
only their latest items, and the copy of the older ones is the archive. A feed that
changes every poll (new guids each time: a generated or broken feed) would grow
without limit that way, 50 items a poll making 1,000 episodes in 20 polls. So each
series keeps at most ``keep`` of its missing episodes, the ones gone most recently;
an episode any review is linked to (whatever the link's status, a rejection too) is
never deleted and does not count, so no link is ever lost to this.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, exists, select

from aggregator.storage import _series
from aggregator.storage._models import EPISODE, LINK
from aggregator.storage._sql import in_lists


def prune_missing(connection: Connection, series_id: int, keep: int, now: datetime) -> int:
    """Delete the series' missing, unlinked episodes beyond the ``keep`` gone most
    recently; returns how many went."""
    linked = exists().where(LINK.c.episode_id == EPISODE.c.id)
    beyond = (
        select(EPISODE.c.id)
        .where(EPISODE.c.series_id == series_id)
        .where(EPISODE.c.missing_since.is_not(None))
        .where(~linked)
        .order_by(
            EPISODE.c.missing_since.desc(),
            EPISODE.c.published.desc().nulls_last(),
            EPISODE.c.id.desc(),
        )
        .offset(keep)
    )
    ids = list(connection.execute(beyond).scalars())
    deleted = 0
    for chunk in in_lists(ids):
        # Checked again as each row goes: a link made since the SELECT keeps its episode.
        result = connection.execute(delete(EPISODE).where(EPISODE.c.id.in_(chunk)).where(~linked))
        deleted += result.rowcount
    if deleted:
        # Catalogs in memory drop them too (every instance reloads a changed series).
        _series.mark_changed(connection, series_id, now)
    return deleted
