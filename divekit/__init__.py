"""divekit: tracked, metric, 3D-posed dives from single-camera footage, learned without labels."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("divekit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
