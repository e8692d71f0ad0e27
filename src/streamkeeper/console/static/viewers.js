// Viewer experience: a tenant's stream policy, a viewer's history (with progress) and watchlist.
"use strict";
(function () {
  const tenant = document.getElementById("tenant");
  const fields = ["maxPerUser", "maxPerAsset", "maxDevices"];
  const status = document.getElementById("policy-status");
  const url = () => "/console/api/oxm/" + encodeURIComponent(tenant.value);
  const policyTurn = SK.turns(), viewerTurn = SK.turns();
  // the API's timestamps (seconds, milliseconds or ISO text) in the console's one format
  const when = t => typeof t === "number" ? SK.dateTime(t > 1e11 ? t : t * 1000) : (Date.parse(t) ? SK.dateTime(Date.parse(t)) : t);
  // While a tenant's policy is being loaded its fields are locked: a value typed meanwhile would
  // be overwritten by the answer, and a save would then store the values just loaded instead.
  const controls = () => [...fields.map(f => document.getElementById(f)), document.querySelector("#policy button[type=submit]")];
  async function loadPolicy() {
    const current = policyTurn();
    controls().forEach(c => { c.disabled = true; });
    try {
      const p = await SK.api("GET", url() + "/policy");
      if (!current()) return;
      fields.forEach(f => { document.getElementById(f).value = p[f]; });
      status.textContent = "";
    } finally {
      if (current()) controls().forEach(c => { c.disabled = false; });
    }
  }
  tenant.onchange = () => loadPolicy().catch(e => SK.toast(e.message));
  document.getElementById("policy").onsubmit = async ev => {
    ev.preventDefault();
    const body = Object.fromEntries(fields.map(f => [f, +document.getElementById(f).value]));
    try { await SK.api("PUT", url() + "/policy", body); status.innerHTML = '<span class="ok" id="policy-saved">Saved</span>'; }
    catch (e) { status.innerHTML = `<span class="error">${SK.esc(e.message)}</span>`; }
  };
  if (tenant.value) loadPolicy().catch(e => SK.toast(e.message));

  document.getElementById("viewer").onsubmit = async ev => {
    ev.preventDefault();
    const out = document.getElementById("viewer-result"), current = viewerTurn();
    try {
      const r = await SK.api("GET", url() + "/users/" + encodeURIComponent(document.getElementById("user").value));
      if (!current()) return;
      const items = (r.watchlist.assets || r.watchlist.assetIDs || []);
      out.innerHTML = `<h3>History and progress</h3>` + (r.history.length ? `<table id="history"><thead><tr><th>Asset</th><th>Progress (s)</th><th>Last update</th></tr></thead><tbody>` +
        r.history.map(h => `<tr><td>${SK.esc(h.assetId)}</td><td>${SK.esc(h.progress)}</td><td>${SK.esc(when(h.timestamp))}</td></tr>`).join("") + "</tbody></table>" : '<p class="muted">Nothing watched yet.</p>') +
        `<h3>Watchlist</h3>` + (items.length ? "<ul id=\"watchlist\">" + items.map(a => `<li>${SK.esc(typeof a === "object" ? (a.assetID || a.id || JSON.stringify(a)) : a)}</li>`).join("") + "</ul>" : '<p class="muted">Empty.</p>');
    } catch (e) { if (current()) out.innerHTML = `<p class="error">${SK.esc(e.message)}</p>`; }
  };
})();
