"""The one escaping of text in Markdown: every Markdown renderer passes each value taken from
a record or a user (variant names, baseline labels, paths, messages) through ``escape``.

The Markdown goes into a CI job summary (GITHUB_STEP_SUMMARY), which GitHub renders with
inline HTML: a value must read as text, never as markup, a link, or a new table row.
"""

from __future__ import annotations

from typing import Any

# Backslash first in effect (each character is mapped once): an escaped value never ends in a
# lone backslash that would escape the next cell's pipe.
_ESCAPES = {"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "*": "\\*", "_": "\\_",
            "`": "\\`", "[": "\\[", "]": "\\]", "~": "\\~", "!": "\\!", "#": "\\#"}


def escape(text: Any) -> str:
    """Plain text safe in a Markdown paragraph, list item or table cell, on one line."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in str(text))
    return " ".join(out.split())  # a newline (or \r, \v, \f, \x1c-\x1f...) would end a row
