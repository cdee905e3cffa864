"""Measurement routines: each returns a typed result from qpbench.results."""
