// Library: /apis/assets with q, filter (built from the category pickers or typed), sort and paging.
"use strict";
(function () {
  let page = 1, categories = [];
  const turn = SK.turns();
  const $ = id => document.getElementById(id);
  function filterText() {
    const parts = [];
    document.querySelectorAll("#category-filters select").forEach(s => {
      if (s.value) parts.push(`category::"${s.dataset.label.replace(/"/g, '\\"')}" IN ("${s.value.replace(/"/g, '\\"')}")`);
    });
    if ($("filter").value.trim()) parts.push($("filter").value.trim());
    return parts.join(" & ");
  }
  async function search() {
    const p = new URLSearchParams({ page, pageSize: $("pageSize").value, sort: $("sort").value, asc: $("asc").value });
    const q = $("q").value.trim(); if (q) p.set("q", q.includes('"') ? q : `"${q}"`);
    const f = filterText(); if (f) p.set("filter", f);
    const filtered = !!(q || f);
    const box = $("assets"), current = turn();
    let r;
    try { r = await SK.page("/apis/assets?" + p); } catch (e) { if (current()) box.innerHTML = `<p class="error">${SK.esc(e.message)}</p>`; return; }
    if (!current()) return;
    const paging = r.paging || {};
    const n = paging.results ?? r.data.length;
    $("count").textContent = n === 1 ? "1 video" : `${n} videos`;
    $("pageno").textContent = page;
    $("prev").disabled = page <= 1; $("next").disabled = !paging.next;
    box.innerHTML = r.data.length ? r.data.map(a => `<div class="tile asset" data-id="${SK.esc(a.id)}">
      <a href="/console/library/${encodeURIComponent(a.id)}" tabindex="-1" aria-hidden="true"><img alt="" loading="lazy" src="/apis/assets/${encodeURIComponent(a.id)}/thumbnail?width=320" onerror="this.style.visibility='hidden'"></a>
      <div class="body"><a href="/console/library/${encodeURIComponent(a.id)}">${SK.esc(a.title || "(untitled)")}</a><br>
      <small class="muted">${SK.dateTime(a.ctime * 1000)} · ${(a.duration || 0).toFixed(1)} s</small>
      ${a.recording ? '<span class="pill bad">recording</span>' : ""}${SK.importing(a)}</div></div>`).join("")
      : (filtered ? '<p class="empty">No videos match. Clear the search or the filter to see them all.</p>'
        : '<p class="empty">The library is empty. Videos appear here when a recording stops (Live page) or when one is imported through <code>POST /apis/assets/import</code>.</p>');
  }
  $("search").onsubmit = ev => { ev.preventDefault(); page = 1; search(); };
  $("prev").onclick = () => { page -= 1; search(); };
  $("next").onclick = () => { page += 1; search(); };
  SK.list("/apis/categories").then(list => {
    categories = list;
    $("category-filters").innerHTML = list.map(c => `<label>${SK.esc(c.label)} <select data-label="${SK.esc(c.label)}"><option value="">any</option>
      ${(c.values || []).map(v => `<option>${SK.esc(v)}</option>`).join("")}</select></label>`).join("");
  }).catch(() => {});
  search();
})();
