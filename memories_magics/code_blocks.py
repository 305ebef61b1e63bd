"""Finding the code in a model's Markdown answer (``-f code``, ``-f json``), with a real
CommonMark parser (markdown-it-py), so that what we call a fence is what renderers call one."""

from __future__ import annotations


def extract_code(text: str) -> tuple[str, str]:
    """The first fenced code block's content and language, else the whole text stripped.

    >>> extract_code("Here:\\n```python\\nprint(1)\\n```\\n")
    ('print(1)', 'python')
    """
    from markdown_it import MarkdownIt

    for token in MarkdownIt("commonmark").parse(text):
        if token.type == "fence":
            return token.content.rstrip("\n"), token.info.split()[0] if token.info.strip() else ""
    return text.strip(), ""
