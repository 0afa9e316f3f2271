"""MASP pipeline: runs a Multi Agency Support Panel cycle out of its shared inbox."""

__version__ = "0.1.0"
