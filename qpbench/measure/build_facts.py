"""What a cached build keeps beside its entry between runs (variants/cache_facts.py): found
once for the same build (artifact, libraries, CPU, dataset), then read back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def cached_fact(loaded: Any, what: str, find: Callable[[], Any], folder: str = "facts") -> tuple[Any, bool]:
    """The fact ``what`` of the loaded build: from the build cache when this build came from (or
    went to) it and the fact was found before (``what`` names the code that finds it), else
    ``find()``, stored there. (value, whether it came from the cache)."""
    from qpbench.variants.cache_facts import load_fact, store_fact

    key = (loaded.variant.meta.get("build_cache") or {}).get("key")
    root = Path(loaded.cache["root"]) if loaded.cache and key else None
    if root is not None and not loaded.cache.get("rebuild"):
        value = load_fact(root, key, what, folder)
        if value is not None:
            return value, True
    value = find()
    if root is not None:
        try:
            store_fact(root, key, what, value, folder)
        except OSError:
            pass  # a cache that cannot be written costs the next run its reuse, nothing else
    return value, False
