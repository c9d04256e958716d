// GET /: a small demo page. Plain HTML + a little script over the public API (no framework, no CDN, no build step):
// search the catalog by title, pick a history, see /v1/recommend's items with their SIDs and scores, and browse the
// level-1 SID clusters with example items.
import { sha256 } from "@noble/hashes/sha2.js";

export const demoPage = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hsrl-edge demo</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1c2330; background: #f6f7f9; }
  body { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
  header p { margin: .25rem 0; color: #4a5568; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 1.25rem; }
  section { background: #fff; border: 1px solid #d8dde6; border-radius: .5rem; padding: 1rem; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
  label { display: block; font-weight: 600; margin-bottom: .25rem; }
  input[type=search] { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; border: 1px solid #a0aec0; border-radius: .25rem; }
  ul { list-style: none; padding: 0; margin: .5rem 0 0; }
  li { display: flex; justify-content: space-between; align-items: center; gap: .5rem; padding: .35rem 0; border-bottom: 1px solid #edf0f4; }
  button { font: inherit; padding: .3rem .7rem; border-radius: .25rem; border: 1px solid #2b6cb0; background: #ebf4ff; color: #1a4f8a; cursor: pointer; }
  button:focus-visible, input:focus-visible { outline: 3px solid #f6ad55; outline-offset: 1px; }
  button.primary { background: #2b6cb0; color: #fff; }
  code { font-size: .85rem; background: #edf2f7; padding: .1rem .3rem; border-radius: .2rem; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: .35rem .25rem; border-bottom: 1px solid #edf0f4; font-size: .95rem; }
  .clusters { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .75rem; }
  .cluster { border: 1px solid #e2e8f0; border-radius: .35rem; padding: .5rem .65rem; }
  .cluster h3 { font-size: .95rem; margin: 0 0 .25rem; }
  .muted { color: #4a5568; font-size: .9rem; }
  .error { color: #9b2c2c; }
</style>
</head>
<body>
<header>
  <h1>hsrl-edge</h1>
  <p>Hierarchical Semantic RL at the edge: the policy decodes Semantic IDs coarse to fine; each SID maps to one item.</p>
  <p>Active model: <code id="model-version">loading…</code> <span id="model-source" class="muted"></span></p>
</header>
<main>
  <section aria-labelledby="search-h">
    <h2 id="search-h">1. Pick a few items</h2>
    <label for="search">Search the catalog by title</label>
    <input id="search" type="search" autocomplete="off" placeholder="type a few letters…">
    <ul id="search-results" aria-label="Search results"></ul>
  </section>
  <section aria-labelledby="history-h">
    <h2 id="history-h">2. Your history (oldest first)</h2>
    <ol id="history" aria-label="Chosen history" class="muted"></ol>
    <p><button id="recommend" class="primary" type="button">Recommend</button>
       <button id="clear" type="button">Clear</button></p>
  </section>
  <section class="wide" aria-labelledby="recs-h">
    <h2 id="recs-h">3. Recommendations</h2>
    <div id="recs" aria-live="polite"><p class="muted">Pick items (or none, for a cold user) and press Recommend.</p></div>
  </section>
  <section class="wide" aria-labelledby="clusters-h">
    <h2 id="clusters-h">The SID hierarchy: level-1 clusters</h2>
    <p class="muted">Every item's first SID token places it in one of these clusters; later tokens refine it.</p>
    <div id="clusters" class="clusters"></div>
  </section>
</main>
<script type="module">
  const $ = (id) => document.getElementById(id);
  const history = [];
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const sid = (t, c) => esc(t.join("-")) + (c ? "/" + c : "");
  // attributes are free-form: a title that is not a string is no title
  const titleOf = (it) => (it.attributes && typeof it.attributes.title === "string" && it.attributes.title) || it.id;

  async function api(path, body) {
    const res = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(json.message || res.statusText);
    return json;
  }

  function renderHistory() {
    $("history").innerHTML = history.length
      ? history.map((it, i) => '<li><span>' + esc(titleOf(it)) + ' <code>' + sid(it.sid, it.collision) + '</code></span>' +
          '<button type="button" data-remove="' + i + '" aria-label="Remove ' + esc(titleOf(it)) + '">Remove</button></li>').join("")
      : '<li>Empty: a cold user.</li>';
  }

  let searchTimer;
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    const q = e.target.value.trim();
    searchTimer = setTimeout(async () => {
      if (!q) { $("search-results").innerHTML = ""; return; }
      try {
        const { items } = await api("/v1/items?q=" + encodeURIComponent(q) + "&limit=12");
        $("search-results").innerHTML = items.map((it) =>
          '<li><span>' + esc(titleOf(it)) + ' <code>' + sid(it.sid, it.collision) + '</code></span>' +
          '<button type="button" data-add="' + esc(it.id) + '" aria-label="Add ' + esc(titleOf(it)) + '">Add</button></li>').join("") ||
          '<li class="muted">No match.</li>';
        window.lastSearch = items;
      } catch (err) { $("search-results").innerHTML = '<li class="error">' + esc(err.message) + '</li>'; }
    }, 150);
  });
  $("search-results").addEventListener("click", (e) => {
    const id = e.target.dataset && e.target.dataset.add;
    const it = id && (window.lastSearch || []).find((x) => x.id === id);
    if (it && !history.some((h) => h.id === it.id)) { history.push(it); renderHistory(); }
  });
  $("history").addEventListener("click", (e) => {
    const i = e.target.dataset && e.target.dataset.remove;
    if (i !== undefined) { history.splice(Number(i), 1); renderHistory(); }
  });
  $("clear").addEventListener("click", () => { history.length = 0; renderHistory(); });

  $("recommend").addEventListener("click", async () => {
    $("recs").innerHTML = '<p class="muted">Decoding…</p>';
    try {
      const res = await api("/v1/recommend", { history: history.map((h) => h.id), k: 10 });
      $("recs").innerHTML = '<table><caption class="muted">Model ' + esc(res.model) + '</caption>' +
        '<thead><tr><th scope="col">#</th><th scope="col">Item</th><th scope="col">SID</th><th scope="col">Score (Σ log p)</th></tr></thead><tbody>' +
        res.items.map((it, i) => '<tr data-testid="rec"><td>' + (i + 1) + '</td><td>' + esc(titleOf(it)) + '</td><td><code>' +
          sid(it.sid, it.collision) + '</code></td><td>' + it.score.toFixed(3) + '</td></tr>').join("") + '</tbody></table>';
    } catch (err) { $("recs").innerHTML = '<p class="error">' + esc(err.message) + '</p>'; }
  });

  (async () => {
    try {
      const m = await api("/v1/model");
      $("model-version").textContent = m.version;
      $("model-source").textContent = "(" + m.source + ", trained on " + ((m.manifest.training || {}).dataset || "?") + ")";
    } catch (err) { $("model-version").textContent = "unavailable: " + err.message; }
    try {
      const { clusters } = await api("/v1/catalog/clusters?examples=3");
      $("clusters").innerHTML = clusters.map((c) => '<div class="cluster"><h3>Token ' + c.token + ' <span class="muted">(' + c.items + ' items)</span></h3><ul>' +
        c.examples.map((e) => '<li><span>' + esc((typeof e.title === "string" && e.title) || e.id) + '</span><code>' + sid(e.sid) + '</code></li>').join("") + '</ul></div>').join("");
    } catch (err) { $("clusters").innerHTML = '<p class="error">' + esc(err.message) + '</p>'; }
  })();
  renderHistory();
</script>
</body>
</html>
`;

// The Content-Security-Policy sources of the page's one inline <script> and one inline <style>: their sha256, so the
// policy needs no 'unsafe-inline'.
const inline = (tag: string) => {
  const body = new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`).exec(demoPage)?.[1] ?? "";
  return `'sha256-${btoa(String.fromCharCode(...sha256(new TextEncoder().encode(body))))}'`;
};
export const demoPageCsp = { script: inline("script"), style: inline("style") };
