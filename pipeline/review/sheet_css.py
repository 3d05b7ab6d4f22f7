"""The contact sheet's stylesheet: a responsive board of panels on screen (about four across at
1400 px, two at 700 px), the shot sheets as overlays, and a paper storyboard in print (six
panels to an A4 landscape page, no players or controls, never a panel split across pages).
REVIEW_CSS is added on the review page only (`shots review`): its controls, never printed."""

from __future__ import annotations

CSS = """
:root{--ink:#1d2230;--muted:#5d6577;--line:#d9dce3;--paper:#fff;--bg:#eef0f4;--slate:#161922;
--done:#1f7a4d;--failed:#b42318;--uncertain:#b54708;--pending:#475467;--changed:#6941c6;--errors:#9e1c4f;
--blocked:#e8a300;--hazard:repeating-linear-gradient(135deg,var(--blocked) 0 6px,var(--slate) 6px 12px)}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
a{color:#1d4ed8}
.muted{color:var(--muted);font-weight:400}
header.page{background:var(--paper);border-bottom:1px solid var(--line);padding:14px 24px 10px}
h1{margin:0 0 8px;font-size:24px}
h1 .sub{font-weight:400;color:var(--muted);font-size:17px}
.banner{padding:8px 12px;border-radius:8px;margin:0 0 10px}
.banner strong{display:inline-block;color:#fff;padding:1px 9px;border-radius:4px;margin-right:8px;
letter-spacing:.08em;font-size:13px}
.banner.sim{background:#fff4d6;border:2px solid #e8a300;color:#5c3d00}
.banner.sim strong{background:#e8a300}
.banner.api{background:#e8f3ff;border:1px solid #7cb4ef}
.banner.api strong{background:#1d63b8}
.banner.other{background:#f1ecfb;border:2px solid #8c6bd1;color:#33205e}
.banner.other strong{background:#6941c6}
.chips{list-style:none;display:flex;gap:8px;padding:0;margin:0 0 8px;flex-wrap:wrap}
.chip{border:1px solid var(--line);border-radius:999px;padding:2px 11px;background:#fff}
.chip b{font-size:16px}
.chip.st-done b{color:var(--done)}.chip.st-failed b{color:var(--failed)}
.chip.st-uncertain b{color:var(--uncertain)}.chip.st-pending b{color:var(--pending)}
.chip.st-not-run b{color:var(--errors)}
.chip.st-blocked{border-color:var(--blocked)}.chip.st-blocked b{color:#8a5d00}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:1px 14px;margin:0 0 6px}
dl.summary dt{color:var(--muted)}dl.summary dd{margin:0;overflow-wrap:anywhere}
.problems{color:var(--failed);margin:4px 0;padding-left:20px}
.legend,.generated{color:var(--muted);font-size:12.5px;margin:3px 0}
main{padding:16px 24px 28px}
.board{list-style:none;margin:0;padding:0;display:grid;gap:14px;
grid-template-columns:repeat(auto-fill,minmax(300px,1fr));align-items:stretch}
.panel{background:var(--paper);border:1px solid var(--line);border-top:4px solid var(--done);border-radius:8px;
padding:8px 10px 10px;display:flex;flex-direction:column;gap:6px;min-width:0;break-inside:avoid;
page-break-inside:avoid;scroll-margin-top:12px}
.panel.st-failed{border-top-color:var(--failed)}.panel.st-uncertain{border-top-color:var(--uncertain)}
.panel.st-pending{border-top-color:var(--pending)}.panel.st-changed{border-top-color:var(--changed)}
.panel.st-errors{border-top-color:var(--errors);background:#fdf6f8}
.panel.st-blocked{border-top-color:transparent;background:var(--hazard) top/100% 4px no-repeat border-box,var(--paper)}
.ph-head{display:flex;align-items:center;gap:8px;min-width:0}
.ph-head .n{font-size:20px;font-weight:700;color:var(--muted);font-variant-numeric:tabular-nums;line-height:1}
.ph-head .id{font-weight:600;font-size:14px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;min-width:0;
flex:1}
.pill{font-size:11px;text-transform:uppercase;letter-spacing:.05em;border-radius:4px;padding:1px 7px;color:#fff;
background:var(--done);white-space:nowrap}
.pill.st-failed{background:var(--failed)}.pill.st-uncertain{background:var(--uncertain)}
.pill.st-pending{background:var(--pending)}.pill.st-changed{background:var(--changed)}
.pill.st-errors{background:var(--errors)}
.pill.st-blocked{background:var(--slate);color:var(--blocked);box-shadow:inset 0 0 0 1px var(--blocked)}
.dots{display:flex;gap:3px}
.dot{display:inline-block;width:18px;height:18px;border-radius:50%;font-size:10.5px;line-height:18px;
text-align:center;color:#fff;background:var(--done);text-decoration:none;font-weight:600}
.dot.st-failed{background:var(--failed)}.dot.st-uncertain{background:var(--uncertain)}
.dot.st-pending{background:var(--pending)}.dot.st-changed{background:var(--changed)}
.dot.st-blocked{background:var(--slate);color:var(--blocked);box-shadow:inset 0 0 0 1.5px var(--blocked)}
.dot.chosen{box-shadow:0 0 0 2px #fff,0 0 0 3.5px var(--ink)}
.decision{font-size:11px;text-transform:uppercase;letter-spacing:.05em;border-radius:4px;padding:0 6px;
white-space:nowrap;border:1.5px solid currentColor;font-weight:700}
.decision.d-approved{color:var(--done)}.decision.d-approved::before{content:"\\2713  "}
.decision.d-redo{color:var(--failed)}.decision.d-redo::before{content:"\\21BB  "}
.key{position:relative;display:block;aspect-ratio:16/9;background:var(--slate);border-radius:5px;overflow:hidden;
color:#eceef3;text-decoration:none}
.key img{display:block;width:100%;height:100%;object-fit:contain}
a.key:hover img{filter:brightness(1.08)}
a.key:focus-visible{outline:3px solid #1d63b8;outline-offset:2px}
.badge{position:absolute;right:6px;bottom:6px;background:rgba(0,0,0,.62);color:#fff;font-size:11.5px;
padding:2px 8px;border-radius:10px}
.card{position:absolute;inset:0;display:flex;flex-direction:column;gap:4px;padding:10px 12px 10px 18px;
border-left:7px solid var(--pending);overflow:hidden}
.key.st-failed .card{border-left-color:var(--failed)}.key.st-uncertain .card{border-left-color:var(--uncertain)}
.key.st-changed .card{border-left-color:var(--changed)}.key.st-errors .card{border-left-color:var(--errors)}
.key.st-done .card{border-left-color:var(--done)}
.key.st-blocked .card{border-left-color:transparent;background:var(--hazard) left/7px 100% no-repeat border-box}
.card-status{font-weight:700;text-transform:uppercase;letter-spacing:.06em;font-size:13px}
.key.st-failed .card-status{color:#ff8f80}.key.st-uncertain .card-status{color:#ffb766}
.key.st-changed .card-status{color:#c7b0ff}.key.st-errors .card-status{color:#ff9cc3}
.key.st-blocked .card-status{color:#ffc940}
.card-why{font-size:12.5px;color:#c9cdd8;overflow:hidden;display:-webkit-box;-webkit-box-orient:vertical;
-webkit-line-clamp:5;overflow-wrap:anywhere}
.inputs{display:flex;gap:6px;flex-wrap:wrap}
.panel .inputs.none{display:none}
.input{margin:0;width:calc((100% - 12px)/3);min-width:0}
.input img,.input .ph{display:block;width:100%;height:auto;aspect-ratio:16/9;object-fit:contain;background:#e4e7ee;
border-radius:3px;border:1px solid var(--line)}
.input .ph{display:flex;flex-direction:column;justify-content:center;padding:3px 5px;font-size:10px;
line-height:1.25;overflow:hidden;color:var(--muted);background:repeating-linear-gradient(135deg,#f4f5f8 0 6px,
#eceef3 6px 12px)}
.ph-why{font-weight:600;text-transform:uppercase;letter-spacing:.04em;font-size:9px}
.ph-ref{overflow-wrap:anywhere;font-family:ui-monospace,Menlo,Consolas,monospace;max-height:3.8em;overflow:hidden}
.input figcaption{font-size:10.5px;color:var(--muted);text-align:center;text-transform:uppercase;
letter-spacing:.05em;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.input.chained{width:calc((100% - 6px)/2)}
.input.chained figcaption{white-space:normal;line-height:1.3}
.input.chained figcaption .src{display:block;text-transform:none;letter-spacing:0;overflow-wrap:anywhere}
.input.chained .from{font:600 10.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:#1d4ed8}
.input.chained .which{color:var(--muted)}
.input a.up{display:block;border-radius:3px;text-decoration:none;color:inherit}
.input a.up:hover img{filter:brightness(1.08);outline:2px solid #1d63b8}
.input .ph.wait{border-style:dashed;background:#f6f7f9;align-items:center;text-align:center}
.timing{display:flex;flex-wrap:wrap;align-items:baseline;gap:2px 10px;margin:0;padding:3px 7px;border-radius:4px;
background:var(--slate);color:#eceef3;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.timing .dur{font-weight:700;color:#fff}
.timing .lbl{color:#9aa3b5;text-transform:uppercase;font-size:10px;letter-spacing:.06em}
.timing .fit{color:#ffcf80;font-size:11px}
.timing.out-of-cut{background:#f3e1e8;color:var(--errors)}
.timing.still-frame{background:#e9ecf2;color:var(--muted)}
.timing.still-frame .dur{color:var(--ink);text-transform:uppercase;font-size:10.5px;letter-spacing:.06em}
.prompt{margin:0;font-size:13.5px;overflow-wrap:anywhere}
.notes{margin:0;color:var(--muted);font-size:12.5px;font-style:italic}
.meta{margin:auto 0 0;color:var(--muted);font-size:12px;display:flex;flex-wrap:wrap;gap:3px 6px;align-items:center}
.tag{font-size:11px;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 5px;font-style:normal}
.hist{font-size:12px;margin-left:auto}
.errors{margin:0;font-size:12.5px;color:var(--errors)}
mark.cam{background:#d1f0de;color:#0b4f2e;border-radius:3px;padding:0 3px;font-weight:600}
mark.cam-unknown{background:#ffe0dc;color:#8a1c0f;border-radius:3px;padding:0 3px;text-decoration:underline wavy}
.bracket{white-space:nowrap;color:var(--muted)}
.sheet{display:none}
.sheet:target,.sheet:has(:target){display:block;position:fixed;inset:0;z-index:10;overflow:auto;padding:3vh 3vw}
.backdrop{position:fixed;inset:0;background:rgba(10,12,20,.74);cursor:zoom-out}
.sheet-box{position:relative;background:var(--paper);border-radius:10px;max-width:1240px;margin:0 auto;
padding:14px 18px 18px;box-shadow:0 10px 40px rgba(0,0,0,.4)}
.sheet-head{display:flex;align-items:center;gap:10px;flex-wrap:wrap;margin-bottom:8px}
.sheet-head h2{margin:0;font-size:19px}
.sheet-head h2 .n{color:var(--muted);font-weight:400}
.sheet-head .timing{margin-left:6px}
.close{margin-left:auto;font-size:14px;text-decoration:none;border:1px solid var(--line);border-radius:6px;
padding:3px 10px;color:var(--ink)}
.sheet .prompt{font-size:15px;margin:4px 0}
.sheet .notes{font-size:13.5px;margin:4px 0}
.facts{list-style:none;display:flex;flex-wrap:wrap;gap:2px 18px;padding:0;margin:6px 0 10px}
.k{color:var(--muted);font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;margin-right:4px;font-style:normal}
.takes{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.take{border:1px solid var(--line);border-radius:6px;padding:8px;background:#fafbfc;min-width:0}
.take>header{display:flex;align-items:center;gap:8px;margin-bottom:6px}
.take-n{font-weight:600}
.take .pill{margin-left:auto}
.in-cut{font-size:11px;color:var(--ink);border:1px solid var(--ink);border-radius:4px;padding:0 5px}
.take video{display:block;width:100%;border-radius:4px;background:#000;aspect-ratio:16/9}
.strip{display:flex;gap:4px;margin-top:6px}
.strip figure{margin:0;flex:1;min-width:0}
.strip img{display:block;width:100%;height:auto;border-radius:3px;background:#222}
.strip figcaption{font-size:10.5px;color:var(--muted);text-align:center}
.reason{padding:12px;border-radius:4px;background:#fff;border:1px dashed var(--line);min-height:70px}
.take.st-failed .reason{border-color:var(--failed);color:var(--failed)}
.take.st-uncertain .reason{border-color:var(--uncertain);color:var(--uncertain)}
.take.st-blocked .reason{border:1px solid var(--blocked);border-left:7px solid transparent;
background:var(--hazard) left/7px 100% no-repeat border-box,#fffaeb;color:#6b4700}
.take a.still{display:block}
.take a.still img{display:block;width:100%;height:auto;border-radius:4px;background:#222}
.take dl{display:grid;grid-template-columns:max-content 1fr;gap:0 10px;margin:6px 0 0;font-size:12.5px}
.take dt{color:var(--muted)}.take dd{margin:0;overflow-wrap:anywhere}
.sheet h3{font-size:14px;margin:14px 0 6px}
.inputs-large .inputs{gap:12px}
.inputs-large .input{width:220px}
.inputs-large .ref{display:block;text-transform:none;letter-spacing:0;font-size:11px;color:var(--ink);
white-space:normal;overflow-wrap:anywhere}
.history ul{margin:0;padding-left:18px}
.history li{margin:3px 0}
.was{margin:2px 0 6px;color:var(--muted);font-size:13px}
@media (max-width:760px){
 header.page,main{padding-left:12px;padding-right:12px}
 .board{gap:10px;grid-template-columns:repeat(auto-fill,minmax(260px,1fr))}
 .sheet:target,.sheet:has(:target){padding:0}
 .sheet-box{border-radius:0}
 .takes{grid-template-columns:1fr}
}
@media print{
 @page{size:A4 landscape;margin:8mm 9mm 10mm}
 :root{--bg:#fff}
 body{background:#fff;font-size:8.5pt;line-height:1.3;-webkit-print-color-adjust:exact;print-color-adjust:exact}
 header.page{border:0;padding:0 0 2mm;display:grid;grid-template-columns:auto 1fr;gap:0 6mm;align-items:start}
 h1{font-size:14pt;margin:0;grid-row:span 2}
 h1 .sub{font-size:10pt}
 .banner{grid-column:2;padding:1mm 2.5mm;margin:0 0 1mm;font-size:7.5pt;border-width:1px}
 .banner strong{font-size:7pt;padding:0 2mm}
 .chips,dl.summary .screen-only,.generated,.screen-only{display:none}
 dl.summary{grid-column:1/-1;display:block;margin:.5mm 0 0;font-size:7.5pt}
 dl.summary dt,dl.summary dd{display:inline}
 dl.summary dt::after{content:":"}
 dl.summary dd{margin:0 4mm 0 1mm}
 .legend{grid-column:1/-1;font-size:7pt;margin:0}
 .problems{grid-column:1/-1;font-size:7pt;margin:0}
 main{padding:0}
 .board{grid-template-columns:repeat(3,1fr);gap:3mm 4mm;grid-auto-rows:80mm}
 .panel{height:80mm;overflow:hidden;border-radius:2mm;padding:1.5mm 2mm;border-width:.3mm;border-top-width:1.2mm;
  break-inside:avoid;display:grid;gap:1.2mm 2mm;grid-template-columns:1fr 23mm;
  grid-template-rows:auto auto auto minmax(0,1fr) auto auto;
  grid-template-areas:"head head" "key side" "timing timing" "prompt prompt" "notes notes" "meta meta"}
 .ph-head{grid-area:head}.key{grid-area:key}.panel .inputs{grid-area:side}.timing{grid-area:timing}
 .prompt{grid-area:prompt}.notes{grid-area:notes}.meta{grid-area:meta}.errors{grid-area:prompt}
 .ph-head .n{font-size:12pt}
 .ph-head .id{font-size:9pt}
 .pill{font-size:6.5pt;padding:0 1.5mm}
 .dot{width:3.6mm;height:3.6mm;line-height:3.6mm;font-size:6pt}
 .key{border-radius:1mm}
 .panel.st-errors .key{grid-column:1/-1}
 .badge,.hist,.sheets,script{display:none}
 .card{padding:2mm 3mm 2mm 4mm}
 .card-status{font-size:8pt}.card-why{font-size:7.5pt;-webkit-line-clamp:4}
 .panel .inputs{flex-direction:column;flex-wrap:nowrap;gap:1mm;overflow:hidden}
 .panel .inputs.none{display:flex;justify-content:center;text-align:center;font-size:6.5pt;color:var(--muted);
  border:.3mm dashed var(--line);border-radius:1mm;padding:1mm}
 .input,.input.chained{width:100%}
 .input figcaption{font-size:5.5pt;line-height:1.2}
 .input.chained .from{font-size:5.5pt}
 .input.chained .src{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
 .input .ph{font-size:5.5pt;padding:.5mm 1mm}
 .ph-why{font-size:5pt}
 .timing{font-size:7.5pt;padding:.5mm 2mm}
 .timing .lbl{font-size:6pt}
 .timing .fit{font-size:6.5pt}
 .prompt{font-size:8pt;line-height:1.3;overflow:hidden;display:-webkit-box;-webkit-box-orient:vertical;
  -webkit-line-clamp:6}
 .notes{font-size:7.5pt;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
 .meta{font-size:7pt;margin:0;flex-wrap:nowrap;overflow:hidden;white-space:nowrap}
 .tag{font-size:6.5pt}
 .errors{font-size:7.5pt}
 a{color:inherit;text-decoration:none}
}
"""

REVIEW_CSS = """
[hidden]{display:none!important}
.review-bar{position:sticky;top:0;z-index:5;background:var(--slate);color:#eceef3;padding:7px 24px;font-size:13px;
box-shadow:0 2px 8px rgba(0,0,0,.25)}
.review-bar strong{display:inline-block;background:#1d63b8;color:#fff;padding:1px 9px;border-radius:4px;
margin-right:8px;letter-spacing:.08em;font-size:12px}
.review-bar code{color:#fff}
.review-bar p{margin:6px 0 0;padding:5px 10px;border-radius:5px;font-weight:600}
.review-bar .reloaded{background:#fff4d6;color:#5c3d00}
.review-bar .review-error{background:#ffe0dc;color:#8a1c0f}
button.dot{border:0;padding:0;cursor:pointer;font-family:inherit}
button.dot:hover{filter:brightness(1.15)}
button.dot:focus-visible,.review-controls button:focus-visible{outline:2px solid #1d63b8;outline-offset:2px}
.review-controls{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start}
.review-controls button,.redo summary{font:600 12px system-ui,sans-serif;border:1px solid var(--line);
border-radius:5px;background:#fff;color:var(--ink);padding:3px 10px;cursor:pointer}
.review-controls button.approve[aria-pressed=true]{background:var(--done);border-color:var(--done);color:#fff}
.redo{flex:1;min-width:0}
.redo summary{display:inline-block;list-style:none}
.redo summary::-webkit-details-marker{display:none}
.redo[open] summary{background:#fdecea;border-color:var(--failed);color:var(--failed)}
.redo-form{display:flex;flex-wrap:wrap;gap:5px;margin-top:5px}
.redo-form label{display:flex;flex-direction:column;width:100%;font-size:11px;color:var(--muted);
text-transform:uppercase;letter-spacing:.04em}
.redo-form textarea{font:13px system-ui,sans-serif;resize:vertical;border:1px solid var(--line);border-radius:4px;
padding:3px 5px;text-transform:none;letter-spacing:0;color:var(--ink)}
.redo-form button[type=submit]{background:var(--failed);border-color:var(--failed);color:#fff}
.edited{margin:0;font:11.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:var(--done);
white-space:pre-line;overflow-wrap:anywhere}
.edited:empty{display:none}
.edited.bad{color:var(--failed);font-family:system-ui,sans-serif}
.panel.busy{opacity:.7}
.problem{white-space:pre-wrap;background:#fff;border:1px solid var(--failed);border-radius:6px;padding:12px;
color:var(--failed)}
@media print{.review-bar,.review-controls,.edited{display:none}}
"""


def css_string(text: str) -> str:
    """`text` as a CSS string literal, safe inside a <style> element: every character that is not
    a letter, a digit or a space is written as a hex escape."""
    out = []
    for ch in text:
        out.append(ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):x} ")
    return '"' + "".join(out) + '"'


def page_css(name: str, endpoint: str) -> str:
    """Each printed page's margins: the storyboard's name and endpoint, and the page number."""
    return (f"@media print{{@page{{@bottom-left{{content:{css_string(f'{name} storyboard, {endpoint}')};"
            f"font:7pt system-ui,sans-serif;color:#5d6577}}"
            f'@bottom-right{{content:"page " counter(page) " of " counter(pages);font:7pt system-ui,sans-serif;'
            f"color:#5d6577}}}}}}")
