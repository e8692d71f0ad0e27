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
  time(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; },
  fmt(v) {
    if (v === null || v === undefined) return "";
    if (Array.isArray(v)) return v.map(x => typeof x === "object" ? JSON.stringify(x) : x).join(", ");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  },
  form(formEl) { return Object.fromEntries(new FormData(formEl).entries()); },
  every(ms, fn) { fn(); return setInterval(() => { if (!document.hidden) fn(); }, ms); },
};
