// Helpers shared by the console pages: calls to the APIs with the login cookie, small DOM helpers.
"use strict";

const SK = {
  // fetch JSON (or nothing); throws an Error carrying .status and .body on a non-2xx answer
  async api(method, url, body, headers) {
    const init = { method, headers: Object.assign({}, headers || {}), credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (res.status === 401 && url.startsWith("/console/api/")) { location.href = "/console/login?next=" + encodeURIComponent(location.pathname); }
    if (!res.ok) {
      const err = new Error(SK.message(data) || (res.status + " " + res.statusText));
      err.status = res.status; err.body = data; throw err;
    }
    return data;
  },
  message(data) {
    if (!data || typeof data !== "object") return data ? String(data) : "";
    return data.message || data.detail || (data.associatedAdvice && data.associatedAdvice.map(a => a.message).join("; ")) || "";
  },
  esc(v) {
    return String(v === undefined || v === null ? "" : v).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  },
  el(html) { const t = document.createElement("template"); t.innerHTML = html.trim(); return t.content.firstElementChild; },
  toast(text) {
    const t = document.getElementById("toast"); t.textContent = text; t.classList.add("show");
    clearTimeout(SK._toast); SK._toast = setTimeout(() => t.classList.remove("show"), 2500);
  },
  // One way to show times everywhere: the viewer's locale and time zone, 24 h or 12 h as the locale has it.
  time(ms) { return ms ? new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : ""; },
  clock(ms) { return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }); },
  dateTime(ms) { return ms ? new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : ""; },
  // metadata of a stream as "name: value" pairs, or "none"
  meta(m) {
    const e = Object.entries(m || {});
    return e.length ? e.map(([k, v]) => `<span class="pill">${SK.esc(k)}: ${SK.esc(Array.isArray(v) ? v.join(", ") : v)}</span>`).join(" ") : '<span class="muted">none</span>';
  },
  // the share of a video being imported ("Importing… 42 %"), or ""
  importing(a) {
    if (!a || !a.importing) return "";
    const p = a.importProgress || {}, pct = p.totalBytes ? Math.floor(100 * (p.bytes || 0) / p.totalBytes) : null;
    return `<span class="pill warn importing">Importing\u2026${pct === null ? "" : " " + pct + " %"}</span>`;
  },
  fmt(v) {
    if (v === null || v === undefined) return "";
    if (Array.isArray(v)) return v.map(x => typeof x === "object" ? JSON.stringify(x) : x).join(", ");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  },
  form(formEl) { return Object.fromEntries(new FormData(formEl).entries()); },
  every(ms, fn) { fn(); return setInterval(() => { if (!document.hidden) fn(); }, ms); },
  // Loads that draw one part of a page overlap (a timer and a click): each call takes a turn and
  // draws only while it is still the newest, so a late answer never paints an older state over a newer one.
  turns() { let last = 0; return () => { const mine = ++last; return () => mine === last; }; },
};

// A /apis list, asked through /console/api/lists (the same request, made by the server with our
// cookie) because /apis answers an empty list with 404 NoResults, a failed request in the browser.
SK.listUrl = url => url.replace(/^\/apis\//, "/console/api/lists/");
SK.list = async function (url) { const r = await SK.api("GET", SK.listUrl(url)); return (r && r.data) || []; };
SK.page = async function (url) { return SK.api("GET", SK.listUrl(url)); };
// Shares of one object (/apis/{resource}/{id}/shares): a table and a form, rendered into `box`.
SK.shares = async function (box, resource, id) {
  const base = `/apis/${resource}/${encodeURIComponent(id)}/shares`, turn = SK.turns();
  async function draw() {
    const current = turn();
    let rows;
    try { rows = await SK.list(base); } catch (e) { if (current()) box.innerHTML = `<p class="error">${SK.esc(e.message)}</p>`; return; }
    if (!current()) return;
    box.innerHTML = (rows.length ? "" : '<p class="muted">Not shared with anyone yet.</p>') + `<table class="shares" ${rows.length ? "" : "hidden"}><thead><tr><th>Type</th><th>Name</th><th>Permission</th><th></th></tr></thead><tbody>` +
      rows.map(s => `<tr><td>${SK.esc(s.shareType)}</td><td>${SK.esc(s.name)}</td><td>${SK.esc(s.permission)}</td>
        <td><button class="small danger" data-unshare="${SK.esc(s.id)}">Remove</button></td></tr>`).join("") + `</tbody></table>
      <form class="inline share-form" style="margin-top:8px">
        <label>Type <select name="shareType"><option>USER</option><option>GROUP</option></select></label>
        <label>Name <input name="name" required placeholder="user or group name"></label>
        <label>Permission <select name="permission"><option>WATCH</option><option>EDIT</option><option>OWN</option></select></label>
        <button class="primary" type="submit">Share</button></form>`;
    box.querySelector("form").onsubmit = async ev => {
      ev.preventDefault();
      try { await SK.api("POST", base, SK.form(ev.target)); SK.toast("Shared"); } catch (e) { SK.toast(e.message); }
      draw();
    };
    box.querySelectorAll("button[data-unshare]").forEach(b => b.onclick = async () => {
      try { await SK.api("DELETE", base + "/" + encodeURIComponent(b.dataset.unshare)); } catch (e) { SK.toast(e.message); }
      draw();
    });
  }
  await draw();
};
SK.rate = function (bps) {
  if (!bps) return "0 bit/s";
  const u = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"]; let i = 0;
  while (bps >= 1000 && i < u.length - 1) { bps /= 1000; i++; }
  return bps.toFixed(i ? 1 : 0) + " " + u[i];
};
