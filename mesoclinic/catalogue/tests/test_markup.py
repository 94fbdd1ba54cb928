"""The markup of patient information pages: paragraphs and "- " lists, everything escaped."""

from __future__ import annotations

from mesoclinic.catalogue.markup import Block, parse, render


def test_blank_lines_separate_paragraphs_and_lines_are_joined() -> None:
    text = "First line\nof the first paragraph.\n\n\nSecond paragraph.\n"

    assert parse(text) == [
        Block("paragraph", "First line of the first paragraph."),
        Block("paragraph", "Second paragraph."),
    ]
    assert render(text) == "<p>First line of the first paragraph.</p>\n<p>Second paragraph.</p>"


def test_dash_lines_make_a_list_after_their_paragraph() -> None:
    text = "Tell the clinic if:\n- you are pregnant\n- you take\n  a new medicine\nThank you."

    assert parse(text) == [
        Block("paragraph", "Tell the clinic if:"),
        Block("list", items=["you are pregnant", "you take a new medicine"]),
        Block("paragraph", "Thank you."),
    ]
    assert render(text) == (
        "<p>Tell the clinic if:</p>\n"
        "<ul><li>you are pregnant</li><li>you take a new medicine</li></ul>\n"
        "<p>Thank you.</p>"
    )


def test_windows_line_ends_and_surrounding_space_are_ignored() -> None:
    assert parse("  One.\r\n\r\n- a\r\n- b  \r\n") == [
        Block("paragraph", "One."),
        Block("list", items=["a", "b"]),
    ]


def test_a_hyphen_inside_a_line_is_text() -> None:
    assert parse("A course of 6-8 sessions - about every two weeks.") == [
        Block("paragraph", "A course of 6-8 sessions - about every two weeks.")
    ]


def test_everything_is_escaped() -> None:
    text = (
        '<script>alert("x")</script> & <b>bold</b>\n\n- <img src=x onerror=alert(1)>\n- it\'s fine'
    )

    html = render(text)

    assert "<script>" not in html and "<b>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<li>&lt;img src=x onerror=alert(1)&gt;</li>" in html
    assert "<li>it&#x27;s fine</li>" in html


def test_an_empty_text_renders_nothing() -> None:
    assert parse(" \n\n ") == []
    assert render("") == ""
