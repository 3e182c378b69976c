// Inline style sheet of the HTML report (no web fonts, no external resources).

export const REPORT_CSS = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #666; --line: #ddd; --head: #f4f5f7; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 24px 28px 48px; color: var(--fg); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.meta, p.note, figcaption .sub { color: var(--muted); }
p.note { font-size: 12px; margin: 6px 0 0; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: var(--head); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { background: var(--head); font-weight: 600; white-space: nowrap; }
table.kv td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; word-break: break-all; }
tr.total td { font-weight: 600; }
.bar { display: inline-block; height: 8px; background: var(--accent); border-radius: 2px; vertical-align: middle; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.charts svg { border: 1px solid var(--line); border-radius: 4px; background: #fff; }
.colorbar { display: flex; align-items: center; gap: 8px; margin: 4px 0 12px; font-size: 12px; color: var(--muted); }
.colorbar .ramp { width: 240px; height: 12px; border: 1px solid #999; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 14px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 4px; padding: 6px; background: #fafafa; }
figure img { display: block; width: 100%; height: auto; image-rendering: auto; }
figcaption { font-size: 12px; margin-top: 4px; overflow-wrap: anywhere; }
figcaption .name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.tag { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; font-weight: 600; }
.tag.anomaly { background: #fde2e1; color: #a1261d; }
.tag.normal { background: #e1f3e4; color: #1e6b2f; }
.tag.unknown { background: #eee; color: #555; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
`;
