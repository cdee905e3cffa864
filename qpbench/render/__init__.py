"""Renderers: a verdict and a run record in, text out. One module per format."""
