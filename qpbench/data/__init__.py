"""Labelled data for the quality-prediction task.

``dataset`` loads and validates labelled sets (the shipped held-out split in
``eval/``, or a user's file); ``params``, ``logos``, ``pipeline`` and
``make_cli`` make new labelled data with vtracer, resvg and SSIM.
"""
