"""Benchmarks: speed and memory measured against the libraries' own floor."""
