"""Syndication: what we publish as feeds, a series with its reviews and the reviews.

- ``render`` builds the RSS documents, pure: typed values in, bytes out (lxml);
- ``routes`` serves them over HTTP (``/feeds/series/{id}.xml``, ``/feeds/reviews.xml``)
  with validators and 304s, and loads what they show from the store for
  ``aggregator feed`` too.
"""
