// PortaCare NOC dashboard: signs in with a NOC token and shows the JSON API on one screen.
//
// Rules this file keeps:
// - the token lives in sessionStorage and travels only in the Authorization header;
// - every text that came from the API is set with textContent (never innerHTML);
// - the forms are static HTML, so a refresh never wipes what someone is typing.
"use strict";

(function () {
  const TOKEN_KEY = "portacare.noc-token";
  const REFRESH_MS = 20000;
  const SEVERITY = { CRITICAL: 3, WARNING: 2, UNKNOWN: 1, OK: 0 };
  const ROLE_SHORT = {
    technical_support_manager: ["TSM", "Technical Support Manager"],
    customer_relations_manager: ["CRM", "Customer Relations Manager"],
    cto: ["CTO", "CTO"],
  };
  // which buttons a ticket's state allows (the API answers 409 to the rest)
  const ALLOWED = {
    open: ["respond", "resolve", "priority"],
    responded: ["update", "resolve", "priority"],
    resolved: ["close", "reopen"],
    closed: [],
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    token: null,
    tickets: [],
    hosts: [],
    silences: [],
    selected: null, // ticket number shown in the detail
    detail: null,
    expanded: new Set(), // hosts whose checks are shown
    checks: new Map(), // host -> its checks
    skewMs: 0, // server clock minus this browser's clock
    timer: null,
    refreshing: null,
  };

  // ---- small DOM helpers: text always goes in as text ----

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Swap a table body's rows; a keyboard user's focus stays on the same button across refreshes.
  function replaceRows(id, rows) {
    const box = $(id);
    const focused = document.activeElement;
    const key = focused && box.contains(focused) ? focused.dataset.key : null;
    box.replaceChildren(...rows);
    const again = key ? box.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
    if (again) again.focus({ preventScroll: true });
  }

  function setText(id, text) {
    $(id).textContent = text == null ? "" : String(text);
  }

  function serverNow() {
    return Date.now() + state.skewMs;
  }

  // ---- times ----

  const dayTime = new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
  const clockTime = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });

  function timeEl(iso, text) {
    if (!iso) return el("span", { className: "muted" }, text || "—");
    const when = new Date(iso);
    const shown = text || (isNaN(when) ? String(iso) : dayTime.format(when));
    return el("time", { datetime: iso, title: iso }, shown);
  }

  function span(ms) {
    const minutes = Math.floor(Math.abs(ms) / 60000);
    const seconds = Math.floor((Math.abs(ms) % 60000) / 1000);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    if (days > 0) return `${days}d ${hours}h`;
    if (hours > 0) return `${hours}h ${String(mins).padStart(2, "0")}m`;
    return `${mins}m ${String(seconds).padStart(2, "0")}s`;
  }

  function countdownText(dueIso) {
    const left = new Date(dueIso).getTime() - serverNow();
    return left < 0 ? `overdue by ${span(left)}` : `in ${span(left)}`;
  }

  function ago(iso) {
    if (!iso) return "never";
    const past = serverNow() - new Date(iso).getTime();
    return past < 60000 ? "just now" : `${span(past)} ago`;
  }

  // A live countdown: the 1-second tick rewrites every [data-due] element.
  function countdownEl(dueIso) {
    const node = el("span", { className: "countdown", dataset: { due: dueIso } });
    paintCountdown(node);
    return node;
  }

  function paintCountdown(node) {
    const overdue = new Date(node.dataset.due).getTime() < serverNow();
    node.textContent = countdownText(node.dataset.due);
    node.classList.toggle("overdue", overdue);
  }

  function tick() {
    document.querySelectorAll("[data-due]").forEach(paintCountdown);
  }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function describe(body, fallback) {
    const detail = body && typeof body === "object" ? body.detail : body;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((e) => {
          const where = e.field || (Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : "");
          const what = e.message || e.msg || "invalid";
          return where ? `${where}: ${what}` : what;
        })
        .join("; ");
    }
    return fallback;
  }

  async function api(method, path, body) {
    return (await call(method, path, body)).data;
  }

  // every page of a paged list (the collector's Link: <...>; rel="next" header)
  async function apiAll(path) {
    const rows = [];
    for (let next = path; next; ) {
      const { data, response } = await call("GET", next);
      rows.push(...data);
      const link = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("Link") || "");
      next = link ? link[1] : null;
    }
    return rows;
  }

  async function call(method, path, body) {
    if (!state.token) throw new ApiError(401, "not signed in");
    const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch (err) {
      throw new ApiError(0, `cannot reach the collector (${err.message})`);
    }
    const serverDate = Date.parse(response.headers.get("Date") || "");
    if (!isNaN(serverDate)) state.skewMs = serverDate - Date.now();
    const raw = await response.text();
    let data = null;
    try {
      data = raw ? JSON.parse(raw) : null;
    } catch (_) {
      data = raw;
    }
    if (response.status === 401 || response.status === 403) {
      const message = describe(data, `the collector refused the token (${response.status})`);
      const signingIn = $("board").hidden;
      signOut(`${signingIn ? "Sign-in refused" : "Signed out"}: ${message} (${response.status}).`);
      throw new ApiError(response.status, message);
    }
    if (!response.ok) {
      throw new ApiError(response.status, describe(data, `${response.status} ${response.statusText}`));
    }
    return { data, response };
  }

  const enc = encodeURIComponent;

  // ---- sign-in ----

  function showSignIn(message) {
    $("board").hidden = true;
    $("session-bar").hidden = true;
    $("global-status").hidden = true;
    $("sign-in").hidden = false;
    setText("sign-in-error", message || "");
    $("token").value = "";
    $("token").focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    clearTimeout(state.timer);
    state.timer = null;
    // nothing seen under the old token stays on screen for the next person
    Object.assign(state, { tickets: [], hosts: [], silences: [], selected: null, detail: null });
    state.expanded.clear();
    state.checks.clear();
    ["ticket-rows", "host-rows", "silence-rows", "timeline", "detail-facts", "detail-escalations"].forEach(
      (id) => $(id).replaceChildren()
    );
    showDetail(null);
    showSignIn(message);
  }

  async function signIn(event) {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) {
      setText("sign-in-error", "Enter your NOC token.");
      $("token").focus();
      return;
    }
    state.token = token;
    setText("sign-in-error", "Checking the token…");
    try {
      await api("GET", "/api/v1/tickets?state=open");
    } catch (err) {
      if (err.status !== 401 && err.status !== 403) {
        state.token = null;
        setText("sign-in-error", `Could not sign in: ${err.message}`);
      }
      return; // a refused token was already sent back here with the collector's reason
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    enterBoard();
  }

  function enterBoard() {
    $("token").value = "";
    setText("sign-in-error", "");
    $("sign-in").hidden = true;
    $("board").hidden = false;
    $("session-bar").hidden = false;
    refresh();
  }

  // ---- refresh ----

  function scheduleRefresh() {
    clearTimeout(state.timer);
    state.timer = $("auto-refresh").checked && state.token ? setTimeout(refresh, REFRESH_MS) : null;
  }

  function refresh() {
    if (!state.token) return Promise.resolve();
    if (state.refreshing) return state.refreshing;
    state.refreshing = (async () => {
      try {
        const [tickets, hosts, silences] = await Promise.all([
          api("GET", "/api/v1/tickets?limit=500"),
          apiAll("/api/v1/hosts?limit=5000"),
          api("GET", "/api/v1/silences"),
        ]);
        Object.assign(state, { tickets, hosts, silences });
        await Promise.all([...state.expanded].map(loadChecks));
        if (state.selected !== null) await loadDetail(state.selected);
        renderTickets();
        renderHosts();
        renderSilences();
        setText("refreshed", `Updated ${clockTime.format(new Date())}`);
        banner("");
      } catch (err) {
        if (state.token) banner(`Refresh failed: ${err.message}. Showing the last data received.`);
      } finally {
        state.refreshing = null;
        scheduleRefresh();
      }
    })();
    return state.refreshing;
  }

  function banner(message) {
    setText("global-status", message);
    $("global-status").hidden = !message;
  }

  // ---- ticket queue ----

  function deadlineOf(ticket) {
    if (ticket.state === "open") return { label: "First response", due: ticket.first_response_due };
    if (ticket.state === "responded" && ticket.next_update_due) {
      return { label: "Next update", due: ticket.next_update_due };
    }
    return null;
  }

  function byUrgency(a, b) {
    const da = deadlineOf(a);
    const db = deadlineOf(b);
    if (da && db) {
      const diff = Date.parse(da.due) - Date.parse(db.due);
      if (diff) return diff;
    } else if (da || db) {
      return da ? -1 : 1; // tickets with a deadline before those without
    } else {
      const diff = Date.parse(b.resolved_at || b.opened_at) - Date.parse(a.resolved_at || a.opened_at);
      if (diff) return diff;
    }
    return a.priority - b.priority || a.number - b.number;
  }

  function shownTickets() {
    const filter = $("queue-filter").value;
    const keep =
      filter === "all"
        ? () => true
        : filter === "active"
          ? (t) => t.state === "open" || t.state === "responded"
          : (t) => t.state === filter;
    return state.tickets.filter(keep).sort(byUrgency);
  }

  function priorityEl(ticket) {
    return el(
      "span",
      { className: `prio p${ticket.priority}`, title: `RT priority code ${ticket.rt_priority}` },
      `P${ticket.priority}`,
      el("span", { className: "rt" }, ` RT ${ticket.rt_priority}`)
    );
  }

  function statusEl(status, extra) {
    return el("span", { className: `status s-${String(status).toLowerCase()}` }, status, extra ? ` ${extra}` : "");
  }

  function stateEl(ticket) {
    return el("span", { className: `state st-${ticket.state}` }, ticket.state);
  }

  function escalationsEl(ticket) {
    if (!ticket.escalations.length) return el("span", { className: "muted" }, "none");
    return el(
      "ul",
      { className: "escalations" },
      ticket.escalations.map((e) => {
        const [short, long] = ROLE_SHORT[e.role] || [e.role, e.role];
        return e.notified_at
          ? el("li", { className: "notified", title: `${long} notified at ${e.notified_at}` }, `✓ ${short} notified`)
          : el("li", { className: "pending", title: `${long} due at ${e.due_at}` }, `${short} `, countdownEl(e.due_at));
      })
    );
  }

  function deadlineCell(ticket) {
    const deadline = deadlineOf(ticket);
    if (deadline) {
      return el("td", { className: "deadline" }, el("span", { className: "label" }, deadline.label), countdownEl(deadline.due));
    }
    const label = ticket.state === "closed" ? "Closed" : "Resolved";
    return el("td", { className: "deadline" }, el("span", { className: "label" }, label), timeEl(ticket.resolved_at));
  }

  function renderTickets() {
    const tickets = shownTickets();
    const rows = tickets.map((t) => {
      const open = () => selectTicket(t.number);
      const row = el(
        "tr",
        {
          className: [t.number === state.selected ? "selected" : "", `row-p${t.priority}`].join(" "),
          dataset: { ticket: t.number },
        },
        deadlineCell(t),
        el("td", {}, priorityEl(t)),
        el(
          "td",
          { className: "ticket" },
          el(
            "button",
            { type: "button", className: "link", "aria-label": `Open ticket ${t.number}`, dataset: { key: `t:${t.number}` }, onclick: open },
            `#${t.number}`
          ),
          el("span", { className: "summary-line", title: t.summary }, t.summary)
        ),
        el(
          "td",
          { className: "where" },
          el("span", { className: "host" }, t.host),
          t.customer ? el("span", { className: "customer" }, t.customer) : null,
          el(
            "span",
            { className: "check-line" },
            el("span", { className: "check-name" }, t.check),
            " ",
            statusEl(t.check_status),
            t.flapping ? el("span", { className: "flapping", title: "The check keeps changing state" }, "flapping") : null
          )
        ),
        el("td", {}, stateEl(t)),
        el("td", {}, escalationsEl(t))
      );
      row.addEventListener("click", (event) => {
        if (!event.target.closest("button")) open();
      });
      return row;
    });
    replaceRows("ticket-rows", rows);
    $("queue-empty").hidden = rows.length > 0;
    const overdue = tickets.filter((t) => deadlineOf(t) && Date.parse(deadlineOf(t).due) < serverNow()).length;
    setText("queue-count", `${tickets.length}${overdue ? `, ${overdue} overdue` : ""}`);
  }

  // ---- ticket detail ----

  async function selectTicket(number) {
    state.selected = number;
    setText("action-error", "");
    setText("action-done", "");
    try {
      await loadDetail(number);
    } catch (err) {
      setText("action-error", err.message);
    }
    renderTickets();
    $("detail").scrollIntoView({ block: "nearest" });
    $("action-message").focus({ preventScroll: true });
  }

  async function loadDetail(number) {
    try {
      state.detail = await api("GET", `/api/v1/tickets/${enc(number)}`);
    } catch (err) {
      if (err.status === 404) {
        state.selected = null;
        state.detail = null;
        showDetail(null);
      }
      throw err;
    }
    renderDetail();
  }

  function showDetail(ticket) {
    $("detail-body").hidden = !ticket;
    $("detail-placeholder").hidden = !!ticket;
    if (!ticket) setText("detail-title", "Ticket");
  }

  function fact(term, ...value) {
    return [el("dt", {}, term), el("dd", {}, ...value)];
  }

  function renderDetail() {
    const t = state.detail;
    showDetail(t);
    if (!t) return;
    setText("detail-title", `Ticket #${t.number}: ${t.check} on ${t.host}`);
    setText("detail-summary", t.summary);
    const deadline = deadlineOf(t);
    $("detail-facts").replaceChildren(
      ...fact("Priority", priorityEl(t)),
      ...fact("State", stateEl(t), t.flapping ? el("span", { className: "flapping" }, "flapping") : null),
      ...fact("Check", t.check, " ", statusEl(t.check_status)),
      ...fact("Host", t.host, t.customer ? ` (${t.customer})` : ""),
      ...fact("Opened", timeEl(t.opened_at)),
      ...fact(
        "First response",
        t.first_response_at ? ["given ", timeEl(t.first_response_at)] : ["due ", timeEl(t.first_response_due)],
        t.state === "open" ? [" · ", countdownEl(t.first_response_due)] : null
      ),
      ...fact(
        "Next update",
        t.next_update_due ? ["due ", timeEl(t.next_update_due)] : el("span", { className: "muted" }, "—"),
        deadline && t.state === "responded" ? [" · ", countdownEl(t.next_update_due)] : null
      ),
      ...(t.resolved_at ? fact("Resolved", timeEl(t.resolved_at)) : [])
    );
    $("detail-escalations").replaceChildren(
      ...(t.escalations.length
        ? t.escalations.map((e) => {
            const [, long] = ROLE_SHORT[e.role] || [e.role, e.role];
            return e.notified_at
              ? el("li", { className: "notified" }, `✓ ${long} notified `, timeEl(e.notified_at))
              : el("li", { className: "pending" }, `${long} due `, timeEl(e.due_at), " · ", countdownEl(e.due_at));
          })
        : [el("li", { className: "muted" }, "No escalation planned.")])
    );
    const entries = [...t.timeline].reverse().map((e) =>
      el(
        "li",
        { className: `ev ev-${String(e.kind).replace(/[^a-z_]/gi, "")}` },
        el("div", { className: "ev-head" }, el("strong", { className: "ev-kind" }, String(e.kind).replace(/_/g, " ")), " · ", timeEl(e.at), " · ", el("span", { className: "ev-actor" }, e.actor)),
        e.message ? el("p", { className: "ev-message" }, e.message) : null
      )
    );
    $("timeline").replaceChildren(...entries);
    const allowed = ALLOWED[t.state] || [];
    document.querySelectorAll("#action-form [data-action]").forEach((button) => {
      button.disabled = !allowed.includes(button.dataset.action);
    });
    $("action-priority").disabled = !allowed.includes("priority");
    if (document.activeElement !== $("action-priority")) $("action-priority").value = String(t.priority);
  }

  async function act(action) {
    const t = state.detail;
    if (!t) return;
    const message = $("action-message").value.trim();
    setText("action-done", "");
    if (!message) {
      setText("action-error", "Write a message first: it is recorded in the timeline as the reason.");
      $("action-message").setAttribute("aria-invalid", "true");
      $("action-message").focus();
      return;
    }
    $("action-message").removeAttribute("aria-invalid");
    const body = { message };
    if (action === "priority") body.priority = Number($("action-priority").value);
    setText("action-error", "");
    const buttons = document.querySelectorAll("#action-form button");
    buttons.forEach((b) => b.setAttribute("aria-busy", "true"));
    try {
      state.detail = await api("POST", `/api/v1/tickets/${enc(t.number)}/${action}`, body);
      $("action-message").value = "";
      setText("action-done", `Done: ${action} recorded on ticket #${t.number}.`);
      renderDetail();
      refresh();
    } catch (err) {
      const prefix = err.status === 409 ? "Not possible now (409)" : `Failed (${err.status || "network"})`;
      setText("action-error", `${prefix}: ${err.message}`);
      if (err.status === 409) {
        // someone else acted first: show what the ticket is now
        loadDetail(t.number).catch(() => {});
        refresh();
      }
    } finally {
      buttons.forEach((b) => b.removeAttribute("aria-busy"));
    }
  }

  // ---- hosts ----

  function hostRank(h) {
    return (h.silent ? 10 : 0) + (SEVERITY[h.status] ?? 1);
  }

  async function loadChecks(host) {
    try {
      state.checks.set(host, await api("GET", `/api/v1/hosts/${enc(host)}/checks`));
    } catch (err) {
      if (err.status === 404) state.expanded.delete(host);
      else throw err;
    }
  }

  async function toggleHost(host) {
    if (state.expanded.has(host)) {
      state.expanded.delete(host);
    } else {
      state.expanded.add(host);
      try {
        await loadChecks(host);
      } catch (err) {
        banner(`Could not load the checks of ${host}: ${err.message}`);
      }
    }
    renderHosts();
    const button = document.querySelector(`#host-rows button[data-host="${CSS.escape(host)}"]`);
    if (button) button.focus();
  }

  function checksTable(host) {
    const checks = state.checks.get(host) || [];
    if (!checks.length) return el("p", { className: "muted" }, "No check has reported.");
    return el(
      "table",
      { className: "grid inner" },
      el("caption", { className: "sr-only" }, `Checks of ${host}`),
      el(
        "thead",
        {},
        el("tr", {}, ["Status", "Check", "Summary", "Since", "Last result"].map((h) => el("th", { scope: "col" }, h)))
      ),
      el(
        "tbody",
        {},
        checks
          .slice()
          .sort((a, b) => (SEVERITY[b.status] ?? 1) - (SEVERITY[a.status] ?? 1) || a.check.localeCompare(b.check))
          .map((c) =>
            el(
              "tr",
              { className: c.stale ? "stale" : "", dataset: { check: c.check } },
              el("td", {}, statusEl(c.status, c.stale ? "(stale)" : "")),
              el("td", {}, c.check),
              el("td", { className: "summary-cell" }, c.summary),
              el("td", {}, timeEl(c.since)),
              el("td", {}, timeEl(c.observed_at, ago(c.observed_at)))
            )
          )
      )
    );
  }

  function renderHosts() {
    const hosts = state.hosts.slice().sort((a, b) => hostRank(b) - hostRank(a) || a.host.localeCompare(b.host));
    const rows = [];
    for (const h of hosts) {
      const open = state.expanded.has(h.host);
      const panelId = `checks-${rows.length}`;
      rows.push(
        el(
          "tr",
          { className: h.silent ? "silent" : "", dataset: { host: h.host } },
          el(
            "td",
            {},
            h.last_seen ? statusEl(h.status) : el("span", { className: "muted" }, "no data"),
            h.silent ? el("span", { className: "badge-silent", title: "No results for 3 intervals" }, "SILENT") : null
          ),
          el("td", { className: "host" }, h.host),
          el("td", {}, h.customer || el("span", { className: "muted" }, "—")),
          el("td", {}, timeEl(h.last_seen, h.last_seen ? ago(h.last_seen) : "never")),
          el(
            "td",
            {},
            el(
              "button",
              {
                type: "button",
                className: "quiet",
                "aria-expanded": String(open),
                "aria-controls": panelId,
                dataset: { host: h.host, key: `h:${h.host}` },
                onclick: () => toggleHost(h.host),
              },
              open ? "Hide checks" : "Show checks"
            )
          )
        )
      );
      if (open) rows.push(el("tr", { className: "checks-row", id: panelId }, el("td", { colspan: 5 }, checksTable(h.host))));
    }
    replaceRows("host-rows", rows);
    $("hosts-empty").hidden = hosts.length > 0;
    const silent = hosts.filter((h) => h.silent).length;
    setText("hosts-count", `${hosts.length}${silent ? `, ${silent} silent` : ""}`);
  }

  // ---- silences ----

  function scopeText(s) {
    const parts = [];
    if (s.customer) parts.push(`customer ${s.customer}`);
    if (s.host) parts.push(`host ${s.host}`);
    if (s.check) parts.push(`check ${s.check}`);
    return parts.join(", ");
  }

  function renderSilences() {
    const rows = state.silences.map((s) =>
      el(
        "tr",
        { dataset: { silence: s.id } },
        el("td", {}, scopeText(s)),
        el("td", {}, timeEl(s.starts_at)),
        el("td", {}, timeEl(s.ends_at), " ", el("span", { className: "sub" }, "ends ", countdownEl(s.ends_at))),
        el("td", {}, s.reason, el("span", { className: "sub" }, `by ${s.created_by}`)),
        el(
          "td",
          {},
          el(
            "button",
            {
              type: "button",
              className: "quiet",
              "aria-label": `End silence of ${scopeText(s)} now`,
              dataset: { key: `s:${s.id}` },
              onclick: () => endSilence(s.id),
            },
            "End now"
          )
        )
      )
    );
    replaceRows("silence-rows", rows);
    $("silences-empty").hidden = rows.length > 0;
    setText("silences-count", String(rows.length));
  }

  async function addSilence(event) {
    event.preventDefault();
    const value = (id) => $(id).value.trim() || null;
    const body = {
      host: value("silence-host"),
      check: value("silence-check"),
      customer: value("silence-customer"),
      reason: value("silence-reason"),
      ends_at: new Date(serverNow() + Number($("silence-duration").value) * 60000).toISOString(),
    };
    if (!body.host && !body.check && !body.customer) {
      setText("silence-error", "Name a host, a check or a customer (or a host and a check).");
      $("silence-host").focus();
      return;
    }
    if (!body.reason) {
      setText("silence-error", "Give a reason: it is what the next shift reads.");
      $("silence-reason").focus();
      return;
    }
    setText("silence-error", "");
    try {
      await api("POST", "/api/v1/silences", body);
      ["silence-host", "silence-check", "silence-customer", "silence-reason"].forEach((id) => ($(id).value = ""));
      await refresh();
    } catch (err) {
      setText("silence-error", `Could not add the silence: ${err.message}`);
    }
  }

  async function endSilence(id) {
    try {
      await api("DELETE", `/api/v1/silences/${enc(id)}`);
      await refresh();
    } catch (err) {
      setText("silence-error", `Could not end silence ${id}: ${err.message}`);
    }
  }

  function silenceSelected() {
    const t = state.detail;
    if (!t) return;
    $("silence-host").value = t.host;
    $("silence-check").value = t.check;
    $("silence-customer").value = "";
    $("silence-reason").focus();
  }

  // ---- start ----

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    $("refresh-now").addEventListener("click", () => refresh());
    $("auto-refresh").addEventListener("change", scheduleRefresh);
    $("queue-filter").addEventListener("change", renderTickets);
    $("action-form").addEventListener("submit", (event) => event.preventDefault());
    document.querySelectorAll("#action-form [data-action]").forEach((button) => {
      button.addEventListener("click", () => act(button.dataset.action));
    });
    $("silence-this").addEventListener("click", silenceSelected);
    $("silence-form").addEventListener("submit", addSilence);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && state.token) refresh();
    });
    setInterval(tick, 1000);

    state.token = sessionStorage.getItem(TOKEN_KEY);
    if (state.token) enterBoard();
    else showSignIn("");
  });
})();
