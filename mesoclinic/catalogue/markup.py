"""The small markup of texts written for patients: paragraphs and bullet lists, nothing else.

Blocks are separated by blank lines. In a block, a line that begins with "- " is an item of
a bulleted list, an indented line after an item continues that item, and other lines are
joined into a paragraph. There is no way to write HTML, links or emphasis: everything is
text, escaped when rendered, so a page reads the same in the catalogue, the portal and an API
client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

BULLET = "- "


@dataclass
class Block:
    kind: Literal["paragraph", "list"]
    text: str = ""
    items: list[str] = field(default_factory=list)


def parse(text: str) -> list[Block]:
    """The paragraphs and lists of ``text``, each with its lines joined by single spaces."""
    blocks: list[Block] = []
    current: Block | None = None
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            current = None
        elif line.startswith(BULLET) or line == BULLET.strip():
            if current is None or current.kind != "list":
                current = Block("list")
                blocks.append(current)
            current.items.append(line[len(BULLET) :].strip())
        elif current is not None and current.kind == "list" and raw[:1].isspace():
            current.items[-1] = _join(current.items[-1], line)
        elif current is not None and current.kind == "paragraph":
            current.text = _join(current.text, line)
        else:
            current = Block("paragraph", line)
            blocks.append(current)
    return blocks


def _join(text: str, more: str) -> str:
    return f"{text} {more}" if text else more


def render(text: str) -> SafeString:
    """``text`` as HTML paragraphs and lists, every character of it escaped."""
    html = []
    for block in parse(text):
        if block.kind == "list":
            items = format_html_join("", "<li>{}</li>", ((item,) for item in block.items))
            html.append(format_html("<ul>{}</ul>", items))
        else:
            html.append(format_html("<p>{}</p>", block.text))
    # The pieces are safe already, so joining them through format_html_join escapes nothing twice.
    return format_html_join("\n", "{}", ((piece,) for piece in html))
