// One video: details, player (MP4 with range requests), HotMarks, categories, re-streams, shares.
"use strict";
(function () {
  const id = document.getElementById("video-page").dataset.id;
  const base = "/apis/assets/" + encodeURIComponent(id);
  const player = document.getElementById("player");  // absent without WATCH
  const mayEdit = !!document.getElementById("video-page").dataset.edit;
  const PREFIX = "calypso:category:";

  SK.api("GET", base).then(r => {
    document.getElementById("title").textContent = r.data.title || "(untitled)";
    document.getElementById("description").textContent = [r.data.description, `${(r.data.duration || 0).toFixed(1)} s`,
      SK.dateTime(r.data.ctime * 1000)].filter(Boolean).join(" · ");
    document.getElementById("importing").innerHTML = SK.importing(r.data);
    document.title = (r.data.title || "Video") + " · streamkeeper";
  }).catch(e => { document.getElementById("title").textContent = e.message; });

  SK.list(base + "/hotmarks").then(list => {
    document.getElementById("hotmarks").innerHTML = list.length ? list.map(h => `<li><a href="#" data-t="${(h.timestamp || 0) / 1000}">${SK.esc(h.title)}</a> <small class="muted">${((h.timestamp || 0) / 1000).toFixed(1)} s</small></li>`).join("") : '<li class="muted">No HotMarks: add them while recording (Live page).</li>';
  }).catch(() => {});
  document.getElementById("hotmarks").onclick = ev => {
    const a = ev.target.closest("a[data-t]"); if (!a) return;
    ev.preventDefault();
    if (player) { player.currentTime = +a.dataset.t; player.play(); }
  };

  async function categories() {
    const box = document.getElementById("categories");
    const [cats, meta] = await Promise.all([SK.list("/apis/categories"), SK.list(base + "/metadata")]);
    const current = {};
    meta.filter(m => m.name.startsWith(PREFIX)).forEach(m => { current[m.name.slice(PREFIX.length)] = m.field.map(f => f.valueString); });
    if (!cats.length) { box.innerHTML = '<p class="muted">No categories defined (Administration → Categories).</p>'; return; }
    box.innerHTML = `<form id="cat-form" class="stack">${cats.map(c => `<label>${SK.esc(c.label)}
      <select name="${SK.esc(c.label)}"><option value="">(none)</option>${(c.values || []).map(v => `<option ${(current[c.label] || []).includes(v) ? "selected" : ""}>${SK.esc(v)}</option>`).join("")}</select></label>`).join("")}
      ${mayEdit ? '<button type="submit">Save categories</button>' : ""}</form>`;
    box.querySelectorAll("select").forEach(s => { s.disabled = !mayEdit; });
    document.getElementById("cat-form").onsubmit = async ev => {
      ev.preventDefault();
      const others = meta.filter(m => !m.name.startsWith(PREFIX) && !m.name.startsWith("calypso:") );
      const entries = Object.entries(SK.form(ev.target)).filter(([, v]) => v).map(([label, v]) => ({ name: PREFIX + label, field: [{ fieldType: "STRING", valueString: v }] }));
      try { await SK.api("PUT", base + "/metadata", [...others, ...entries]); SK.toast("Categories saved"); } catch (e) { SK.toast(e.message); }
    };
  }
  categories().catch(e => { document.getElementById("categories").innerHTML = `<p class="muted">${SK.esc(e.message)}</p>`; });

  const streamsTurn = SK.turns();
  async function streams() {
    const current = streamsTurn();
    const list = await SK.list(base + "/streams");
    if (!current()) return;
    document.querySelector("#streams tbody").innerHTML = list.length ? list.map(s => `<tr><td>${SK.esc(s.address)}:${SK.esc(s.port)}</td>
      <td><span class="pill ${s.state === "playing" ? "ok" : "warn"}">${SK.esc(s.state)}</span></td>
      <td style="white-space:nowrap"><button class="small" data-toggle="${SK.esc(s.id)}">${s.state === "playing" ? "Pause" : "Resume"}</button>
      <button class="small" data-seek="${SK.esc(s.id)}">Seek…</button> <button class="small danger" data-stop="${SK.esc(s.id)}">Stop</button></td></tr>`).join("")
      : '<tr><td colspan="3" class="muted">No re-stream running.</td></tr>';
  }
  if (document.getElementById("restream")) document.getElementById("restream").onsubmit = async ev => {
    ev.preventDefault();
    const f = SK.form(ev.target);
    try { await SK.api("POST", base + "/streams", { address: f.address, port: +f.port, ttl: +f.ttl }); SK.toast("Re-stream started"); } catch (e) { SK.toast(e.message); }
    streams();
  };
  if (document.getElementById("streams")) document.getElementById("streams").onclick = async ev => {
    const b = ev.target.closest("button"); if (!b) return;
    const sid = encodeURIComponent(b.dataset.toggle || b.dataset.seek || b.dataset.stop);
    try {
      if (b.dataset.toggle) await SK.api("PUT", "/apis/streams/" + sid, {});
      if (b.dataset.seek) { const t = prompt("Seek to (seconds)", "0"); if (t !== null) await SK.api("POST", `/apis/streams/${sid}/seek`, { time: +t }); }
      if (b.dataset.stop) await SK.api("DELETE", "/apis/streams/" + sid);
    } catch (e) { SK.toast(e.message); }
    streams();
  };
  if (document.getElementById("restream")) SK.every(5000, () => streams().catch(() => {}));
  if (document.getElementById("shares")) SK.shares(document.getElementById("shares"), "assets", id);
})();
