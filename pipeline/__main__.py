"""Allows `python -m pipeline` as well as the `masp` console script."""

from pipeline.cli import main

main()
