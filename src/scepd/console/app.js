/*
 * The scepd web console: a single page over the admin API (/api/v1).
 * It signs in with an API token (scepctl token new), kept in
 * sessionStorage for this tab only and sent as "Authorization: Bearer";
 * no cookies, so no request is ever made on the user's behalf by another
 * site.  Every element is made with the DOM API and text goes in as
 * textContent (never innerHTML), so nothing the server returns (a
 * subject, an audit detail) can become markup.  Views are chosen by the
 * URL's hash (#/inventory, #/cert/SERIAL, ...); API errors
 * (application/problem+json) are shown with their title and detail.
 */
"use strict";

(function () {
  const API = "/api/v1";
  const TOKEN_KEY = "scepd.token";
  const REASONS = [
    ["unspecified", "Unspecified"],
    ["keyCompromise", "Key compromise"],
    ["caCompromise", "CA compromise"],
    ["affiliationChanged", "Affiliation changed"],
    ["superseded", "Superseded"],
    ["cessationOfOperation", "Cessation of operation"],
    ["certificateHold", "Certificate hold"],
  ];
  const main = document.getElementById("main");
  let me = null;

  /* ---- DOM helpers ---- */

  /* An element with attributes (on* are listeners, "text" its text) and
   * children (strings become text nodes, null is skipped). */
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }

  function append(el, kids) {
    for (const k of kids.flat()) {
      if (k === null || k === undefined || k === false) continue;
      el.append(typeof k === "string" || typeof k === "number" ? String(k) : k);
    }
    return el;
  }

  const SVGNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const k of kids) el.append(k);
    return el;
  }

  function badge(word) {
    return h("span", { class: "badge " + word, text: word });
  }

  function fmtTime(t) {
    if (!t) return "—";
    return t.replace("T", " ").replace("Z", " UTC");
  }

  function daysUntil(t) {
    return Math.floor((Date.parse(t) - Date.now()) / 86400000);
  }

  function field(id, label, control) {
    control.id = id;
    return h("div", { class: "field" }, h("label", { for: id, text: label }), control);
  }

  function select(options, value) {
    const el = h("select");
    for (const [v, label] of options) {
      el.append(h("option", { value: v, text: label, selected: v === value }));
    }
    return el;
  }

  function toast(text) {
    const t = document.getElementById("toast");
    t.textContent = text;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.textContent = ""; }, 6000);
  }

  function errorBox(err) {
    return h("div", { class: "error", role: "alert" }, err.message || String(err));
  }

  /* Replaces the page with a view: a heading (focused, so that a screen
   * reader and the keyboard start there) and its content. */
  function page(title, ...kids) {
    main.replaceChildren(h("h1", { tabindex: "-1", id: "view-title", text: title }));
    append(main, kids);
    document.title = title + " — scepd console";
    document.getElementById("view-title").focus();
  }

  /* ---- the API ---- */

  class ApiError extends Error {
    constructor(status, problem) {
      const title = (problem && problem.title) || "HTTP " + status;
      const detail = problem && problem.detail ? ": " + problem.detail : "";
      super(title + detail + " (" + status + ")");
      this.status = status;
      this.problem = problem;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  /* Calls the API; resolves with the parsed JSON, rejects with an
   * ApiError carrying the problem's title and detail.  A 401 ends the
   * session: the token is gone or revoked. */
  async function api(method, path, body, tok) {
    const headers = { Accept: "application/json", Authorization: "Bearer " + (tok || token()) };
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(API + path, init);
    let data = null;
    const ct = r.headers.get("Content-Type") || "";
    if (ct.includes("json")) data = await r.json();
    if (!r.ok) {
      if (r.status === 401 && !tok) {
        sessionStorage.removeItem(TOKEN_KEY);
        me = null;
        location.hash = "#/signin";
      }
      throw new ApiError(r.status, data);
    }
    return data;
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) u.set(k, v);
    const t = u.toString();
    return t ? "?" + t : "";
  }

  /* ---- confirmation dialog ---- */

  /* Asks before an action; resolves true when confirmed.  extra (may be
   * null) is shown between the question and the buttons. */
  function confirmAction(title, text, okLabel, extra) {
    const dlg = document.getElementById("confirm");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-extra").replaceChildren(...(extra ? [extra] : []));
    document.getElementById("confirm-ok").textContent = okLabel;
    return new Promise((resolve) => {
      const form = document.getElementById("confirm-form");
      const cancel = document.getElementById("confirm-cancel");
      const done = (v) => {
        form.removeEventListener("submit", onOk);
        cancel.removeEventListener("click", onCancel);
        dlg.removeEventListener("cancel", onCancel);
        if (dlg.open) dlg.close();
        resolve(v);
      };
      const onOk = (e) => { e.preventDefault(); done(true); };
      const onCancel = (e) => { e.preventDefault(); done(false); };
      form.addEventListener("submit", onOk);
      cancel.addEventListener("click", onCancel);
      dlg.addEventListener("cancel", onCancel);
      dlg.showModal();
      document.getElementById("confirm-cancel").focus();
    });
  }

  /* ---- views ---- */

  function viewSignin(_arg, _q, message) {
    document.getElementById("top").hidden = true;
    const input = h("input", { type: "password", autocomplete: "off", spellcheck: "false", required: true });
    const err = h("div");
    const form = h("form", { class: "card signin", id: "signin-form" },
      h("p", { class: "muted", text: "Sign in with an API token made by: scepctl token new --name NAME --role operator" }),
      field("token", "API token", input),
      err,
      h("div", { class: "actions" }, h("button", { type: "submit", id: "signin", text: "Sign in" })));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.replaceChildren();
      const t = input.value.trim();
      try {
        me = await api("GET", "/me", undefined, t);
        sessionStorage.setItem(TOKEN_KEY, t);
        location.hash = "#/inventory";
      } catch (x) {
        err.replaceChildren(errorBox(x));
      }
    });
    page("Sign in to scepd", message ? h("div", { class: "notice", text: message }) : null, form);
    input.focus();
  }

  /* The inventory: search, filters, client-side sort of the page, and
   * cursor paging (a stack of cursors for Previous). */
  async function viewInventory(_arg, q) {
    const search = h("input", { type: "search", value: q.get("q") || "", placeholder: "CN=device, example.com" });
    const where = select([["subject", "Subject"], ["san", "Subject alt. name"]], q.get("in") || "subject");
    const status = select([["any", "Any"], ["valid", "Valid"], ["revoked", "Revoked"]], q.get("status") || "any");
    const profile = h("input", { type: "text", value: q.get("profile") || "", placeholder: "any", list: "profiles" });
    const expiring = select([["", "Any time"], ["7d", "Within 7 days"], ["30d", "Within 30 days"],
      ["90d", "Within 90 days"]], q.get("expiring") || "");
    const form = h("form", { class: "card filters", role: "search", id: "inventory-form" },
      h("div", { class: "grow" }, field("f-q", "Search", search)),
      h("div", null, field("f-in", "Search in", where)),
      h("div", null, field("f-status", "Status", status)),
      h("div", null, field("f-profile", "Profile", profile)),
      h("div", null, field("f-expiring", "Expiring", expiring)),
      h("div", null, h("button", { type: "submit", id: "search", text: "Search" })));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      location.hash = "#/inventory" + qs({ q: search.value.trim(), in: where.value,
        status: status.value === "any" ? "" : status.value, profile: profile.value.trim(),
        expiring: expiring.value });
    });
    const out = h("div", { id: "inventory-results" }, h("p", { class: "muted", text: "Loading…" }));
    page("Certificate inventory", form, out);
    const filter = { limit: 25, status: q.get("status") || "", expiring: q.get("expiring") || "" };
    if (q.get("q")) filter[(q.get("in") || "subject") === "san" ? "san" : "subject"] = q.get("q");
    if (q.get("profile")) filter.profile = q.get("profile");
    const cursors = [];
    let sortKey = null, sortDir = 1, items = [];

    const cols = [["serial", "Serial", "mono"], ["subject", "Subject", ""], ["sans", "SANs", "opt"],
      ["profile", "Profile", "opt"], ["status", "Status", ""], ["not_after", "Expires", ""]];

    function render(data) {
      items = data.items;
      if (sortKey) {
        items = items.slice().sort((a, b) => {
          const x = String(a[sortKey] || ""), y = String(b[sortKey] || "");
          return x < y ? -sortDir : x > y ? sortDir : 0;
        });
      }
      const head = h("tr", null, cols.map(([k, label, cls]) =>
        h("th", { class: cls === "opt" ? "opt" : null, scope: "col",
          "aria-sort": sortKey === k ? (sortDir > 0 ? "ascending" : "descending") : null },
        h("button", { type: "button", class: "sort", text: label + (sortKey === k ? (sortDir > 0 ? " ▲" : " ▼") : ""),
          onclick: () => { sortDir = sortKey === k ? -sortDir : 1; sortKey = k; render(data); } }))));
      const rows = items.map((c) => {
        const link = h("a", { href: "#/cert/" + encodeURIComponent(c.serial), class: "cert-link", text: c.serial });
        const tr = h("tr", { class: "click", "data-serial": c.serial },
          h("td", { class: "mono" }, link),
          h("td", { class: "subject", text: c.subject || "" }),
          h("td", { class: "opt", text: (c.sans || []).join(", ") }),
          h("td", { class: "opt", text: c.source && c.source !== "scep" ? c.source : (c.profile || "default") }),
          h("td", null, badge(c.status)),
          h("td", { text: fmtTime(c.not_after) }));
        tr.addEventListener("click", (e) => { if (e.target !== link) link.click(); });
        return tr;
      });
      const pager = h("div", { class: "pager" },
        h("button", { type: "button", class: "secondary", text: "Previous", disabled: cursors.length === 0,
          onclick: () => { cursors.pop(); load(cursors[cursors.length - 1]); } }),
        h("button", { type: "button", class: "secondary", text: "Next", id: "next-page", disabled: !data.next_cursor,
          onclick: () => { cursors.push(data.next_cursor); load(data.next_cursor); } }),
        h("span", { class: "muted", text: items.length + " shown" + (cursors.length ? ", page " + (cursors.length + 1) : "") }));
      out.replaceChildren(items.length === 0
        ? h("p", { class: "notice", text: "No certificate matches." })
        : h("div", { class: "tablewrap" }, h("table", { id: "inventory-table" },
          h("caption", { class: "muted", text: "Select a row for details" }), h("thead", null, head), h("tbody", null, rows))),
        pager);
    }

    async function load(cursor) {
      try {
        const data = await api("GET", "/certificates" + qs(Object.assign({}, filter, { cursor })));
        render(data);
      } catch (x) {
        out.replaceChildren(errorBox(x));
      }
    }
    load(undefined);
    profilesList();
  }

  /* A datalist of the profiles the statistics know, for the inputs that
   * name one. */
  async function profilesList() {
    if (document.getElementById("profiles")) return;
    try {
      const st = await api("GET", "/stats");
      const dl = h("datalist", { id: "profiles" }, st.by_profile.filter((g) => g.source === "scep")
        .map((g) => h("option", { value: g.profile === "" ? "default" : g.profile })));
      main.append(dl);
    } catch (_x) {
      /* The list is a convenience: without it the input still works. */
    }
  }

  async function viewCert(serial) {
    page("Certificate " + serial, h("p", { class: "muted", text: "Loading…" }));
    let c;
    try {
      c = await api("GET", "/certificates/" + encodeURIComponent(serial));
    } catch (x) {
      page("Certificate " + serial, errorBox(x), h("a", { href: "#/inventory", text: "Back to the inventory" }));
      return;
    }
    const kv = (k, v) => [h("dt", { text: k }), h("dd", null, v)];
    const details = h("dl", { class: "kv", id: "cert-details" },
      kv("Status", h("span", { id: "cert-status" }, badge(c.status))),
      kv("Subject", c.subject || "—"),
      kv("SANs", (c.sans || []).join(", ") || "—"),
      kv("Serial", h("span", { class: "mono", text: c.serial })),
      kv("Profile", c.profile || "default"),
      kv("Source", c.source || "scep"),
      kv("Not before", fmtTime(c.not_before)),
      kv("Not after", fmtTime(c.not_after)),
      kv("Issued", fmtTime(c.issued_at)),
      c.revoked_at ? kv("Revoked", fmtTime(c.revoked_at) + (c.revocation_reason ? " (" + c.revocation_reason + ")" : "")) : null,
      kv("Transaction", h("span", { class: "mono", text: c.transaction_id || "—" })),
      kv("Requester", c.requester || "—"),
      c.renewed_serial ? kv("Renews", h("a", { href: "#/cert/" + encodeURIComponent(c.renewed_serial), text: c.renewed_serial })) : null,
      kv("Public key SHA-256", h("span", { class: "mono", text: c.pubkey_fingerprint || "—" })));
    const pemUrl = c.pem ? URL.createObjectURL(new Blob([c.pem], { type: "application/x-pem-file" })) : null;
    const actions = h("div", { class: "actions" },
      pemUrl ? h("a", { href: pemUrl, download: c.serial + ".pem", id: "download-pem", class: "button", text: "Download PEM" }) : null,
      c.chain && c.chain.length ? h("a", {
        href: URL.createObjectURL(new Blob([c.pem + c.chain.join("")], { type: "application/x-pem-file" })),
        download: c.serial + "-fullchain.pem", text: "Download with chain" }) : null);
    let revoke = null;
    const revocable = c.status !== "revoked" && (c.source || "scep") === "scep";
    if (revocable) {
      const reason = select(REASONS, "unspecified");
      const err = h("div");
      revoke = h("form", { class: "card", id: "revoke-form" },
        h("h2", { text: "Revoke" }),
        field("revoke-reason", "Reason (RFC 5280 CRLReason)", reason), err,
        h("button", { type: "submit", class: "danger", id: "revoke", text: "Revoke…" }));
      revoke.addEventListener("submit", async (e) => {
        e.preventDefault();
        const label = reason.options[reason.selectedIndex].text;
        if (!(await confirmAction("Revoke certificate", "Revoke " + (c.subject || c.serial) + " with reason “" +
          label + "”? This cannot be undone (except a certificate hold).", "Revoke"))) return;
        try {
          await api("POST", "/certificates/" + encodeURIComponent(c.serial) + "/revoke", { reason: reason.value });
          toast("Revoked " + c.serial);
          viewCert(c.serial);
        } catch (x) {
          err.replaceChildren(errorBox(x));
        }
      });
    }
    const events = h("div", { class: "tablewrap" }, h("table", { id: "cert-events" },
      h("thead", null, h("tr", null, ["Time", "Event", "Actor", "Detail"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", null, (c.events || []).map((ev) => h("tr", null,
        h("td", { text: fmtTime(ev.time) }), h("td", null, badge(ev.kind)),
        h("td", { text: ev.actor || "" }), h("td", { class: "mono", text: ev.detail || "" }))))));
    page("Certificate " + (c.subject || c.serial),
      h("p", null, h("a", { href: "#/inventory", text: "← Inventory" })),
      h("div", { class: "card" }, details, actions),
      revoke,
      h("h2", { text: "History" }), events,
      h("h2", { text: "PEM" }), h("pre", { class: "pem", id: "cert-pem", text: c.pem || "" }),
      c.chain && c.chain.length ? [h("h2", { text: "Chain (issuing CA)" }),
        c.chain.map((p) => h("pre", { class: "pem", text: p }))] : null);
  }

  /* An SVG bar chart of counts, one bar per bucket; labels every
   * labelEvery buckets.  Bars of the first warnBuckets are drawn red. */
  function barChart(buckets, label, labelEvery, warnBuckets, title) {
    const W = 720, H = 220, padL = 34, padB = 34, padT = 10;
    const max = Math.max(1, ...buckets.map((b) => b.count));
    const bw = (W - padL - 6) / buckets.length;
    const svg = s("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title });
    svg.append(s("title", null, title));
    svg.append(s("line", { class: "axis", x1: padL, y1: H - padB, x2: W, y2: H - padB }));
    for (const t of [0, Math.ceil(max / 2), max]) {
      const y = H - padB - (t / max) * (H - padB - padT);
      svg.append(s("text", { x: padL - 4, y: y + 3, "text-anchor": "end" }, String(t)));
      svg.append(s("line", { class: "axis", x1: padL, y1: y, x2: W, y2: y }));
    }
    buckets.forEach((b, i) => {
      const bh = (b.count / max) * (H - padB - padT);
      const rect = s("rect", { class: "bar" + (i < warnBuckets ? " soon" : ""), x: padL + i * bw + 1,
        y: H - padB - bh, width: Math.max(1, bw - 2), height: bh });
      rect.append(s("title", null, label(b) + ": " + b.count));
      svg.append(rect);
      if (i % labelEvery === 0) {
        svg.append(s("text", { x: padL + i * bw + bw / 2, y: H - padB + 14, "text-anchor": "middle" },
          b.start.slice(5, 10)));
      }
    });
    return svg;
  }

  async function viewExpiring() {
    page("Expiring soon", h("p", { class: "muted", text: "Loading…" }));
    try {
      const [st, soon] = await Promise.all([api("GET", "/stats"),
        api("GET", "/certificates" + qs({ expiring: "30d", limit: 100 }))]);
      const total = st.expiring_per_week.reduce((a, b) => a + b.count, 0);
      const counts = st.by_status;
      const sum = h("div", { class: "grid" },
        ["valid", "superseded", "expired", "revoked"].map((k) =>
          h("div", { class: "card" }, h("div", { class: "muted", text: k }), h("div", { class: "stat", text: counts[k] }))));
      const byProfile = h("div", { class: "tablewrap" }, h("table", { id: "by-profile" },
        h("thead", null, h("tr", null, ["Source", "Profile", "Valid", "Superseded", "Expired", "Revoked"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", null, st.by_profile.map((g) => h("tr", null, h("td", { text: g.source }),
          h("td", { text: g.profile || "default" }), h("td", { text: g.valid }), h("td", { text: g.superseded }),
          h("td", { text: g.expired }), h("td", { text: g.revoked }))))));
      const list = soon.items.filter((c) => c.status === "valid");
      page("Expiring soon",
        h("div", { class: "card" },
          h("h2", { text: "Certificates expiring per week, next 52 weeks (" + total + ")" }),
          h("div", { id: "expiry-chart" }, barChart(st.expiring_per_week, (b) => "week of " + b.start.slice(0, 10), 4, 4,
            "Certificates expiring per week"))),
        h("h2", { text: "Within 30 days" }),
        list.length === 0 ? h("p", { class: "notice", text: "Nothing expires within 30 days." })
          : h("div", { class: "tablewrap" }, h("table", { id: "expiring-table" },
            h("thead", null, h("tr", null, ["Subject", "Serial", "Expires", "Days"].map((t) => h("th", { scope: "col", text: t })))),
            h("tbody", null, list.map((c) => h("tr", null,
              h("td", null, h("a", { href: "#/cert/" + encodeURIComponent(c.serial), text: c.subject || c.serial })),
              h("td", { class: "mono", text: c.serial }), h("td", { text: fmtTime(c.not_after) }),
              h("td", { text: daysUntil(c.not_after) })))))),
        h("h2", { text: "Issued per day, last 30 days" }),
        h("div", { class: "card" }, barChart(st.issued_per_day, (b) => b.start.slice(0, 10), 5, 0, "Certificates issued per day")),
        h("h2", { text: "By state" }), sum,
        h("h2", { text: "By profile" }), byProfile);
    } catch (x) {
      page("Expiring soon", errorBox(x));
    }
  }

  async function viewApprovals() {
    page("Pending approvals", h("p", { class: "muted", text: "Loading…" }));
    let data;
    try {
      data = await api("GET", "/requests" + qs({ status: "pending" }));
    } catch (x) {
      page("Pending approvals", errorBox(x));
      return;
    }
    const err = h("div");
    const decide = async (r, approve) => {
      const reason = h("input", { type: "text", maxlength: 512 });
      const extra = approve ? null : field("reject-reason", "Reason (optional, one line)", reason);
      const ok = await confirmAction(approve ? "Approve request" : "Reject request",
        (approve ? "Approve" : "Reject") + " the request of " + (r.subject || "?") + " (id " + r.id + ")?" +
        (approve ? " The client gets its certificate at its next poll." : ""), approve ? "Approve" : "Reject", extra);
      if (!ok) return;
      try {
        await api("POST", "/requests/" + r.id + "/" + (approve ? "approve" : "reject"),
          approve || !reason.value.trim() ? {} : { reason: reason.value.trim() });
        toast((approve ? "Approved" : "Rejected") + " request " + r.id);
        viewApprovals();
      } catch (x) {
        err.replaceChildren(errorBox(x));
      }
    };
    const rows = data.items.map((r) => h("tr", { "data-id": r.id },
      h("td", { text: r.id }), h("td", { class: "subject", text: r.subject || "" }),
      h("td", { class: "opt", text: (r.sans || []).join(", ") }),
      h("td", { class: "opt", text: r.requester || "" }), h("td", { text: fmtTime(r.created_at) }),
      h("td", null, h("div", { class: "actions" },
        h("button", { type: "button", class: "approve", text: "Approve", "aria-label": "Approve request " + r.id, onclick: () => decide(r, true) }),
        h("button", { type: "button", class: "danger reject", text: "Reject", "aria-label": "Reject request " + r.id, onclick: () => decide(r, false) })))));
    page("Pending approvals", err,
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "refresh", text: "Refresh", onclick: viewApprovals })),
      rows.length === 0 ? h("p", { class: "notice", id: "no-pending", text: "No request is waiting for approval." })
        : h("div", { class: "tablewrap" }, h("table", { id: "requests-table" },
          h("thead", null, h("tr", null, [["Id", ""], ["Subject", ""], ["SANs", "opt"], ["Requester", "opt"], ["Received", ""], ["Decision", ""]]
            .map(([t, c]) => h("th", { scope: "col", class: c || null, text: t })))),
          h("tbody", null, rows))));
  }

  async function viewChallenges() {
    const profile = h("input", { type: "text", placeholder: "default", list: "profiles" });
    const subject = h("input", { type: "text", placeholder: "CN=device-42,O=Example (optional)" });
    const sans = h("input", { type: "text", placeholder: "DNS:device-42.example, IP:192.0.2.7 (optional)" });
    const ttl = select([["3600", "1 hour"], ["86400", "24 hours"], ["604800", "7 days"], ["2592000", "30 days"]], "86400");
    const uses = h("input", { type: "number", min: 1, max: 1000, value: 1 });
    const err = h("div");
    const shown = h("div", { id: "challenge-result" });
    const form = h("form", { class: "card", id: "challenge-form" },
      h("p", { class: "muted", text: "A one-time challenge admits an enrollment on its profile; it is shown once, here, and the server keeps only its hash." }),
      h("div", { class: "filters" },
        h("div", null, field("c-profile", "Profile", profile)),
        h("div", null, field("c-ttl", "Valid for", ttl)),
        h("div", null, field("c-uses", "Uses", uses))),
      field("c-subject", "Bind to subject", subject),
      field("c-sans", "Bind to SANs (comma-separated TYPE:VALUE)", sans),
      err,
      h("button", { type: "submit", id: "mint", text: "Mint challenge" }));
    const list = h("div", { id: "challenge-list" });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.replaceChildren();
      const body = { ttl: Number(ttl.value), uses: Number(uses.value) || 1 };
      const p = profile.value.trim();
      if (p && p !== "default") body.profile = p;
      if (subject.value.trim()) body.subject = subject.value.trim();
      if (sans.value.trim()) body.sans = sans.value.split(",").map((x) => x.trim()).filter(Boolean);
      try {
        const c = await api("POST", "/challenges", body);
        const code = h("div", { class: "secret", id: "challenge-value", text: c.challenge });
        const copy = h("button", { type: "button", id: "copy-challenge", class: "secondary", text: "Copy" });
        copy.addEventListener("click", async () => {
          try {
            await navigator.clipboard.writeText(c.challenge);
            toast("Challenge copied");
          } catch (_x) {
            /* No clipboard permission: select it for Ctrl+C. */
            const r = document.createRange();
            r.selectNodeContents(code);
            getSelection().removeAllRanges();
            getSelection().addRange(r);
            toast("Press Ctrl+C to copy the selected challenge");
          }
        });
        shown.replaceChildren(h("div", { class: "card" },
          h("h2", { text: "Challenge " + c.id + " for profile " + (c.profile || "default") }),
          h("p", { class: "notice", text: "Copy it now: it is not shown again. Valid until " + fmtTime(c.expires_at) +
            ", " + c.max_uses + " use(s)." }), code, h("div", { class: "actions" }, copy)));
        copy.focus();
        loadList();
      } catch (x) {
        err.replaceChildren(errorBox(x));
      }
    });
    async function loadList() {
      try {
        const data = await api("GET", "/challenges");
        list.replaceChildren(data.items.length === 0 ? h("p", { class: "muted", text: "No usable challenge." })
          : h("div", { class: "tablewrap" }, h("table", null,
            h("thead", null, h("tr", null, ["Id", "Profile", "State", "Uses", "Expires", "Bound to", ""].map((t) => h("th", { scope: "col", text: t })))),
            h("tbody", null, data.items.map((c) => h("tr", null,
              h("td", { text: c.id }), h("td", { text: c.profile || "default" }), h("td", null, badge(c.state)),
              h("td", { text: c.uses + "/" + c.max_uses }), h("td", { text: fmtTime(c.expires_at) }),
              h("td", { text: [c.subject, (c.sans || []).join(", ")].filter(Boolean).join("; ") || "—" }),
              h("td", null, h("button", { type: "button", class: "secondary", text: "Revoke", "aria-label": "Revoke challenge " + c.id,
                onclick: async () => {
                  if (!(await confirmAction("Revoke challenge", "Revoke challenge " + c.id + "? It admits nothing from now on.", "Revoke"))) return;
                  try {
                    await api("DELETE", "/challenges/" + c.id);
                    toast("Revoked challenge " + c.id);
                    loadList();
                  } catch (x) {
                    err.replaceChildren(errorBox(x));
                  }
                } }))))))));
      } catch (x) {
        list.replaceChildren(errorBox(x));
      }
    }
    page("One-time challenges", form, shown, h("h2", { text: "Usable challenges" }), list);
    loadList();
    profilesList();
  }

  async function viewAudit(_arg, q) {
    const after = Number(q.get("after") || 0);
    page("Audit log", h("p", { class: "muted", text: "Loading…" }));
    try {
      const [v, data] = await Promise.all([api("GET", "/audit/verify"), api("GET", "/audit" + qs({ after, limit: 50 }))]);
      const state = v.intact ? h("p", { id: "chain-state" }, badge("intact"), " The hash chain verifies: no event was changed or removed.")
        : h("p", { id: "chain-state", class: "error" }, badge("broken"), " The hash chain breaks at event " + v.first_bad_id + ".");
      page("Audit log", h("div", { class: "card" }, h("h2", { text: "Chain verification" }), state),
        h("div", { class: "tablewrap" }, h("table", { id: "audit-table" },
          h("thead", null, h("tr", null, [["Id", ""], ["Time", ""], ["Event", ""], ["Actor", ""], ["Serial", "opt"], ["Detail", "opt"]]
            .map(([t, c]) => h("th", { scope: "col", class: c || null, text: t })))),
          h("tbody", null, data.items.map((ev) => h("tr", null,
            h("td", { text: ev.id }), h("td", { text: fmtTime(ev.time) }), h("td", null, badge(ev.kind)),
            h("td", { text: ev.actor || "" }),
            h("td", { class: "opt mono" }, ev.serial ? h("a", { href: "#/cert/" + encodeURIComponent(ev.serial), text: ev.serial }) : ""),
            h("td", { class: "opt mono", text: ev.detail || "" })))))),
        h("div", { class: "pager" },
          after > 0 ? h("a", { href: "#/audit", text: "First page" }) : null,
          data.more ? h("a", { href: "#/audit?after=" + data.next_after, id: "audit-next", text: "Next page" }) : null));
    } catch (x) {
      page("Audit log", errorBox(x));
    }
  }

  async function viewHealth() {
    page("CA health", h("p", { class: "muted", text: "Loading…" }));
    try {
      const cas = await api("GET", "/cas");
      /* /healthz needs no token and says whether the store answers. */
      let store = "bad";
      try {
        const r = await fetch("/healthz", { cache: "no-store", credentials: "omit" });
        if (r.ok) store = "ok";
      } catch (_x) {
        /* unreachable: stays "bad" */
      }
      const crlBadge = (next) => badge(!next ? "warn" : Date.parse(next) > Date.now() ? "ok" : "expired");
      const caCard = (title, ca, extra) => {
        const d = daysUntil(ca.not_after);
        const word = d < 0 ? "expired" : d < 30 ? "warn" : "ok";
        return h("div", { class: "card" }, h("h2", { text: title }),
          h("dl", { class: "kv" },
            h("dt", { text: "State" }), h("dd", null, badge(word), " " + (d < 0 ? "expired" : d + " days left")),
            h("dt", { text: "Subject" }), h("dd", { text: ca.subject || "" }),
            h("dt", { text: "Valid" }), h("dd", { text: fmtTime(ca.not_before) + " – " + fmtTime(ca.not_after) }),
            h("dt", { text: "Key id" }), h("dd", { class: "mono", text: ca.key_id }),
            h("dt", { text: "SHA-256" }), h("dd", { class: "mono", text: ca.fingerprint }),
            h("dt", { text: "CRL next update" }), h("dd", { text: fmtTime(ca.crl_next_update) }),
            extra));
      };
      page("CA health",
        h("div", { class: "grid" },
          h("div", { class: "card", id: "store-health" }, h("div", { class: "muted", text: "Certificate store" }), badge(store)),
          h("div", { class: "card", id: "crl-health" }, h("div", { class: "muted", text: "CRL of the current CA" }),
            crlBadge(cas.current.crl_next_update),
            h("p", null, cas.current.crl_next_update ? "Next update " + fmtTime(cas.current.crl_next_update) + "."
              : "Not published yet (the publisher runs every minute).",
            " Valid " + cas.crl.validity_hours + " h; certificates point at ",
            cas.crl.url ? h("span", { class: "mono", text: cas.crl.url }) : "no CRL URL (set public_url or crl_url)", ".")),
          h("div", { class: "card", id: "ocsp-health" }, h("div", { class: "muted", text: "OCSP" }),
            badge(cas.ocsp.url ? "ok" : "warn"),
            h("p", null, cas.ocsp.url ? ["Certificates point at ", h("span", { class: "mono", text: cas.ocsp.url }), ". "]
              : "Certificates name no OCSP responder (set public_url or ocsp_url). ",
            "Answers at /ocsp are valid " + cas.ocsp.validity_minutes + " min and come from the store, so a revocation shows at once."))),
        h("div", { id: "ca-current" }, caCard("Current CA", cas.current)),
        cas.next ? caCard("Next CA (rollover)", cas.next, [h("dt", { text: "Activates" }), h("dd", { text: fmtTime(cas.next.activate_at) })])
          : h("p", { class: "muted", text: "No rollover is prepared." }),
        h("h2", { text: "Archived CAs (" + cas.archived.length + ")" }),
        cas.archived.map((ca, i) => caCard("Archived " + (i + 1), ca)));
    } catch (x) {
      page("CA health", errorBox(x));
    }
  }

  /* ---- routing ---- */

  const views = {
    signin: viewSignin, inventory: viewInventory, cert: viewCert, expiring: viewExpiring,
    approvals: viewApprovals, challenges: viewChallenges, audit: viewAudit, health: viewHealth,
  };

  async function route() {
    const hash = location.hash.replace(/^#\/?/, "");
    const qpos = hash.indexOf("?");
    const path = qpos < 0 ? hash : hash.slice(0, qpos);
    const q = new URLSearchParams(qpos < 0 ? "" : hash.slice(qpos + 1));
    const [name, ...rest] = path.split("/");
    const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
    if (!token()) {
      viewSignin(null, q, name && name !== "signin" ? "Sign in to continue." : null);
      return;
    }
    if (!me) {
      try {
        me = await api("GET", "/me");
      } catch (_x) {
        return; /* a 401 has sent us to sign-in */
      }
    }
    const top = document.getElementById("top");
    top.hidden = false;
    document.getElementById("who").textContent = me.name + " (" + me.role + ")";
    const view = views[name] && name !== "signin" ? name : "inventory";
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.view === (view === "cert" ? "inventory" : view)) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    views[view](arg, q);
  }

  document.getElementById("signout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    location.hash = "#/signin";
  });
  window.addEventListener("hashchange", route);
  route();
})();
