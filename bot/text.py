"""What people type, made safe to keep and to show to others.

Every field someone writes passes through here where it enters (names, descriptions, typed
addresses, access notes, worries, announcements, reasons):
- Unicode format characters (category Cf: right-to-left overrides, zero-width spaces and
  joiners, soft hyphens, the byte-order mark…) are dropped: they make a text read otherwise
  than it is stored ("‮…" reverses what follows). Dropping the zero-width joiner splits some
  emoji sequences into their parts: a small loss, and one rule is easier to trust than two.
- Control characters and lone surrogates are dropped too (the latter cannot even be stored).
- `one_line` folds a name or a short field onto one line; `several_lines` keeps the line breaks
  of free text, which is then shown `quoted` so that it cannot pass for the bot's own lines.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Every way of breaking a line Unicode knows, as one "\n".
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _visible(text: str) -> str:
    """`text` without format characters and surrogates; other controls but "\\n" become spaces."""
    kept = []
    for char in _LINE_BREAK.sub("\n", text):
        category = unicodedata.category(char)
        if category in {"Cf", "Cs"}:
            continue
        kept.append(" " if category == "Cc" and char != "\n" else char)
    return "".join(kept)


def one_line(text: str) -> str:
    """A name or short answer: visible characters, one line, single spaces, trimmed."""
    return " ".join(_visible(text).split())


def several_lines(text: str) -> str:
    """Free text: visible characters, single spaces, at most one empty line in a row, trimmed."""
    lines = [" ".join(line.split()) for line in _visible(text).split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def escaped(text: str) -> str:
    """Text for a message sent with parse_mode HTML."""
    return html.escape(text, quote=False)


def quoted(text: str) -> str:
    """Free text someone wrote, inside a message sent with parse_mode HTML: a quote block."""
    return f"<blockquote>{escaped(text)}</blockquote>"
