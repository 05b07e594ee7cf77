"""The report's stylesheet, inline in the page so that the HTML file is all a reader needs.

A single column about as wide as the figures are drawn (10 inches at 96 px per inch), system fonts,
tabular figures in every table so that numbers line up by digit, and a print layout that keeps a
figure and its caption on one page.
"""

from __future__ import annotations

from hiernas.report.style import GRID, INK, MUTED

STYLESHEET = f"""
:root {{ --ink: {INK}; --muted: {MUTED}; --grid: {GRID}; --band: #f6f8fa; }}
* {{ box-sizing: border-box; }}
body {{
  margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}}
main {{ max-width: 1000px; margin: 0 auto; padding: 28px 24px 48px; }}
h1 {{ font-size: 26px; margin: 0 0 4px; }}
h2 {{ font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--grid); }}
p {{ margin: 6px 0; }}
.lede {{ color: var(--muted); margin-bottom: 10px; }}
.note {{ color: var(--muted); font-size: 13.5px; }}
.warn {{ background: #fff8e1; border-left: 3px solid #e69f00; padding: 6px 10px; margin: 10px 0; }}
nav {{ font-size: 14px; margin: 8px 0 0; }}
nav a {{ color: #0969da; text-decoration: none; margin-right: 14px; white-space: nowrap; }}
nav a:hover {{ text-decoration: underline; }}
figure {{ margin: 10px 0 4px; break-inside: avoid; }}
figure img {{ display: block; max-width: 100%; height: auto; }}
figure.wide {{ width: min(1400px, calc(100vw - 32px)); position: relative; left: 50%;
  transform: translateX(-50%); }}
figure.wide img {{ margin: 0 auto; }}
figure.wide figcaption {{ max-width: 952px; margin-left: auto; margin-right: auto; }}
figcaption {{ color: var(--muted); font-size: 13.5px; margin-top: 4px; }}
table {{ border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 14px;
  font-variant-numeric: tabular-nums; }}
th, td {{ padding: 5px 8px; border-bottom: 1px solid var(--grid); text-align: left; vertical-align: top; }}
th {{ font-weight: 600; border-bottom: 2px solid #d0d7de; vertical-align: bottom; }}
tbody tr:nth-child(even) {{ background: var(--band); }}
td.num, th.num {{ text-align: right; }}
td.num {{ white-space: nowrap; }}
td.best {{ font-weight: 600; }}
.chip {{ display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px;
  vertical-align: baseline; }}
.strategy {{ white-space: nowrap; }}
code, pre {{ font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }}
pre {{ background: var(--band); padding: 8px 10px; margin: 6px 0; white-space: pre-wrap;
  word-break: break-all; }}
details summary {{ cursor: pointer; color: #0969da; font-size: 13.5px; }}
dl.facts {{ display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }}
dl.facts dt {{ color: var(--muted); }}
dl.facts dd {{ margin: 0; overflow-wrap: anywhere; }}
footer {{ color: var(--muted); font-size: 13px; margin-top: 40px; border-top: 1px solid var(--grid);
  padding-top: 8px; }}
@media print {{ main {{ max-width: none; padding: 0; }} nav {{ display: none; }} }}
"""
