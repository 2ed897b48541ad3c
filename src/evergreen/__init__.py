"""evergreen: keeps machine-learning models fresh in production."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evergreen-ml")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
