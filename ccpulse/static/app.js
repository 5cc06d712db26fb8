// ccpulse's built-in pages: poll this page's JSON view and draw it. No framework, nothing
// from a CDN; every value goes in with textContent (ids come from producers: never markup).
// Each number cell carries its raw value in data-value, so tests (and curious people) can
// read exactly what the JSON said.
"use strict";

const body = document.body;
const page = body.dataset.page;
const ident = body.dataset.id;
const refreshMs = Number(body.dataset.refreshMs) || 2000;
const token = new URLSearchParams(location.search).get("t");
const main = document.getElementById("main");

const views = {
  wallboard: () => "/api/v1/floor",
  wfm: () => "/api/v1/wfm",
  team: () => "/api/v1/board/" + encodeURIComponent(ident),
  agent: () => "/api/v1/me/" + encodeURIComponent(ident) + "?t=" + encodeURIComponent(token || ""),
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key.startsWith("data-") || key === "class" || key === "href" || key === "title") {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const pct = (v) => (v * 100).toFixed(1) + " %";
const secs = (v) => {
  const s = Math.round(v);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
};
const num = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
// by the catalogue's unit: ratios as percentages, seconds as m:ss, the rest as numbers
const byUnit = (unit) => (unit === "ratio" ? pct : unit === "seconds" ? secs : num);

// A cell for a banded KPI ({value, band, label}) or a plain number; "–" without a value.
function cell(field, v, format) {
  if (v === null || v === undefined) return el("td", { "data-field": field, class: "none" }, "–");
  const raw = typeof v === "object" ? v.value : v;
  const band = typeof v === "object" ? v.band : null;
  return el("td", { "data-field": field, "data-value": raw, class: band ? "band-" + band : null },
    format(raw));
}

function table(head, rows, cls) {
  return el("table", { class: cls },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows));
}

function section(title, ...content) {
  return el("section", {}, el("h2", {}, title), ...content);
}

const render = {
  wallboard(d) {
    const queues = d.queues.map((q) => el("tr", { "data-queue": q.id },
      el("td", {}, q.id), cell("waiting", q.waiting, num),
      cell("longest_wait_seconds", q.longest_wait_seconds, secs),
      cell("service_level", q.service_level, pct), cell("abandon", q.abandon, pct),
      cell("asa_seconds", q.asa_seconds, secs)));
    const states = ["handling", "acw", "idle", "not_ready", "logged_out"];
    const teams = d.teams.map((t) => el("tr", { "data-team": t.id },
      el("td", {}, el("a", { href: "/team/" + encodeURIComponent(t.id) }, t.id)),
      cell("occupancy", t.occupancy, pct), cell("load", t.load, pct),
      ...states.map((s) => cell("agents_" + s, t.agents[s] || 0, num)),
      cell("absent", t.absent, num)));
    const alerts = d.alerts.map((a) => el("li", { class: "sev-" + a.severity, "data-alert": a.name },
      el("strong", {}, a.name), " ", a.scope, el("span", { class: "why" }, a.description)));
    return [
      section("Queues (15 min)", table(["queue", "waiting", "longest wait", "service level",
        "abandon", "ASA"], queues, "queues")),
      section("Teams (1 h)", table(["team", "occupancy", "load", "handling", "ACW", "idle",
        "not ready", "logged out", "absent"], teams, "teams")),
      section("Alerts firing (" + d.alerts.length + ")",
        alerts.length ? el("ul", { class: "alerts" }, ...alerts) : el("p", {}, "none")),
    ];
  },
  team(d) {
    const rows = d.agents.map((a) => el("tr", { "data-agent": a.id },
      el("td", {}, a.id), el("td", { "data-field": "state" }, a.state + (a.reason ? " (" + a.reason + ")" : "")),
      cell("state_seconds", a.state_seconds, secs),
      cell("occupancy_1h", a.occupancy_1h, pct), cell("occupancy_8h", a.occupancy_8h, pct),
      cell("aht_1h", a.aht_1h, secs), cell("aht_usual", a.aht_usual, secs),
      cell("adherence_8h", a.adherence_8h, pct),
      el("td", { "data-field": "scheduled" }, a.scheduled || "–"),
      el("td", { "data-field": "alerts", class: a.alerts.length ? "band-red" : null },
        a.alerts.join(", ") || "–")));
    const kpis = d.kpis.map((k) => el("div", { class: "kpi band-" + k.band },
      el("span", {}, k.label), el("b", {}, byUnit(k.unit)(k.value))));
    return [
      el("div", { class: "kpis" }, ...kpis),
      section("Agents", table(["agent", "activity", "for", "occupancy 1 h", "occupancy 8 h",
        "AHT 1 h", "AHT usual (8 h)", "adherence 8 h", "scheduled", "signals"], rows, "agents")),
    ];
  },
  wfm(d) {
    const rows = d.queues.map((q) => el("tr", { "data-queue": q.queue + "/" + q.channel },
      el("td", {}, q.queue), el("td", {}, q.channel), cell("staffed", q.staffed, num),
      cell("required_now", q.required.now, num),
      el("td", { "data-field": "gap_now", "data-value": q.gap.now,
        class: q.gap.now > 0 ? "band-red" : q.gap.now < 0 ? "band-yellow" : "band-green" },
        (q.gap.now > 0 ? "+" : "") + num(q.gap.now)),
      ...Object.keys(q.gap).filter((h) => h !== "now").map((h) =>
        el("td", { "data-field": "gap_" + h, "data-value": q.gap[h] }, h + ": " + num(q.gap[h]))),
      cell("predicted_service_level", q.predicted_service_level, pct)));
    return [section("Required vs staffed", table(["queue", "channel", "staffed", "required now",
      "gap now", "gap ahead", "", "", "predicted SL"], rows, "wfm"))];
  },
  agent(d) {
    const marks = d.marks.map((m) => el("div", { class: "kpi band-" + m.band, "data-kpi": m.key },
      el("span", {}, m.label), el("b", {}, byUnit(m.unit)(m.value))));
    const out = [
      el("div", { class: "score", "data-field": "score", "data-value": d.score },
        d.score === null ? "–" : Math.round(d.score)),
      el("p", { class: "now" }, "Now: " + d.state + (d.reason ? " (" + d.reason + ")" : "") +
        " for " + (d.state_seconds === null ? "–" : secs(d.state_seconds)) +
        (d.scheduled ? " · scheduled: " + d.scheduled : "")),
      el("div", { class: "kpis" }, ...marks),
      section("Going well", el("ul", {}, ...d.wins.map((w) => el("li", {}, w)))),
      section("To work on", el("ul", {}, ...d.focus.map((f) => el("li", {}, f)))),
    ];
    if (d.workload.length) {
      out.push(section("Your workload", el("p", {}, "Busier than is healthy on: " +
        d.workload.join(", ") + ". That is for the floor to fix, not for you: your " +
        "supervisor sees it too. Take your breaks.")));
    }
    if (d.day) {
      const bar = (pieces, cls) => {
        const from = Date.parse(d.day.from), span = Date.parse(d.day.to) - from;
        return el("div", { class: "bar " + cls }, ...pieces.map(([a, b, what]) => {
          const node = el("span", { class: "act-" + what, title: what + " " + a.slice(11, 16) + "–" + b.slice(11, 16) });
          node.style.left = (100 * (Date.parse(a) - from) / span) + "%";
          node.style.width = (100 * (Date.parse(b) - Date.parse(a)) / span) + "%";
          return node;
        }));
      };
      out.push(section("Schedule against what happened (8 h)",
        el("p", {}, "planned"), bar(d.day.schedule, "planned"),
        el("p", {}, "actual"), bar(d.day.actual, "actual")));
    }
    return out;
  },
};

function nav() {
  if (page === "agent") return;  // an agent's page links nowhere else
  const links = [["Wallboard", "/wallboard"], ["Staffing", "/wfm"]];
  document.querySelector("nav").replaceChildren(...links.map(([t, h]) => el("a", { href: h }, t)));
}

async function refresh() {
  try {
    const response = await fetch(views[page](), { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(response.status === 403 ? "this link is not valid any more" : "HTTP " + response.status);
    const data = await response.json();
    main.replaceChildren(...render[page](data));
    const at = document.getElementById("at");
    at.textContent = "as of " + data.at.slice(11, 19) + " UTC";
    at.dataset.at = data.at;
    body.dataset.loaded = "yes";
  } catch (error) {
    document.getElementById("at").textContent = "not updating: " + error.message;
  }
}

nav();
refresh();
setInterval(refresh, refreshMs);
