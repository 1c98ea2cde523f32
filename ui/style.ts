/** The page's stylesheet, served as /ui/app.css (a string so the executable embeds it with the code). */
export const CSS =
  `
:root{--bg:#f6f7f9;--fg:#1b1f24;--mut:#5b6570;--line:#d8dde3;--acc:#0b5cad;--on-acc:#fff;--ok:#137a3a;--warn:#a35b00;--bad:#b3261e;--on-bad:#fff;` +
  `--agent:#0e7c86;--never:#8a939c;--card:#fff;--field:#fff;--field-line:#8b95a0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--fg:#e6e9ed;--mut:#a3adb7;--line:#2c333b;--acc:#6cb0ff;--on-acc:#0a1a2e;--ok:#4cc27a;` +
  `--warn:#e5a04a;--bad:#ff7b72;--on-bad:#1f0605;--agent:#4fd1c5;--never:#6b747d;--card:#181c21;--field:#0c0f12;--field-line:#6b7580}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg)}
a{color:var(--acc)}:focus-visible{outline:2px solid var(--acc);outline-offset:2px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem;padding:.5rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}
header h1{font-size:1.1rem;margin:0 1rem 0 0}header h1 .version{font-size:.75rem;font-weight:400;color:var(--mut)}header nav{display:flex;flex-wrap:wrap;gap:.25rem}
header nav a{padding:.3rem .6rem;border-radius:4px;text-decoration:none;color:var(--fg)}header nav a[aria-current=page]{background:var(--acc);color:var(--on-acc)}
header .who{margin-left:auto;color:var(--mut);display:flex;gap:.5rem;align-items:center}
main{padding:1rem;max-width:1400px;margin:0 auto}
h2{font-size:1.2rem;margin:.2rem 0 .8rem}h3{font-size:1rem;margin:1rem 0 .5rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:1rem;margin-bottom:1rem}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
label{display:flex;flex-direction:column;gap:.2rem;font-size:.85rem;color:var(--mut)}
input,select,textarea,button{font:inherit;color:inherit}
input,select,textarea{padding:.35rem .5rem;border:1px solid var(--field-line);border-radius:4px;background:var(--field);min-width:0}
::placeholder{color:var(--mut);opacity:.8;font-style:italic}
input:disabled,select:disabled,textarea:disabled{background:var(--bg);border-style:dashed;border-color:var(--line);color:var(--mut);cursor:not-allowed}
input[readonly],textarea[readonly]{background:transparent;border-color:var(--line)}
textarea{width:100%;min-height:18rem;font-family:ui-monospace,monospace;font-size:13px}
button{padding:.35rem .8rem;border:1px solid var(--line);border-radius:4px;background:var(--card);cursor:pointer}
body.viewer .primary,body.viewer .danger,body.viewer .change{display:none}body.viewer textarea,body.viewer form input:not([type=search]),body.viewer ` +
  `form select{pointer-events:none;background:transparent;border-color:var(--line)}
.viewer-note{margin:0 0 1rem;color:var(--mut)}
button.primary{background:var(--acc);border-color:var(--acc);color:var(--on-acc)}button.danger{color:var(--bad)}
button:disabled{opacity:.5;cursor:default}
.error{color:var(--bad);margin:.5rem 0}.muted{color:var(--mut)}.ok{color:var(--ok)}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);white-space:nowrap}
th button,.vhead button{all:unset;cursor:pointer;font-weight:600}th button:focus-visible,.vhead button:focus-visible{outline:2px solid var(--acc)}
.scroll{overflow:auto}
.vt{height:calc(100vh - 15rem);min-height:16rem;overflow:auto;border:1px solid var(--line);border-radius:6px;background:var(--card);position:relative}
.vt .vrow,.vt .vhead{display:grid;grid-template-columns:2.2rem minmax(8rem,1.3fr) 7.5rem 10.5rem 12rem minmax(7rem,1fr) minmax(6rem,1fr) 8rem 11.5rem ` +
  `7rem;align-items:center;height:34px;border-bottom:1px solid var(--line);min-width:1170px}
.vt .vhead{position:sticky;top:0;background:var(--card);z-index:1;font-weight:600}
.vt .vrow>*,.vt .vhead>*{padding:0 .4rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.vt .vrow.sel{background:color-mix(in srgb,var(--acc) 12%,transparent)}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:999px;font-size:.8rem;border:1px solid currentColor}
.s-booted{color:var(--ok)}.s-agent{color:var(--agent)}.s-booting{color:var(--acc)}.s-overdue{color:var(--warn)}.s-error{color:var(--bad)}` +
  `.s-never{color:var(--mut)}.badge.stuck{border-style:dashed}.warn{color:var(--warn)}
.c-booted{background:var(--ok)}.c-agent{background:var(--agent)}.c-booting{background:var(--acc)}.c-overdue{background:var(--warn)}` +
  `.c-error{background:var(--bad)}.c-never{background:var(--never)}
.dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;margin-right:.35rem;vertical-align:-.05rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,20px);gap:3px;padding:.6rem;margin-bottom:.6rem;border:1px solid var(--line);border-radius:6px;` +
  `background:var(--card);max-height:calc(100vh - 15rem);overflow:auto}
.cell{display:block;width:20px;height:20px;border-radius:3px;position:relative;overflow:hidden}.cell:hover{outline:2px solid var(--fg)}
.cell.stuck{background-image:repeating-linear-gradient(45deg,transparent 0 3px,var(--warn) 3px 6px)}.cell i{position:absolute;left:0;bottom:0;height:5px;background:#fffb}
.banner{position:sticky;top:0;z-index:5;background:var(--bad);color:var(--on-bad);padding:.5rem 1rem;font-weight:600}
.vt .mac{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}.vrow progress{width:2.5rem;height:.6rem;vertical-align:middle}
.chips{display:flex;flex-wrap:wrap;gap:.3rem}.chips button[aria-pressed=true]{background:var(--acc);color:var(--on-acc)}
.src-node{font-weight:600}.src-sup{text-decoration:line-through;color:var(--mut)}
.grid2{display:grid;grid-template-columns:minmax(12rem,20rem) 1fr;gap:1rem}
@media (max-width:720px){.grid2{grid-template-columns:1fr}main{padding:.5rem}.vt{height:calc(100vh - 20rem)}}
.tree button{all:unset;cursor:pointer;display:block;padding:.1rem .3rem;border-radius:3px;font-family:ui-monospace,monospace;font-size:13px}
.tree button[aria-current=true]{background:var(--acc);color:var(--on-acc)}.tree button[aria-current=true] .muted{color:inherit}.tree ` +
  `button:focus-visible{outline:2px solid var(--acc)}
pre{background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:.5rem;overflow:auto;max-height:28rem;font-size:13px}
progress{width:100%;height:1rem}
.login{max-width:22rem;margin:10vh auto}.login form{display:flex;flex-direction:column;gap:.8rem}
fieldset{border:1px solid var(--line);border-radius:6px;margin:0 0 1rem;padding:.5rem 1rem 1rem;min-width:0}legend{font-weight:600;padding:0 .3rem}
fieldset.choices{border-style:dashed;margin:.75rem 0}.settings fieldset>.row+.row,.settings fieldset>.row+label{margin-top:.75rem}
label.check{flex-direction:row;align-items:flex-start;gap:.5rem;color:var(--fg);font-size:inherit;padding:.2rem 0}label.check input{margin-top:.2rem}
textarea.short{min-height:4.5rem}.small{font-size:.8rem}
.field-error{color:var(--bad);font-size:.8rem;max-width:32rem}label.invalid input,label.invalid select,label.invalid textarea{border-color:var(--bad)}
.settings .row>label{flex:1 1 12rem}.grow{flex:1 1 auto}h3.grow{margin:0}
.confirm{border:1px solid var(--bad);border-radius:6px;padding:.75rem;margin:.75rem 0;background:color-mix(in srgb,var(--bad) 6%,transparent)}.confirm p{margin:.4rem 0}
.profile-form .row{align-items:flex-start}.profile-form h3.grow{margin:0}
.fieldbox{display:flex;flex-direction:column;gap:.2rem;font-size:.85rem;color:var(--mut);flex:1 1 12rem;min-width:0}.fieldbox>label{color:inherit}
.fieldbox.invalid input,.fieldbox.invalid select,.fieldbox.invalid textarea{border-color:var(--bad)}.fieldbox textarea{min-height:4.5rem}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.modal-back{position:fixed;inset:0;z-index:20;background:#0007;display:flex;align-items:flex-start;justify-content:center;padding:8vh 1rem;overflow:auto}
.modal{width:min(46rem,100%);margin:0;box-shadow:0 8px 30px #0005}.modal h3{margin-top:0}
.pw-on{color:var(--ok)}.pw-off{color:var(--mut)}tr.failed td{color:var(--bad)}tr.failed{background:color-mix(in srgb,var(--bad) 7%,transparent)}
.src{font-size:.75rem;color:var(--mut)}.src.node{color:var(--fg);font-weight:600}
.nf .row{align-items:flex-start}.nf .row>.fld{flex:1 1 11rem;display:flex;flex-direction:column;gap:.2rem;min-width:0}.fld>label{font-size:.85rem;` +
  `color:var(--mut)}.fld.invalid input,.fld.invalid select{border-color:var(--bad)}.nf fieldset fieldset{margin:.5rem 0}.nf .kv{display:grid;` +
  `grid-template-columns:minmax(6rem,12rem) minmax(8rem,1fr) auto;gap:.4rem;align-items:start;margin-bottom:.4rem}.kv>button{margin-top:1.2rem}` +
  `.kv>.fld{display:flex;flex-direction:column;gap:.2rem}
.actions{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;margin:.2rem 0 1rem}
`;
