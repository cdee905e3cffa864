"""Optimization routines: each turns a model into a faster one, nothing else.

They never measure for a report, log globally or print; a routine that needs
timings to choose (the thread sweep) takes an injectable timer.
"""
