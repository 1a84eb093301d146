// The MIM's workbench: the board of incidents and each incident's Learning Review, read and changed
// through reports' JSON API (/v1/...) with the token the user gave. Plain script, no build step, no
// dependency: every text from the API goes into the page as text (textContent), never as markup.
"use strict";

(function () {
  const TOKEN_KEY = "majorops.workbench.token";
  const MINUTE = 60 * 1000;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  // A deadline is "at risk" from 24 h before it: when reminders sends its heads-up.
  const AT_RISK_MS = 24 * HOUR;
  const PAGE_SIZE = 500;
  const MAX_PAGES = 20;
  const SETTLE_TIMEOUT_MS = 15000;
  const SETTLE_INTERVAL_MS = 250;

  const SEVERITIES = ["critical", "high", "medium", "low"];
  const REQUIREMENTS = ["mandatory", "recommended", "optional", "not_required"];
  const STATUSES = ["draft", "published"];
  const LEVEL_NOTIFIES = { 1: "MIM", 2: "service manager", 3: "engineering director" };
  const SECTION_TITLES = {
    root_cause: "Root cause",
    contributing_factors: "Contributing factors",
    went_well: "What went well",
    changes: "What we are changing",
    learning_statements: "Learning statements",
    action_items: "Action items",
    vendors: "Vendors",
    timeline: "Timeline",
  };

  // --- the page ------------------------------------------------------------------------------

  function $(selector) {
    return document.querySelector(selector);
  }

  /** An element with attributes (``text`` sets its text, ``on<event>`` a listener) and children. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttributes(el, attrs);
    append(el, children);
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttributes(el, attrs);
    append(el, children);
    return el;
  }

  function setAttributes(el, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") el.textContent = String(value);
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name === "className" ? "class" : name, value === true ? "" : String(value));
    }
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  /** Say something to everyone: shown at the top, read out by screen readers (aria-live). */
  function announce(message, isError) {
    const region = $("#status-message");
    region.classList.toggle("is-error", Boolean(isError));
    region.textContent = "";
    // A fresh text node each time, so that the same message twice is read out twice.
    window.setTimeout(() => (region.textContent = message), 30);
  }

  // --- the token -----------------------------------------------------------------------------

  function token() {
    return window.sessionStorage.getItem(TOKEN_KEY);
  }

  /** ``#token=<secret>`` in the address: keep it for this tab and take it out of the address bar. */
  function takeTokenFromFragment() {
    const match = /^#token=([^&]*)/.exec(window.location.hash);
    if (!match) return;
    const given = decodeURIComponent(match[1]).trim();
    if (given) window.sessionStorage.setItem(TOKEN_KEY, given);
    window.history.replaceState(null, "", window.location.pathname + window.location.search + "#/");
  }

  function showTokenPanel(reason) {
    $("#token-panel").hidden = false;
    $("#view").replaceChildren();
    $("#forget-token").hidden = true;
    $("#token-reason").textContent = reason || "";
    $("#token-input").focus();
  }

  function hideTokenPanel() {
    $("#token-panel").hidden = true;
    $("#forget-token").hidden = false;
  }

  // --- the API -------------------------------------------------------------------------------

  class Unauthenticated extends Error {}

  /** One API call: ``{status, ok, json, etag}``; a refused token shows the token form instead. */
  async function api(method, path, body, headers) {
    const init = {
      method,
      cache: "no-store",
      headers: { Accept: "application/json", Authorization: "Bearer " + token(), ...(headers || {}) },
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      const problem = { title: "Reports did not answer", detail: String(err) };
      return { status: 0, ok: false, json: problem, etag: null, response: null };
    }
    if (response.status === 401) {
      window.sessionStorage.removeItem(TOKEN_KEY);
      showTokenPanel("Reports did not accept that token (401): give a valid one.");
      throw new Unauthenticated();
    }
    let json = null;
    if ((response.headers.get("content-type") || "").includes("json")) {
      try {
        json = await response.json();
      } catch (_) {
        json = null;
      }
    }
    return { status: response.status, ok: response.ok, json, etag: response.headers.get("etag"), response };
  }

  function reviewPath(incidentId) {
    return "/v1/reviews/" + encodeURIComponent(incidentId);
  }

  /** A problem document (RFC 9457) as one sentence, with each bad field. */
  function problemText(result) {
    const problem = result.json || {};
    const head = problem.title ? `${problem.title} (${result.status})` : `HTTP ${result.status}`;
    const fields = (problem.errors || []).map((e) => `${e.field}: ${e.message}`);
    return [head + (problem.detail ? ": " + problem.detail : ""), ...fields].join(" — ");
  }

  /** Run an action of the page; an unexpected failure is said, not swallowed. */
  function guarded(action) {
    return async (event) => {
      try {
        await action(event);
      } catch (err) {
        if (!(err instanceof Unauthenticated)) announce("Something went wrong: " + err.message, true);
      }
    };
  }

  // --- time ----------------------------------------------------------------------------------

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  }

  function whenShort(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  }

  function timeEl(iso, text) {
    return iso ? h("time", { datetime: iso, text: text || when(iso) }) : "—";
  }

  function span(ms) {
    const abs = Math.abs(ms);
    if (abs < HOUR) return `${Math.max(1, Math.round(abs / MINUTE))} min`;
    if (abs < 2 * DAY) return `${Math.round(abs / HOUR)} h`;
    return `${Math.round(abs / DAY)} d`;
  }

  function relative(iso, now) {
    const ms = Date.parse(iso) - now;
    return ms >= 0 ? `in ${span(ms)}` : `${span(ms)} ago`;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    const hours = Math.floor(minutes / 60);
    return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  }

  function words(code) {
    const text = String(code).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function yesNo(value) {
    return value === true ? "yes" : value === false ? "no" : "unknown";
  }

  // --- the After Action deadline chain --------------------------------------------------------

  const CHAIN = [
    { key: "closed", label: "Closed" },
    { key: "schedule_by", label: "Schedule by", kinds: ["after_action_not_scheduled"] },
    { key: "draft_due", label: "Draft due", kinds: ["draft_not_distributed"] },
    { key: "meeting", label: "Meeting", kinds: ["after_action_rescheduled_repeatedly"] },
    { key: "hold_by", label: "Hold by", kinds: ["after_action_not_held"] },
    { key: "publish_by", label: "Publish by", kinds: ["review_not_published"] },
    { key: "action_review_at", label: "Action review", kinds: ["action_items_open_at_review"] },
  ];
  const CHAIN_KINDS = new Set(CHAIN.flatMap((node) => node.kinds || []));
  const SYMBOLS = { met: "✓", late: "✓", risk: "!", missed: "✗", open: "…", unset: "–" };

  function firstOf(review, ...types) {
    // The timeline is in event-time order: the first match is the earliest.
    const entry = (review.timeline || []).find((e) => types.includes(e.type));
    return entry ? entry.at : null;
  }

  /** Each step of the chain: when it is due, when it was done, and where it stands at ``now``. */
  function deadlineChain(review, now) {
    const aa = review.after_action || {};
    const due = aa.deadlines || {};
    const mandatory = aa.requirement === "mandatory";
    const items = review.action_items || [];
    const completedAt = items
      .map((i) => i.completed_at)
      .filter(Boolean)
      .sort();
    const allCompleted = items.every((i) => i.status === "completed");
    const steps = {
      closed: { due: null, done: firstOf(review, "incident.closed"), obliged: true },
      schedule_by: {
        due: due.schedule_by,
        done: aa.meeting_at ? firstOf(review, "afteraction.scheduled", "afteraction.rescheduled") : null,
        obliged: mandatory,
      },
      draft_due: { due: due.draft_due, done: aa.draft_distributed_at, obliged: true },
      meeting: { due: aa.meeting_at, done: aa.held_at, obliged: true },
      hold_by: { due: due.hold_by, done: aa.held_at, obliged: mandatory },
      publish_by: { due: due.publish_by, done: review.published_at, obliged: true },
      action_review_at: {
        due: due.action_review_at,
        done: due.action_review_at && allCompleted ? completedAt.pop() || review.published_at : null,
        obliged: true,
      },
    };
    const escalations = review.escalations || [];
    return CHAIN.map((node) => {
      const step = { ...node, ...steps[node.key] };
      step.escalations = escalations
        .filter((e) => (node.kinds || []).includes(e.kind))
        .sort((a, b) => a.level - b.level);
      Object.assign(step, standing(step, now));
      return step;
    });
  }

  function standing(step, now) {
    const meeting = step.key === "meeting";
    if (step.key === "closed") {
      return step.done ? { state: "met", text: "closed" } : { state: "unset", text: "not closed yet" };
    }
    if (step.done) {
      const late = !meeting && step.due && Date.parse(step.done) > Date.parse(step.due);
      return late ? { state: "late", text: "met late" } : { state: "met", text: meeting ? "held" : "met" };
    }
    if (!step.due) return { state: "unset", text: meeting ? "not scheduled" : "not set yet" };
    if (!step.obliged) return { state: "unset", text: "not required" };
    const left = Date.parse(step.due) - now;
    if (left < 0) return { state: "missed", text: meeting ? "held? not recorded" : "missed" };
    if (left <= AT_RISK_MS) return { state: "risk", text: "at risk" };
    return { state: "open", text: meeting ? "scheduled" : "open" };
  }

  /** Whether the record shows an escalation's obligation met (the note on the incident's list of
   * escalations). The board's level comes from GET /v1/reviews, which applies the same rules
   * (majorops.reports.domain.listing). */
  const ESCALATION_MET = {
    after_action_not_scheduled: (r) => Boolean(r.after_action.meeting_at),
    after_action_not_held: (r) => Boolean(r.after_action.held_at),
    draft_not_distributed: (r) => Boolean(r.after_action.draft_distributed_at),
    review_not_published: (r) => r.status === "published",
    action_items_open_at_review: (r) => r.action_items.every((i) => i.status === "completed"),
    action_item_overdue: (r, e) =>
      r.action_items.some((i) => i.item_id === e.item && i.status === "completed"),
    vendor_rca_not_committed: (r, e) =>
      r.vendors.some((v) => v.vendor === e.item && (v.rca_due || v.rca_received_at)),
    vendor_rca_overdue: (r, e) => r.vendors.some((v) => v.vendor === e.item && v.rca_received_at),
    after_action_rescheduled_repeatedly: (r) => Boolean(r.after_action.held_at),
    mtm_recommended: (r) => Boolean(firstOf(r, "incident.resolved")),
  };

  function levelText(level, fired) {
    if (level) return `L${level} · ${LEVEL_NOTIFIES[level] || "level " + level}`;
    return fired ? `none open · ${fired} met since` : "none";
  }

  function chainPicture(chain) {
    const gap = 140;
    const width = gap * chain.length;
    const cy = 64;
    const labelled = "chain-title chain-desc";
    const picture = svg("svg", {
      viewBox: `0 0 ${width} 176`,
      role: "img",
      "aria-labelledby": labelled,
      class: "chain",
      focusable: "false",
    });
    picture.append(
      svg("title", { id: "chain-title", text: "After Action deadline chain" }),
      svg("desc", {
        id: "chain-desc",
        text: chain.map((s) => `${s.label}: ${s.text}${s.due ? ", " + when(s.due) : ""}`).join("; "),
      }),
    );
    chain.forEach((step, i) => {
      const cx = gap / 2 + i * gap;
      if (i < chain.length - 1) {
        picture.append(svg("line", { x1: cx + 20, y1: cy, x2: cx + gap - 20, y2: cy, class: "chain-link" }));
      }
      const group = svg("g", { class: `chain-step state-${step.state}`, "data-step": step.key });
      group.append(
        svg("title", { text: `${step.label}: ${step.text}` }),
        svg("text", { x: cx, y: 22, class: "chain-label", text: step.label }),
        svg("circle", { cx, cy, r: 18, class: "chain-dot" }),
        svg("text", { x: cx, y: cy + 6, class: "chain-symbol", text: SYMBOLS[step.state] }),
        svg("text", {
          x: cx,
          y: cy + 40,
          class: "chain-time",
          // The step's due time; a step done without one (published before any meeting): when.
          text: whenShort(step.key === "closed" ? step.done : step.due || step.done),
        }),
        svg("text", { x: cx, y: cy + 58, class: "chain-state", text: step.text }),
      );
      const badges = step.escalations;
      badges.forEach((e, j) => {
        const x = cx - (badges.length * 30) / 2 + j * 30 + 2;
        const badge = svg("g", {
          class: `chain-escalation level-${e.level}${e.superseded_by ? " superseded" : ""}`,
        });
        badge.append(
          svg("title", { text: `Escalation level ${e.level} (${e.kind}) fired ${when(e.fired_at)}` }),
          svg("rect", { x, y: cy + 70, width: 26, height: 18, rx: 4 }),
          svg("text", { x: x + 13, y: cy + 83, text: `L${e.level}` }),
        );
        group.append(badge);
      });
      picture.append(group);
    });
    return picture;
  }

  function chainTable(chain) {
    return h(
      "table",
      { class: "compact" },
      h("caption", { text: "Each step of the chain" }),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Step", "Due (or at)", "Done", "Standing", "Escalations"].map((t) =>
            h("th", { scope: "col", text: t }),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        chain.map((s) =>
          h(
            "tr",
            { "data-step": s.key },
            h("th", { scope: "row", text: s.label }),
            h("td", {}, timeEl(s.key === "closed" ? s.done : s.due)),
            h("td", {}, s.key === "closed" ? "—" : timeEl(s.done)),
            h("td", {}, h("span", { class: `pill state-${s.state}`, text: s.text })),
            h("td", { text: s.escalations.map((e) => `L${e.level}`).join(" ") || "—" }),
          ),
        ),
      ),
    );
  }

  // --- routing -------------------------------------------------------------------------------

  function currentRoute() {
    const hash = window.location.hash.replace(/^#/, "") || "/";
    const [path, query] = hash.split("?");
    const incident = /^\/incident\/([A-Za-z0-9][A-Za-z0-9_-]{0,63})$/.exec(path);
    if (incident) return { view: "incident", id: incident[1] };
    return { view: "board", params: new URLSearchParams(query || "") };
  }

  async function route() {
    takeTokenFromFragment();
    if (!token()) {
      showTokenPanel("");
      return;
    }
    hideTokenPanel();
    const target = currentRoute();
    try {
      if (target.view === "incident") await showIncident(target.id);
      else await showBoard(target.params);
    } catch (err) {
      if (!(err instanceof Unauthenticated)) announce("Something went wrong: " + err.message, true);
    }
  }

  // --- the board -----------------------------------------------------------------------------

  let current = null; // the incident shown: {id, review, etag, base, publishNote}

  function select(id, label, options, value) {
    return h(
      "div",
      { class: "field" },
      h("label", { for: id, text: label }),
      h(
        "select",
        { id, name: id.replace("filter-", "") },
        options.map(([v, text]) => h("option", { value: v, selected: v === value, text })),
      ),
    );
  }

  function boardFilters(params) {
    return {
      severity: params.get("severity") || "",
      requirement: params.get("requirement") || "",
      status: params.get("status") || "",
      overdue: params.get("overdue") || "",
    };
  }

  async function showBoard(params) {
    document.title = "Board — MIM's workbench";
    const cameFromIncident = current !== null;
    current = null;
    const filters = boardFilters(params);
    const form = h(
      "form",
      { class: "filters", id: "board-filters", "aria-label": "Filter incidents" },
      select(
        "filter-severity",
        "Severity",
        [["", "Any severity"], ...SEVERITIES.map((s) => [s, s])],
        filters.severity,
      ),
      select(
        "filter-requirement",
        "After Action",
        [["", "Any requirement"], ...REQUIREMENTS.map((r) => [r, words(r)])],
        filters.requirement,
      ),
      select(
        "filter-status",
        "Review status",
        [["", "Any status"], ...STATUSES.map((s) => [s, s])],
        filters.status,
      ),
      select(
        "filter-overdue",
        "Next deadline",
        [
          ["", "Overdue or not"],
          ["true", "Overdue"],
          ["false", "Not overdue"],
        ],
        filters.overdue,
      ),
      h("button", { type: "submit", id: "board-refresh", text: "Refresh" }),
    );
    const onChange = guarded(async (event) => {
      if (event.type === "submit") event.preventDefault();
      const chosen = Object.fromEntries(new FormData(form));
      const query = new URLSearchParams(Object.entries(chosen).filter(([, v]) => v)).toString();
      // The address keeps the filters (a link to this view), without a reload of the page.
      window.history.replaceState(null, "", "#/" + (query ? "?" + query : ""));
      await loadBoard(boardFilters(new URLSearchParams(query)));
    });
    form.addEventListener("change", onChange);
    form.addEventListener("submit", onChange);
    const table = h(
      "table",
      { id: "board", class: "board" },
      h(
        "caption",
        {},
        "Incidents, the soonest deadline first ",
        h("span", { id: "board-count", class: "hint" }),
      ),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Incident", "Title", "Severity", "After Action", "Review", "Next deadline", "Escalation"].map(
            (t) => h("th", { scope: "col", text: t }),
          ),
        ),
      ),
      h("tbody", {}),
    );
    $("#view").replaceChildren(
      h(
        "section",
        { "aria-labelledby": "board-heading" },
        h("h1", { id: "board-heading", tabindex: "-1", text: "Incidents" }),
        form,
        h("div", { class: "table-scroll" }, table),
      ),
    );
    if (cameFromIncident) $("#board-heading").focus();
    await loadBoard(filters);
  }

  async function listReviews(filters) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const name of ["status", "requirement", "overdue"])
      if (filters[name]) query.set(name, filters[name]);
    const items = [];
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const result = await api("GET", "/v1/reviews?" + query.toString());
      if (!result.ok) throw new Error(problemText(result));
      items.push(...result.json.items);
      if (!result.json.next_cursor) break;
      query.set("cursor", result.json.next_cursor);
    }
    return items;
  }

  let boardLoads = 0;

  async function loadBoard(filters) {
    const tbody = $("#board tbody");
    if (!tbody) return;
    const load = (boardLoads += 1);
    $("#board").setAttribute("aria-busy", "true");
    const listed = await listReviews(filters);
    // Filters changed again while this list was on its way: the newer load fills the board.
    if (load !== boardLoads || !tbody.isConnected) return;
    // Severity is filtered here: the list API filters by status, requirement and overdue only.
    const items = listed.filter((i) => !filters.severity || i.severity === filters.severity);
    items.sort(
      (a, b) =>
        (a.next_deadline ? Date.parse(a.next_deadline) : Infinity) -
          (b.next_deadline ? Date.parse(b.next_deadline) : Infinity) ||
        a.incident_id.localeCompare(b.incident_id),
    );
    const now = Date.now();
    tbody.replaceChildren(...items.map((item) => boardRow(item, now)));
    if (!items.length) {
      tbody.append(
        h("tr", {}, h("td", { colspan: 7, class: "empty", text: "No incident matches these filters." })),
      );
    }
    const count = `(${items.length} shown)`;
    $("#board-count").textContent = count;
    announce(`${items.length} incident${items.length === 1 ? "" : "s"} shown.`);
    $("#board").removeAttribute("aria-busy");
  }

  function boardRow(item, now) {
    const step = CHAIN.find((node) => node.key === item.next_deadline_name);
    const level = item.escalation_level;
    const deadline = item.next_deadline
      ? [
          h("span", { class: "detail-name", text: step ? step.label.toLowerCase() + " " : "" }),
          timeEl(item.next_deadline),
          h("br"),
          h("span", { class: "hint", text: relative(item.next_deadline, now) }),
          item.overdue ? [" ", h("span", { class: "pill state-missed", text: "overdue" })] : null,
        ]
      : h("span", { class: "hint", text: "nothing due" });
    return h(
      "tr",
      { "data-incident": item.incident_id, class: item.overdue ? "is-overdue" : null },
      h(
        "th",
        { scope: "row" },
        h("a", { href: "#/incident/" + encodeURIComponent(item.incident_id), text: item.incident_id }),
      ),
      h("td", { text: item.title || "(untitled)" }),
      h(
        "td",
        {},
        item.severity ? h("span", { class: `pill severity-${item.severity}`, text: item.severity }) : "—",
      ),
      h("td", { text: item.requirement ? words(item.requirement) : "not decided yet" }),
      h("td", {}, h("span", { class: `pill status-${item.status}`, text: item.status })),
      h("td", { class: "deadline" }, deadline),
      h(
        "td",
        { class: "escalation" },
        h("span", { class: `pill level-${level}`, text: levelText(level, item.escalations_fired) }),
      ),
    );
  }

  // --- one incident --------------------------------------------------------------------------

  async function showIncident(id) {
    document.title = `${id} — MIM's workbench`;
    const result = await api("GET", reviewPath(id));
    if (!result.ok) {
      current = null;
      $("#view").replaceChildren(
        h("p", {}, h("a", { href: "#/", text: "← Board" })),
        h("h1", { text: id }),
        h("p", { class: "problem", text: problemText(result) }),
      );
      announce(problemText(result), true);
      return;
    }
    current = {
      id,
      review: result.json,
      etag: result.etag,
      base: narrativeOf(result.json),
      publishNote: null,
    };
    renderIncident({ keepEdits: false });
    $("#incident-heading").focus();
    announce(`${id} loaded. ${lintSummary(result.json.lint)}`);
  }

  function lintSummary(findings) {
    const errors = (findings || []).filter((f) => f.severity === "error").length;
    const warnings = (findings || []).length - errors;
    if (!errors && !warnings) return "Lint: no findings.";
    return `Lint: ${errors} error${errors === 1 ? "" : "s"} (blocking publication), ${warnings} warning${warnings === 1 ? "" : "s"}.`;
  }

  /** Re-draw the incident from ``current``; unsaved narrative edits stay when ``keepEdits``. */
  function renderIncident({ keepEdits, focusId }) {
    const review = current.review;
    const now = Date.now();
    const oldForm = $("#narrative-form");
    const keep = keepEdits && oldForm && narrativeChanged(oldForm);
    const chain = deadlineChain(review, now);
    const summary = review.summary || {};
    const aa = review.after_action || {};
    const form = keep ? oldForm : narrativeForm(review);
    const view = h(
      "article",
      { class: "incident", "aria-labelledby": "incident-heading" },
      h("p", { class: "screen-only" }, h("a", { href: "#/", text: "← Board" })),
      h(
        "h1",
        { id: "incident-heading", tabindex: "-1" },
        `${review.incident_id} — ${summary.title || "(untitled)"}`,
      ),
      h(
        "p",
        { class: "facts-line" },
        summary.severity
          ? h("span", { class: `pill severity-${summary.severity}`, text: summary.severity })
          : null,
        " After Action ",
        h("strong", { text: aa.requirement ? words(aa.requirement) : "not decided yet" }),
        " · review ",
        h("span", { id: "review-status", class: `pill status-${review.status}`, text: review.status }),
        review.published_at
          ? [" ", timeEl(review.published_at, "published " + when(review.published_at))]
          : null,
      ),
      (aa.reasons || []).length
        ? h(
            "ul",
            { class: "reasons" },
            aa.reasons.map((r) => h("li", { text: r.text })),
          )
        : null,
      toolbar(review),
      h(
        "section",
        { "aria-labelledby": "deadlines-heading" },
        h("h2", { id: "deadlines-heading", text: "Deadlines" }),
        h(
          "p",
          { class: "legend" },
          ["met", "late", "risk", "missed", "open", "unset"].map((state) =>
            h(
              "span",
              { class: `pill state-${state}` },
              `${SYMBOLS[state]} ${{ met: "met", late: "met late", risk: "at risk (≤ 24 h)", missed: "missed", open: "open", unset: "not set / not required" }[state]}`,
            ),
          ),
        ),
        chainPicture(chain),
        chainTable(chain),
      ),
      h(
        "section",
        { "aria-labelledby": "lint-heading", id: "lint-panel" },
        h("h2", { id: "lint-heading", text: "Lint findings" }),
        h("p", { id: "lint-summary", role: "status", "aria-live": "polite", text: lintSummary(review.lint) }),
        findingsList(review.lint || [], "lint-list"),
      ),
      form,
      actionItemsSection(review),
      publishSection(review),
      recordSections(review),
    );
    $("#view").replaceChildren(view);
    if (!keep) autosize(form);
    if (focusId) {
      const target = document.getElementById(focusId);
      if (target) target.focus();
    }
  }

  function toolbar(review) {
    const id = review.incident_id;
    return h(
      "div",
      { class: "toolbar screen-only", role: "group", "aria-label": "Review actions" },
      h("button", { type: "button", onclick: guarded(() => showIncident(id)), text: "Reload" }),
      h("button", { type: "button", onclick: () => window.print(), text: "Print" }),
      h("button", {
        type: "button",
        onclick: guarded(() => download(reviewPath(id) + ".md", `${id}.md`, "text/markdown")),
        text: "Download Markdown",
      }),
      review.after_action && review.after_action.meeting_at
        ? h("button", {
            type: "button",
            onclick: guarded(() =>
              download(reviewPath(id) + "/invite.ics", `${id}-after-action.ics`, "text/calendar"),
            ),
            text: "Calendar invite",
          })
        : null,
    );
  }

  async function download(path, filename, accept) {
    const response = await fetch(path, { headers: { Authorization: "Bearer " + token(), Accept: accept } });
    if (!response.ok) {
      let json = null;
      try {
        json = await response.json();
      } catch (_) {
        json = null;
      }
      announce(problemText({ status: response.status, json }), true);
      return;
    }
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    announce(`${filename} downloaded.`);
  }

  function findingsList(findings, id) {
    if (!findings.length) return h("div", { id });
    const ordered = findings
      .slice()
      .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1));
    return h(
      "ul",
      { id, class: "findings" },
      ordered.map((f) =>
        h(
          "li",
          { class: `finding finding-${f.severity}`, "data-code": f.code },
          h("span", {
            class: `pill finding-${f.severity}`,
            text: f.severity === "error" ? "error — blocks publishing" : "warning",
          }),
          " ",
          h("code", { text: f.code }),
          " ",
          h("span", {
            class: "hint",
            text: `${SECTION_TITLES[f.section] || f.section}${f.ref ? " · " + f.ref : ""}`,
          }),
          h("br"),
          f.message,
        ),
      ),
    );
  }

  function sectionFindings(review, section, id) {
    const found = (review.lint || []).filter((f) => f.section === section);
    return found.length ? findingsList(found, id) : h("div", { id });
  }

  // --- the narrative ---------------------------------------------------------------------------

  function narrativeOf(review) {
    const cause = review.root_cause || {};
    return {
      root_cause: cause.text || "",
      contributing_factors: cause.contributing_factors || [],
      went_well: review.went_well || [],
      changes: (review.changes || []).map((c) => ({ text: c.text, owner: c.owner || "", due: c.due || "" })),
      learning_statements: review.learning_statements || [],
    };
  }

  function lines(text) {
    return text
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
  }

  function narrativeInForm(form) {
    const rows = Array.from(form.querySelectorAll(".change-row"));
    return {
      root_cause: form.elements.root_cause.value.trim(),
      contributing_factors: lines(form.elements.contributing_factors.value),
      went_well: lines(form.elements.went_well.value),
      changes: rows
        .map((row) => ({
          text: row.querySelector(".change-text").value.trim(),
          owner: row.querySelector(".change-owner").value.trim(),
          due: row.querySelector(".change-due").value.trim(),
        }))
        .filter((c) => c.text || c.owner || c.due),
      learning_statements: lines(form.elements.learning_statements.value),
    };
  }

  function changedSections(base, edited) {
    return Object.keys(base).filter((name) => JSON.stringify(base[name]) !== JSON.stringify(edited[name]));
  }

  function narrativeChanged(form) {
    return changedSections(current.base, narrativeInForm(form)).length > 0;
  }

  /** The JSON merge patch of the sections changed (an emptied root cause returns to the record's). */
  function narrativePatch(edited, sections) {
    const patch = {};
    for (const name of sections) {
      if (name === "root_cause") patch.root_cause = edited.root_cause || null;
      else if (name === "changes") {
        patch.changes = edited.changes.map((c) => {
          const change = { text: c.text };
          if (c.owner) change.owner = c.owner;
          if (c.due) change.due = c.due;
          return change;
        });
      } else patch[name] = edited[name];
    }
    return patch;
  }

  function textArea(id, name, label, value, hint, findingsId) {
    const hintId = id + "-hint";
    return h(
      "div",
      { class: "field" },
      h("label", { for: id, text: label }),
      h("textarea", {
        id,
        name,
        rows: 3,
        "aria-describedby": [hintId, findingsId].filter(Boolean).join(" "),
        oninput: (e) => autosizeOne(e.target),
        text: value,
      }),
      h("p", { id: hintId, class: "hint", text: hint }),
    );
  }

  function changeRow(change, index) {
    const n = index + 1;
    const field = (cls, label, value, placeholder) => {
      const id = `change-${n}-${cls}`;
      return h(
        "div",
        { class: "field" },
        h("label", { for: id, text: label }),
        h("input", { id, class: `change-${cls}`, type: "text", value, placeholder, autocomplete: "off" }),
      );
    };
    const row = h(
      "div",
      { class: "change-row", role: "group", "aria-label": `Change ${n}` },
      field("text", `Change ${n}`, change.text, "Add a pool-saturation alert"),
      field("owner", `Owner of change ${n}`, change.owner, "SRE lead"),
      field("due", `Due date of change ${n}`, change.due, "YYYY-MM-DD"),
    );
    row.append(
      h("button", {
        type: "button",
        class: "secondary",
        text: `Remove change ${n}`,
        onclick: () => {
          row.remove();
          $("#narrative-note").textContent = `Change ${n} removed; save to keep it so.`;
        },
      }),
    );
    return row;
  }

  function narrativeForm(review) {
    const base = narrativeOf(review);
    const changes = h("div", { id: "change-rows" }, base.changes.map(changeRow));
    const form = h(
      "form",
      {
        id: "narrative-form",
        class: "screen-only",
        "aria-labelledby": "narrative-heading",
        novalidate: true,
      },
      h("h2", { id: "narrative-heading", text: "Narrative" }),
      h("p", {
        class: "hint",
        text: "Blameless: systems and processes, no names (names belong in action item owners). Saving re-runs lint.",
      }),
      h(
        "fieldset",
        {},
        h("legend", { text: "Root cause and contributing factors" }),
        textArea(
          "root-cause",
          "root_cause",
          "Root cause",
          base.root_cause,
          'Write it as "The incident was caused by [specific failure]." Empty: the record\'s root cause summary.',
          "findings-root_cause",
        ),
        textArea(
          "contributing-factors",
          "contributing_factors",
          "Contributing factors",
          base.contributing_factors.join("\n"),
          "One per line.",
          "findings-root_cause",
        ),
        sectionFindings(review, "root_cause", "findings-root_cause"),
      ),
      h(
        "fieldset",
        {},
        h("legend", { text: "What went well" }),
        textArea(
          "went-well",
          "went_well",
          "What went well",
          base.went_well.join("\n"),
          "One per line.",
          null,
        ),
      ),
      h(
        "fieldset",
        {},
        h("legend", { text: "What we are changing" }),
        h("p", { class: "hint", text: "Each change names who makes it and by when." }),
        changes,
        h("button", {
          type: "button",
          class: "secondary",
          text: "Add a change",
          onclick: () => {
            const row = changeRow({ text: "", owner: "", due: "" }, changes.children.length);
            changes.append(row);
            row.querySelector("input").focus();
          },
        }),
        sectionFindings(review, "changes", "findings-changes"),
      ),
      h(
        "fieldset",
        {},
        h("legend", { text: "Learning statements" }),
        textArea(
          "learning-statements",
          "learning_statements",
          "Learning statements",
          base.learning_statements.join("\n"),
          'One per line; specific, named, actionable: "Runbook step 4 does not cover an unreachable primary DB. SRE lead updating by 2026-12-01."',
          "findings-learning_statements",
        ),
        sectionFindings(review, "learning_statements", "findings-learning_statements"),
      ),
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", id: "save-narrative", text: "Save narrative" }),
        h("span", { id: "narrative-note", class: "hint", role: "status", "aria-live": "polite" }),
      ),
    );
    form.addEventListener("submit", guarded(saveNarrative));
    return form;
  }

  function autosizeOne(area) {
    area.style.height = "auto";
    area.style.height = area.scrollHeight + 4 + "px";
  }

  function autosize(root) {
    root.querySelectorAll("textarea").forEach(autosizeOne);
  }

  async function saveNarrative(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const note = $("#narrative-note");
    const edited = narrativeInForm(form);
    const sections = changedSections(current.base, edited);
    if (!sections.length) {
      note.textContent = "Nothing to save: the narrative is as loaded.";
      return;
    }
    const patch = narrativePatch(edited, sections);
    const button = $("#save-narrative");
    button.disabled = true;
    note.textContent = "Saving…";
    const path = reviewPath(current.id);
    let result = await api("PATCH", path, patch, { "If-Match": current.etag });
    if (result.status === 412) {
      // New events change the review's ETag too: when nobody touched the sections edited here,
      // the edit still applies as meant, so it is sent again against the review as it is now.
      const fresh = await api("GET", path);
      const theirs = fresh.ok ? changedSections(current.base, narrativeOf(fresh.json)) : sections;
      if (fresh.ok && !theirs.some((name) => sections.includes(name))) {
        result = await api("PATCH", path, patch, { "If-Match": fresh.etag });
      }
    }
    button.disabled = false;
    if (!result.ok) {
      const text =
        result.status === 412
          ? "Someone else changed these sections since you loaded them; your text is still here. Reload to see theirs, then apply yours again."
          : problemText(result);
      note.textContent = text;
      announce(text, true);
      return;
    }
    current.review = result.json;
    current.etag = result.etag;
    current.base = narrativeOf(result.json);
    current.publishNote = null; // a refusal said before this edit may no longer hold: lint says now
    renderIncident({ keepEdits: false, focusId: "save-narrative" });
    const saved = `Saved ${sections.map((s) => SECTION_TITLES[s] || s).join(", ")}. ${lintSummary(result.json.lint)}`;
    $("#narrative-note").textContent = saved;
  }

  // --- action items ----------------------------------------------------------------------------

  function actionItemsSection(review) {
    const items = review.action_items || [];
    const lint = review.lint || [];
    const rows = items.map((item) => {
      const key = item.item_id;
      const open = item.status === "open";
      const idFor = (what) => `item-${key}-${what}`;
      const input = (what, label, value, placeholder) =>
        h(
          "td",
          {},
          h("label", { for: idFor(what), class: "visually-hidden", text: `${label} of ${key}` }),
          h("input", {
            id: idFor(what),
            type: "text",
            value: value || "",
            placeholder,
            readonly: !open,
            autocomplete: "off",
            "aria-describedby": idFor("findings"),
          }),
        );
      const findings = lint.filter((f) => f.section === "action_items" && f.ref === key);
      return h(
        "tr",
        { "data-item": key },
        h("th", { scope: "row", text: key }),
        input("title", "Title", item.title, ""),
        input("owner", "Owner", item.owner, "SRE lead"),
        input("due", "Due date", item.due, "YYYY-MM-DD"),
        h(
          "td",
          {},
          h("span", { class: `pill status-${item.status}`, text: item.status }),
          item.completed_at ? [h("br"), timeEl(item.completed_at)] : null,
        ),
        h(
          "td",
          { id: idFor("findings") },
          findings.map((f) =>
            h("p", { class: `finding finding-${f.severity}` }, h("code", { text: f.code }), " ", f.message),
          ),
        ),
        h(
          "td",
          { class: "screen-only" },
          open
            ? [
                h("button", {
                  type: "button",
                  text: "Save",
                  "aria-label": `Save ${key}`,
                  onclick: guarded(() => saveItem(item)),
                }),
                " ",
                h("button", {
                  type: "button",
                  class: "secondary",
                  text: "Complete",
                  "aria-label": `Complete ${key}`,
                  onclick: guarded(() => completeItem(key)),
                }),
              ]
            : "—",
        ),
      );
    });
    const addForm = h(
      "form",
      { id: "new-item-form", class: "inline-form screen-only", "aria-labelledby": "new-item-heading" },
      h("h3", { id: "new-item-heading", text: "New action item" }),
      h(
        "div",
        { class: "field" },
        h("label", { for: "new-item-title", text: "Title" }),
        h("input", {
          id: "new-item-title",
          name: "title",
          type: "text",
          required: true,
          autocomplete: "off",
        }),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "new-item-owner", text: "Owner" }),
        h("input", { id: "new-item-owner", name: "owner", type: "text", autocomplete: "off" }),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "new-item-due", text: "Due date" }),
        h("input", {
          id: "new-item-due",
          name: "due",
          type: "text",
          placeholder: "YYYY-MM-DD",
          autocomplete: "off",
        }),
      ),
      h("button", { type: "submit", text: "Add action item" }),
    );
    addForm.addEventListener("submit", guarded(addItem));
    return h(
      "section",
      { "aria-labelledby": "items-heading" },
      h("h2", { id: "items-heading", text: "Action items" }),
      items.length
        ? h(
            "div",
            { class: "table-scroll" },
            h(
              "table",
              { id: "action-items" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["Item", "Title", "Owner", "Due", "Status", "Findings", "Actions"].map((t) =>
                    h("th", { scope: "col", text: t, class: t === "Actions" ? "screen-only" : null }),
                  ),
                ),
              ),
              h("tbody", {}, rows),
            ),
          )
        : h("p", { class: "empty", text: "No action items yet." }),
      addForm,
      h("p", { id: "items-note", class: "hint", role: "status", "aria-live": "polite" }),
    );
  }

  function itemValue(key, what) {
    return document.getElementById(`item-${key}-${what}`).value.trim();
  }

  async function saveItem(item) {
    const key = item.item_id;
    const wanted = {
      title: itemValue(key, "title"),
      owner: itemValue(key, "owner"),
      due: itemValue(key, "due"),
    };
    const changes = {};
    if (wanted.title && wanted.title !== item.title) changes.title = wanted.title;
    if (wanted.owner !== (item.owner || "")) changes.owner = wanted.owner || null;
    if (wanted.due !== (item.due || "")) changes.due = wanted.due || null;
    if (!Object.keys(changes).length) {
      $("#items-note").textContent = `${key}: nothing changed.`;
      return;
    }
    const result = await api(
      "PATCH",
      `${reviewPath(current.id)}/action-items/${encodeURIComponent(key)}`,
      changes,
    );
    await afterChange(result, `${key} saved`, (review) =>
      review.action_items.some(
        (i) => i.item_id === key && Object.entries(changes).every(([name, value]) => same(i[name], value)),
      ),
    );
  }

  /** The same value, also when the record writes a time differently (``Z`` or an offset). */
  function same(recorded, sent) {
    if ((recorded || null) === sent) return true;
    return Boolean(recorded && sent) && Date.parse(recorded) === Date.parse(sent);
  }

  async function completeItem(key) {
    const result = await api(
      "POST",
      `${reviewPath(current.id)}/action-items/${encodeURIComponent(key)}/complete`,
    );
    await afterChange(result, `${key} completed`, (review) =>
      review.action_items.some((i) => i.item_id === key && i.status === "completed"),
    );
  }

  async function addItem(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = Object.fromEntries(
      Object.entries(Object.fromEntries(new FormData(form)))
        .map(([k, v]) => [k, String(v).trim()])
        .filter(([, v]) => v),
    );
    if (!data.title) {
      $("#items-note").textContent = "An action item needs a title.";
      $("#new-item-title").focus();
      return;
    }
    const result = await api("POST", `${reviewPath(current.id)}/action-items`, data);
    const itemId = result.ok && result.json.item ? result.json.item.item_id : null;
    await afterChange(result, `${itemId} added`, (review) =>
      review.action_items.some((i) => i.item_id === itemId),
    );
  }

  /** A change answered 202 is an event on its way: wait until the review shows it, then re-draw. */
  async function afterChange(result, done, shows) {
    const note = $("#items-note");
    if (!result.ok) {
      note.textContent = problemText(result);
      announce(problemText(result), true);
      return false;
    }
    note.textContent = "Accepted; waiting for the review to show it…";
    current.publishNote = null;
    const settled = await settle(shows);
    const message = settled
      ? `${done}. ${lintSummary(current.review.lint)}`
      : "Accepted, but the review does not show it yet: reload in a moment.";
    $("#items-note").textContent = message;
    announce(message, !settled);
    return settled;
  }

  async function settle(shows) {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const result = await api("GET", reviewPath(current.id));
      if (result.ok && shows(result.json)) {
        current.review = result.json;
        current.etag = result.etag;
        renderIncident({ keepEdits: true });
        return true;
      }
      await new Promise((resolve) => window.setTimeout(resolve, SETTLE_INTERVAL_MS));
    }
    return false;
  }

  // --- publishing ------------------------------------------------------------------------------

  function publishSection(review) {
    const published = review.status === "published";
    const result = h("div", { id: "publish-result", role: "alert", tabindex: "-1" });
    if (current.publishNote) append(result, [current.publishNote]);
    return h(
      "section",
      { "aria-labelledby": "publish-heading", class: "publish" },
      h("h2", { id: "publish-heading", text: "Publish" }),
      published
        ? h("p", {}, "Published ", timeEl(review.published_at), ".")
        : h("p", { class: "hint", text: "Publishing needs every lint error fixed; warnings are advice." }),
      published
        ? null
        : h("button", {
            type: "button",
            id: "publish-button",
            class: "primary screen-only",
            onclick: guarded(publish),
            text: "Publish review",
          }),
      result,
    );
  }

  async function publish() {
    const button = $("#publish-button");
    button.disabled = true;
    current.publishNote = null;
    const result = await api("POST", reviewPath(current.id) + "/publish");
    const out = $("#publish-result");
    if (result.status === 409 && result.json && Array.isArray(result.json.findings)) {
      current.publishNote = h(
        "div",
        { class: "refused" },
        h("p", {}, h("strong", { text: "Publish refused. " }), result.json.detail),
        findingsList(result.json.findings, "publish-findings"),
      );
      out.replaceChildren(current.publishNote);
      button.disabled = false;
      out.focus();
      return;
    }
    if (!result.ok) {
      current.publishNote = h("p", { class: "problem", text: problemText(result) });
      out.replaceChildren(current.publishNote);
      button.disabled = false;
      return;
    }
    out.replaceChildren(h("p", { text: "Publishing: waiting for the review to show it…" }));
    const settled = await settle((review) => review.status === "published");
    current.publishNote = h("p", {
      class: settled ? "done" : "problem",
      text: settled ? "Published." : "Accepted, but the review does not show it yet: reload in a moment.",
    });
    $("#publish-result").replaceChildren(current.publishNote);
    announce(settled ? `${current.id} published.` : "Publication accepted, not shown yet.", !settled);
  }

  // --- what the record says --------------------------------------------------------------------

  function table(id, caption, headings, rows, emptyText) {
    if (!rows.length) return h("p", { id, class: "empty", text: emptyText });
    return h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        { id },
        caption ? h("caption", { text: caption }) : null,
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            headings.map((t) => h("th", { scope: "col", text: t })),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map((cells) =>
            h(
              "tr",
              {},
              cells.map((c) => h("td", {}, c)),
            ),
          ),
        ),
      ),
    );
  }

  function facts(pairs) {
    return h(
      "dl",
      { class: "facts" },
      pairs.map(([term, value]) => [h("dt", { text: term }), h("dd", {}, value)]),
    );
  }

  function recordSections(review) {
    const summary = review.summary || {};
    const metrics = review.metrics || {};
    const attendees = review.attendees || { required: [], optional: [] };
    const attendeeRows = (list) =>
      list.map((a) => [
        words(a.role),
        a.person || h("em", { text: "nobody assigned" }),
        [a.track, a.vendor, a.reason].filter(Boolean).join(" · "),
      ]);
    const printed = narrativeOf(review);
    return [
      h(
        "section",
        { class: "print-only", "aria-hidden": "true" },
        h("h2", { text: "Narrative" }),
        h("h3", { text: "Root cause" }),
        h("p", { class: "pre", text: printed.root_cause || "—" }),
        h("h3", { text: "Contributing factors" }),
        h(
          "ul",
          {},
          printed.contributing_factors.map((t) => h("li", { text: t })),
        ),
        h("h3", { text: "What went well" }),
        h(
          "ul",
          {},
          printed.went_well.map((t) => h("li", { text: t })),
        ),
        h("h3", { text: "What we are changing" }),
        h(
          "ul",
          {},
          printed.changes.map((c) => h("li", { text: [c.text, c.owner, c.due].filter(Boolean).join(" — ") })),
        ),
        h("h3", { text: "Learning statements" }),
        h(
          "ul",
          {},
          printed.learning_statements.map((t) => h("li", { text: t })),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "summary-heading" },
        h("h2", { id: "summary-heading", text: "Summary and metrics" }),
        facts([
          ["Duration", duration(summary.duration_seconds)],
          ["Customer impact", yesNo(summary.customer_impact)],
          ["Affected users", summary.affected_users ?? "—"],
          ["Revenue exposure", summary.revenue_exposure ?? "—"],
          ["SLA", summary.sla_status || "—"],
          ["Regulatory exposure", yesNo(summary.regulatory_exposure)],
          ["MIM", summary.mim || "—"],
          ["Responders", (summary.responders || []).join(", ") || "—"],
          ["Time to detect", duration(metrics.ttd_seconds)],
          ["Time to declare", duration(metrics.time_to_declare_seconds)],
          ["Time to mitigate", duration(metrics.mttm_seconds)],
          ["Time to resolve", duration(metrics.mttr_seconds)],
        ]),
      ),
      h(
        "section",
        { "aria-labelledby": "gaps-heading" },
        h("h2", { id: "gaps-heading", text: "Data gaps" }),
        (review.data_gaps || []).length
          ? h(
              "ul",
              { id: "data-gaps" },
              review.data_gaps.map((g) => h("li", {}, words(g), " ", h("code", { text: g }))),
            )
          : h("p", { class: "empty", text: "None: the record has every piece of data the review uses." }),
      ),
      h(
        "section",
        { "aria-labelledby": "timeline-heading" },
        h("h2", { id: "timeline-heading", text: "Timeline" }),
        table(
          "timeline",
          null,
          ["At", "Event", "What"],
          (review.timeline || []).map((e) => [timeEl(e.at), h("code", { text: e.type }), e.text]),
          "No events.",
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "attendees-heading" },
        h("h2", { id: "attendees-heading", text: "Attendees" }),
        table(
          "attendees-required",
          "Required",
          ["Role", "Person", "Why"],
          attendeeRows(attendees.required || []),
          "Nobody required yet.",
        ),
        table(
          "attendees-optional",
          "Optional",
          ["Role", "Person", "Why"],
          attendeeRows(attendees.optional || []),
          "Nobody optional.",
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "vendors-heading" },
        h("h2", { id: "vendors-heading", text: "Vendors" }),
        table(
          "vendors",
          null,
          ["Vendor", "Engaged", "Responded", "SLA", "Response", "SLA met", "RCA due", "RCA received"],
          (review.vendors || []).map((v) => [
            v.vendor,
            timeEl(v.engaged_at),
            timeEl(v.responded_at),
            v.response_sla_minutes == null ? "unknown" : `${v.response_sla_minutes} min`,
            v.response_minutes == null ? "—" : `${v.response_minutes} min`,
            yesNo(v.sla_met),
            timeEl(v.rca_due),
            timeEl(v.rca_received_at),
          ]),
          "No vendor engaged.",
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "escalations-heading" },
        h("h2", { id: "escalations-heading", text: "Escalations" }),
        table(
          "escalations",
          null,
          ["Level", "Kind", "Notified", "Due", "Fired", "Note"],
          (review.escalations || []).map((e) => [
            h("span", { class: `pill level-${e.level}`, text: `L${e.level}` }),
            [
              h("code", { text: e.kind }),
              e.item ? ` (${e.item})` : "",
              CHAIN_KINDS.has(e.kind) ? "" : " — not on the chain",
            ],
            [words(e.notify.role), e.notify.person ? ` — ${e.notify.person}` : ""],
            timeEl(e.due_at),
            timeEl(e.fired_at),
            [
              e.late ? "late " : "",
              e.superseded_by ? `superseded by ${e.superseded_by}` : "",
              ESCALATION_MET[e.kind] && ESCALATION_MET[e.kind](review, e) ? " met since" : "",
            ]
              .join("")
              .trim() || "—",
          ]),
          "No escalation fired.",
        ),
      ),
      (review.earlier_reviews || []).length
        ? h(
            "section",
            { "aria-labelledby": "earlier-heading" },
            h("h2", { id: "earlier-heading", text: "Earlier reviews of the same root cause" }),
            h(
              "ul",
              {},
              review.earlier_reviews.map((r) =>
                h(
                  "li",
                  {},
                  h("a", { href: "#/incident/" + encodeURIComponent(r.incident_id), text: r.incident_id }),
                  ` ${r.title || ""} — ${r.status || "no review"}, ${r.open_action_items.length} open action item(s)`,
                ),
              ),
            ),
          )
        : null,
      (review.effectiveness || []).length
        ? h(
            "section",
            { "aria-labelledby": "effectiveness-heading" },
            h("h2", { id: "effectiveness-heading", text: "Possibly ineffective fixes" }),
            h(
              "ul",
              {},
              review.effectiveness.map((f) =>
                h("li", {
                  text: `${f.item_id} "${f.title}" completed ${when(f.completed_at)}; ${f.alert_name} fired again ${when(f.recurred_at)} (${f.recurrences}×, ${f.recurred_in})`,
                }),
              ),
            ),
          )
        : null,
    ];
  }

  // --- start -----------------------------------------------------------------------------------

  function start() {
    $("#token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const given = $("#token-input").value.trim();
      if (!given) return;
      window.sessionStorage.setItem(TOKEN_KEY, given);
      $("#token-input").value = "";
      route();
    });
    $("#forget-token").addEventListener("click", () => {
      window.sessionStorage.removeItem(TOKEN_KEY);
      current = null;
      showTokenPanel("Token forgotten.");
    });
    // The address's fragment is the page's route: the skip link moves the focus without changing it.
    $(".skip-link").addEventListener("click", (event) => {
      event.preventDefault();
      $("#main").focus();
    });
    window.addEventListener("hashchange", route);
    route();
  }

  start();
})();
