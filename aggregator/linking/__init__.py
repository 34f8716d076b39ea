"""Link reviews to the podcast series and episodes they discuss (pure code, no I/O).

``Catalog.build(series)`` indexes the catalog; ``Linker(catalog).link(review)``
returns ``LinkProposal`` values with their evidence. See docs/linker.md.
"""

from aggregator.linking.catalog import Catalog
from aggregator.linking.linker import LINKER_VERSION, Linker

__all__ = ["LINKER_VERSION", "Catalog", "Linker"]
