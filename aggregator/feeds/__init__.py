"""Feeds: where a feed gets fetched, parsed, decided on, polled and scheduled.

The pipeline of one poll, in the order it runs (``poller`` drives it):

- ``fetch`` gets the bytes over HTTP (or from a local file), politely: conditional
  requests, redirects and moves, size and time limits (helpers in ``_fetch_utils``);
- ``parse`` turns them into typed values with feedparser (``_parse_fields`` maps the
  fields, ``_itemsplit`` finds the items of a big feed that changed, ``_itemcap``
  keeps the newest ``max_items`` of an over-long one, ``_entities`` refuses entity
  bombs; ``durations`` reads ``itunes:duration``);
- ``decide`` says, without I/O, what the outcome means for the feed: its status, its
  next poll, a move to a new URL;
- ``poller`` stores it, a pool of workers at a time (``_batch`` hands out a batch's
  feeds host by host and writes its unchanged polls together); ``scheduler`` runs
  the poller on a ticker; ``leases`` names this instance for the claims it holds.

``opml`` reads and writes subscription lists; ``locations`` normalises what a user
gives as a feed's location (URL or path). Nothing here imports the linker, the
review intake or the HTTP application: they import this.
"""
