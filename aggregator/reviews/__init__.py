"""Reviews: where a review is taken in, and where its links are kept current.

- ``extract`` turns the bytes of a review (HTML, Markdown, plain text; a file, a URL,
  stdin or a review feed's item) into a ``ReviewDocument``: ``_sniff`` refuses
  binaries and finds the encoding, ``_htmltext`` reads the text and its hyperlinks
  off HTML, ``_boilerplate`` drops blog furniture;
- ``service`` (``Reviews``) adds reviews, links each one with the linker
  (``aggregator.linking``, which decides a link) and stores the links, and keeps them
  current as series, episodes and linker versions change.
"""
