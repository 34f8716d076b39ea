"""aggregator: follow podcasts together with what is written about them."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("aggregator")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

USER_AGENT = f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)"

__all__ = ["USER_AGENT", "__version__"]
