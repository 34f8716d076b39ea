"""The installed version and the User-Agent built from it (a leaf: imports nothing of ours)."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("aggregator")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

USER_AGENT = f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)"
