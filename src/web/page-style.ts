// Style sheet of the web page (inlined; allowed by its hash in the Content-Security-Policy).
export const PAGE_STYLE = `
:root { --fg: #1b2430; --muted: #56606e; --bg: #f4f6f9; --panel: #fff; --line: #d5dbe3; --accent: #1d5fbf; --bad: #b3261e; --ok: #1e7d3a; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #15345f; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 1.35rem; font-weight: 600; }
.status { margin: 4px 0 0; color: #dbe6f7; font-size: 0.95rem; }
.status.bad { color: #ffd2cc; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; display: grid; gap: 16px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; }
.panel h2 { margin: 0 0 10px; font-size: 1.15rem; }
.hint { color: var(--muted); font-size: 0.92rem; margin: 6px 0; }
.drop { border: 2px dashed #8aa4c8; border-radius: 10px; padding: 22px; text-align: center; background: #f8fbff; }
.drop.over { background: #e4efff; border-color: var(--accent); }
.drop p { margin: 6px 0; }
.button, button { display: inline-block; font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: 8px 16px; cursor: pointer; }
button:disabled { background: #9aa7b8; cursor: default; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.downloads { margin: 12px 0 6px; }
.downloads a { color: var(--accent); }
table { width: 100%; border-collapse: collapse; margin-top: 8px; }
th, td { text-align: left; padding: 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-weight: 600; color: var(--muted); font-size: 0.9rem; }
td.thumb { width: 112px; }
td.thumb img { width: 96px; height: 96px; object-fit: contain; background: #000; border-radius: 4px; cursor: zoom-in; display: block; }
.score { font-size: 1.2rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.meter { width: 160px; height: 8px; background: #e3e8ef; border-radius: 4px; overflow: hidden; margin-top: 4px; }
.meter span { display: block; height: 100%; background: linear-gradient(90deg, #2b7bd6, #e0a21b, #d23b2a); }
.row-error td { color: var(--bad); }
.small { font-size: 0.85rem; color: var(--muted); }
form.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 12px 20px; align-items: end; }
form.grid label { display: grid; gap: 4px; font-size: 0.95rem; }
input[type=text], input[type=number], select { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; width: 100%; }
progress { width: 100%; height: 14px; margin-top: 10px; }
.ok { color: var(--ok); }
.bad { color: var(--bad); }
dl.info { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0 0 12px; }
dl.info dt { color: var(--muted); }
dl.info dd { margin: 0; word-break: break-all; }
dialog { border: 0; border-radius: 10px; padding: 12px; max-width: 95vw; max-height: 95vh; }
dialog::backdrop { background: rgba(10, 20, 35, 0.7); }
dialog img { height: min(78vh, 760px); width: auto; max-width: 90vw; object-fit: contain; display: block; margin: 0 auto; background: #000; }
dialog figcaption { margin: 8px 0; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 0.9rem; color: var(--muted); }
.legend .bar { width: 160px; height: 10px; border-radius: 3px; background: linear-gradient(90deg, #00008f, #0000ff, #00ffff, #80ff80, #ffff00, #ff0000, #800000); }
`;
