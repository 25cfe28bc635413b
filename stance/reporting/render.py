"""The two renderers of a report document (:mod:`stance.reporting.document`).

:func:`render_html` writes one self-contained page (inline CSS, figures embedded as base64
``data:`` URIs, no scripts, no external assets); :func:`render_md` the same content as Markdown
linking the PNG files beside it; :func:`write_pages` writes both as ``report.html`` and
``report.md``. The HTML and Markdown are written by hand: the pages are small and fixed, and a
template engine would be one more dependency for the same few lines.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stance.reporting.document import FigRow, Link, Para, Section, Table

__all__ = ["render_html", "render_md", "write_pages"]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1d1d1f;background:#f6f7f9;margin:0;line-height:1.45;font-size:15px}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff;
box-shadow:0 0 0 1px #e4e6ea}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:20px;margin:34px 0 10px;padding-bottom:4px;border-bottom:2px solid #e4e6ea}
.subtitle{color:#5b6170;margin:0 0 14px}
nav{font-size:13px;margin:8px 0 18px;color:#5b6170}
nav a{color:#0b62a4;text-decoration:none;margin-right:14px}
.table-wrap{overflow-x:auto;margin:6px 0 16px}
table{border-collapse:collapse;font-size:13px;min-width:40%}
p.caption{color:#5b6170;font-size:13px;margin:18px 0 4px}
th,td{padding:5px 10px;border-bottom:1px solid #e4e6ea;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
tr.muted td{color:#8a8f99;font-style:italic}
td{overflow-wrap:break-word}
table.wide{width:100%}
td a{color:#0b62a4}
@media (max-width:700px){main{padding:14px 12px 32px}td:not(.num){min-width:8em}th{white-space:normal}}
.note{color:#5b6170;font-size:13px}
.figrow{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start;margin:12px 0}
figure{margin:0;flex:1 1 420px;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eceef1;background:#fff}
figcaption{font-size:12.5px;color:#5b6170;margin-top:4px}
footer{margin-top:36px;font-size:12px;color:#8a8f99}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(t: Table) -> str:
    parts = [f'<p class="caption">{_e(t.caption)}</p>'] if t.caption else []
    parts.append('<div class="table-wrap"><table class="wide">' if t.wide else '<div class="table-wrap"><table>')
    parts.append("<thead><tr>")
    for j, h in enumerate(t.headers):
        cls = ' class="num"' if j in t.numeric else ""
        parts.append(f"<th{cls}>{_e(h)}</th>")
    parts.append("</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        parts.append('<tr class="muted">' if i in t.muted_rows else "<tr>")
        for j, cell in enumerate(row):
            cls = ' class="num"' if j in t.numeric else ""
            if isinstance(cell, Link) and cell.safe_href:
                parts.append(f'<td{cls}><a href="{_e(cell.safe_href)}" rel="noopener">{_e(cell.text)}</a></td>')
            else:
                parts.append(f"<td{cls}>{_e(cell)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(title: str, subtitle: str, sections: Sequence[Section], footer: str) -> str:
    """The report as one self-contained HTML page (figures embedded, no scripts)."""
    nav = " ".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in sections)
    body = [f"<h1>{_e(title)}</h1>", f'<p class="subtitle">{_e(subtitle)}</p>', f"<nav>{nav}</nav>"]
    for s in sections:
        body.append(f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Para):
                cls = ' class="note"' if b.kind == "note" else ""
                body.append(f"<p{cls}>{_e(b.text)}</p>")
            elif isinstance(b, Table):
                body.append(_html_table(b))
            elif isinstance(b, FigRow):
                body.append('<div class="figrow">')
                for f in b.figs:
                    body.append(
                        f'<figure><img src="{_data_uri(f.path)}" alt="{_e(f.caption)}">'
                        f"<figcaption>{_e(f.caption)}</figcaption></figure>"
                    )
                body.append("</div>")
        body.append("</section>")
    body.append(f"<footer>{_e(footer)}</footer>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body>\n</html>\n"
    )


def _md(text: Any) -> str:
    """Escape a table cell / inline text for Markdown (pipes, newlines, markup characters)."""
    s = str(text).replace("\\", "\\\\").replace("\r", " ").replace("\n", " ")
    for ch in "|*`[]<>#":
        s = s.replace(ch, "\\" + ch)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", s)  # intraword _ is inert


def _md_table(t: Table) -> list[str]:
    lines = []
    if t.caption:
        lines += [f"*{_md(t.caption)}*", ""]
    lines.append("| " + " | ".join(_md(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---:" if j in t.numeric else "---" for j in range(len(t.headers))) + "|")
    for i, row in enumerate(t.rows):
        cells = [f"[{_md(c.text)}](<{c.safe_href}>)" if isinstance(c, Link) and c.safe_href and ">" not in c.safe_href
                 else _md(c) for c in row]
        if i in t.muted_rows and cells:
            cells[0] = f"*{cells[0]}*"
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_md(title: str, subtitle: str, sections: Sequence[Section], footer: str,
               out: Path) -> str:
    """The report as Markdown; figures are linked relative to ``out``, the folder it is written to."""
    lines = [f"# {_md(title)}", "", _md(subtitle), ""]
    for s in sections:
        lines += [f"## {_md(s.title)}", ""]
        for b in s.blocks:
            if isinstance(b, Para):
                lines += [f"*{_md(b.text)}*" if b.kind == "note" else _md(b.text), ""]
            elif isinstance(b, Table):
                lines += _md_table(b)
            elif isinstance(b, FigRow):
                for f in b.figs:
                    rel = f.path.relative_to(out).as_posix()
                    lines += [f"![{_md(f.caption)}]({rel})", ""]
    lines += ["---", _md(footer), ""]
    return "\n".join(lines)


def write_pages(out: Path, title: str, subtitle: str, sections: Sequence[Section], footer: str) -> dict[str, Path]:
    """Write ``report.html`` and ``report.md`` into ``out``; return ``{"html": ..., "markdown": ...}``."""
    html_path = out / "report.html"
    html_path.write_text(render_html(title, subtitle, sections, footer), encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(render_md(title, subtitle, sections, footer, out), encoding="utf-8")
    return {"html": html_path, "markdown": md_path}
