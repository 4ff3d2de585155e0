from __future__ import annotations

from arena.markdown import render_markdown


def test_a_single_line_break_stays_a_line_break() -> None:
    assert render_markdown("Roses are red,\nviolets are blue.") == (
        "<p>Roses are red,<br>\nviolets are blue.</p>\n"
    )


def test_code_blocks_keep_their_lines_without_breaks_added() -> None:
    html = render_markdown("```\nx = 1\ny = 2\n```")
    assert "<pre><code>x = 1\ny = 2\n</code></pre>" in html and "<br>" not in html


def test_raw_html_and_script_links_come_out_inert() -> None:
    html = render_markdown(
        "<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n[x](javascript:alert(1))"
    )
    assert "<script" not in html and "<img" not in html and "href=" not in html
    assert "&lt;script&gt;" in html


def test_links_open_without_handing_the_page_to_the_target() -> None:
    assert 'rel="noopener noreferrer nofollow"' in render_markdown("[docs](https://example.org)")
