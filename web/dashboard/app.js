// CVPlus admin dashboard: signs in through the Identity Toolkit REST API, calls the
// `systemDashboard` and `setCircuitState` callables with the ID token, and redraws every few
// seconds. No framework, no SDK: the token stays in this closure, never in storage.
//
// It talks to its own origin and Google's sign-in, nothing else: `?auth=` and `?functions=`
// (and config.json) may point it at the emulators only while the page itself is served from
// this machine (localhost, 127.0.0.1), so a crafted link cannot send the password or the token
// elsewhere. The server's Content-Security-Policy (functions/dashboard_page.py) says the same.
"use strict";

(() => {
  const DEFAULTS = {
    authBase: "https://identitytoolkit.googleapis.com",
    apiKey: "",
    functionsBase: "", // empty: the folder this page is served from, minus "/dashboard"
    refreshSeconds: 5,
  };
  const NAMES = { heygen: "HeyGen", runwayml: "RunwayML", did: "D-ID" };
  const STATE_LABELS = { closed: "closed", open: "open", half_open: "half-open" };
  const SVG = "http://www.w3.org/2000/svg";
  const GOOGLE_SIGN_IN = "https://identitytoolkit.googleapis.com";
  const LOOPBACK = new Set(["localhost", "127.0.0.1"]);

  let cfg = { ...DEFAULTS };
  let refusedEndpoints = []; // endpoints the link asked for and the page will not use
  let session = null; // {idToken, email, expiresAt}
  let timer = null;
  let lastData = null;
  const controls = new Map(); // providerId -> {root, state, detail, reason, buttons}

  const $ = (id) => document.getElementById(id);

  // ---- configuration: config.json beside the page, then the query string ----

  async function loadConfig() {
    try {
      const res = await fetch("config.json", { cache: "no-store" });
      if (res.ok) Object.assign(cfg, await res.json());
    } catch (_) {
      /* no config.json: defaults and query string */
    }
    const q = new URLSearchParams(location.search);
    const map = { auth: "authBase", functions: "functionsBase", key: "apiKey", refresh: "refreshSeconds" };
    for (const [param, key] of Object.entries(map)) {
      if (q.has(param)) cfg[key] = q.get(param);
    }
    if (!cfg.functionsBase) {
      const path = location.pathname.replace(/\/dashboard(\/.*)?$/, "");
      cfg.functionsBase = location.origin + path;
    }
    refusedEndpoints = [];
    cfg.authBase = endpoint(cfg.authBase, [GOOGLE_SIGN_IN]);
    cfg.functionsBase = endpoint(cfg.functionsBase, []);
    cfg.refreshSeconds = Math.max(1, Number(cfg.refreshSeconds) || DEFAULTS.refreshSeconds);
  }

  // `value` as a base URL the page may send requests to, or null (noted in refusedEndpoints):
  // the page's own origin, one of `origins`, or, when the page itself is on this machine, a
  // server on this machine (the emulators). No credentials, query or fragment in it.
  function endpoint(value, origins) {
    let url;
    try {
      url = new URL(String(value), location.href);
    } catch (_) {
      url = null;
    }
    const allowed =
      url !== null &&
      (url.protocol === "https:" || url.protocol === "http:") &&
      !url.username && !url.password && !url.search && !url.hash &&
      (url.origin === location.origin ||
        origins.includes(url.origin) ||
        (LOOPBACK.has(location.hostname) && LOOPBACK.has(url.hostname)));
    if (!allowed) {
      refusedEndpoints.push(url ? url.origin : String(value).slice(0, 80));
      return null;
    }
    return (url.origin + url.pathname).replace(/\/+$/, "");
  }

  // ---- sign-in and callables ----

  class CallError extends Error {
    constructor(status, message) {
      super(message);
      this.status = String(status || "INTERNAL").toUpperCase().replace(/-/g, "_");
    }
  }

  async function signIn(email, password) {
    if (!cfg.authBase) throw new Error("Sign-in is disabled on this link.");
    const url = `${cfg.authBase}/v1/accounts:signInWithPassword?key=${encodeURIComponent(cfg.apiKey || "local")}`;
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password, returnSecureToken: true }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || !body.idToken) {
      const code = (body.error && body.error.message) || `HTTP ${res.status}`;
      const readable = {
        INVALID_LOGIN_CREDENTIALS: "Wrong email or password.",
        INVALID_PASSWORD: "Wrong email or password.",
        EMAIL_NOT_FOUND: "Wrong email or password.",
        USER_DISABLED: "This account is disabled.",
      }[code.split(" ")[0]];
      throw new Error(readable || `Sign-in failed: ${code}`);
    }
    return {
      idToken: body.idToken,
      email: body.email || email,
      expiresAt: Date.now() + 1000 * (Number(body.expiresIn) || 3600),
    };
  }

  async function call(name, data) {
    if (!session) throw new CallError("UNAUTHENTICATED", "not signed in");
    if (!cfg.functionsBase) throw new CallError("FAILED_PRECONDITION", "no functions to call");
    let res;
    try {
      res = await fetch(`${cfg.functionsBase}/${name}`, {
        method: "POST",
        headers: { Authorization: "Bearer " + session.idToken, "Content-Type": "application/json" },
        body: JSON.stringify({ data }),
      });
    } catch (err) {
      throw new CallError("UNAVAILABLE", `cannot reach ${name}: ${err.message}`);
    }
    const body = await res.json().catch(() => null);
    if (body && "result" in body) return body.result;
    const error = (body && body.error) || {};
    const byHttp = { 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND" };
    throw new CallError(error.status || byHttp[res.status], error.message || `HTTP ${res.status}`);
  }

  // ---- views ----

  function show(view) {
    for (const id of ["sign-in", "refused", "dashboard"]) $(id).hidden = id !== view;
    $("session").hidden = view === "sign-in";
    if (session) $("who").textContent = session.email;
  }

  function signOut(message) {
    session = null;
    lastData = null;
    clearTimeout(timer);
    timer = null;
    clearFigures();
    $("sign-in-error").textContent = message || "";
    show("sign-in");
  }

  function refused(message) {
    clearTimeout(timer);
    timer = null;
    lastData = null;
    clearFigures();
    $("refused-who").textContent = session ? session.email : "";
    $("refused-detail").textContent = message || "";
    show("refused");
  }

  function clearFigures() {
    for (const id of ["overview", "charts", "circuits", "recovery-summary", "by-category", "by-action",
      "job-reliability", "spend-tier", "period-from"]) {
      $(id).replaceChildren();
    }
    for (const id of ["providers", "predictions", "transitions", "failed-jobs", "alerts",
      "period-providers", "period-trends", "spend-days"]) {
      $(id).tBodies[0].replaceChildren();
    }
    controls.clear();
  }

  async function refresh() {
    clearTimeout(timer);
    if (!session) return;
    if (Date.now() >= session.expiresAt) return signOut("Your session expired: sign in again.");
    try {
      const data = await call("systemDashboard", {});
      if (!session) return;
      lastData = data;
      render(data);
      $("status-line").textContent = `Updated ${clock(Date.now() / 1000)} · every ${cfg.refreshSeconds} s`;
      $("status-line").classList.remove("stale");
      show("dashboard");
    } catch (err) {
      if (err.status === "PERMISSION_DENIED") return refused(err.message);
      if (err.status === "UNAUTHENTICATED") return signOut("Your session is no longer valid: sign in again.");
      const line = $("status-line");
      line.textContent = `Could not refresh (${err.message}); retrying` + (lastData ? " — figures below are from the last answer" : "");
      line.classList.add("stale");
    }
    if (session) timer = setTimeout(refresh, cfg.refreshSeconds * 1000);
  }

  function render(d) {
    const providers = (d.performance && d.performance.providers) || [];
    renderOverview(d);
    renderProviders(providers);
    renderCharts(providers);
    renderPredictions(providers);
    renderCircuits(providers);
    renderTransitions((d.circuitBreaker && d.circuitBreaker.transitions) || []);
    renderRecovery(d.errorRecovery || {});
    renderFailedJobs(d.failedJobs || []);
    renderAlerts(d.alerts || {});
    renderAnalytics(d.analytics || {});
  }

  // ---- alerts and analytics (every period from the pre-aggregated documents) ----

  let period = "24h";

  function renderAlerts(a) {
    const all = [...(a.active || []), ...(a.recent || [])];
    rows("alerts", all, (x) =>
      el("tr", { "data-alert": x.kind, "data-active": x.active ? "true" : "false" },
        el("td", {}, el("span", { class: `badge ${x.active ? "open" : "closed"}` }, x.active ? "active" : "cleared")),
        el("td", {}, x.message || x.kind),
        el("td", {}, x.providerId ? name(x.providerId) : "all"),
        el("td", {}, clock(x.startedAt)),
        el("td", {}, x.clearedAt ? clock(x.clearedAt) : "—"),
      ), "No alerts in the last day.");
  }

  function renderAnalytics(a) {
    const p = (a.periods || {})[period] || {};
    const j = p.jobs || {};
    $("period-from").textContent = p.from ? `Since ${clock(p.from)} (hour or day resolution).` : "";
    $("job-reliability").replaceChildren(
      figure("Jobs finished", num(j.finished)),
      figure("Completed", pct(j.completionRate)),
      figure("First-try success", pct(j.firstTryRate)),
      figure("Automatic recovery", pct(j.recoveryRate)),
      figure("Recovered", `${num((p.errorRecovery || {}).successfulRecoveries)} of ${num((p.errorRecovery || {}).totalRecoveries)}`),
      figure("Spend", usd((p.overall || {}).spend)),
      figure("User rating", (p.overall || {}).userSatisfaction == null ? "—" : `${p.overall.userSatisfaction.toFixed(1)} / 5`),
    );
    rows("period-providers", Object.entries(p.providers || {}), ([pid, f]) =>
      el("tr", { "data-provider": pid },
        el("th", { scope: "row" }, name(pid)),
        el("td", { class: "num" }, num(f.calls)),
        el("td", { class: "num" }, pct(f.successRate)),
        el("td", { class: "num" }, `${secs(f.latencyP50)} / ${secs(f.latencyP95)}`, small(f.averageLatency == null ? "" : `mean ${secs(f.averageLatency)}`)),
        el("td", { class: "num", "data-figure": "spend" }, usd(f.spend)),
        el("td", { class: "num" }, usd(f.costPerVideo)),
        el("td", { class: "num" }, f.quality == null ? "—" : `${f.quality.toFixed(1)} / 10`),
        el("td", { class: "num" }, f.userSatisfaction == null ? "—" : `${f.userSatisfaction.toFixed(1)} / 5 (${f.ratings})`),
      ), "No calls in this period.");
    const tiers = Object.entries(p.spendByTier || {});
    const top = Math.max(0.01, ...tiers.map(([, v]) => v));
    $("spend-tier").replaceChildren(...(tiers.length ? tiers.map(([tier, v]) =>
      el("div", { class: "bar-row", "data-tier": tier }, el("span", {}, tier), barFill((100 * v) / top), el("span", { class: "num" }, usd(v))))
      : [el("p", { class: "muted" }, "No spend in this period.")]));
    const labels = { cost: "Cost per video", quality: "Quality", success_rate: "Success rate", latency: "Latency" };
    rows("period-trends", Object.entries(p.trends || {}), ([key, t]) =>
      el("tr", { "data-trend": key },
        el("th", { scope: "row" }, labels[key] || key),
        el("td", {}, t.direction),
        el("td", { class: "num" }, `${t.changePercent >= 0 ? "+" : ""}${t.changePercent.toFixed(1)} %`),
        el("td", { class: "num" }, pct(t.confidence)),
      ));
    rows("spend-days", a.spendByDay || [], (d) =>
      el("tr", { "data-day": String(d.day) },
        el("td", {}, new Date(d.day * 1000).toISOString().slice(0, 10)),
        el("td", { class: "num" }, usd(d.total)),
        el("td", {}, Object.entries(d.byProvider || {}).map(([pid, v]) => `${name(pid)} ${usd(v)}`).join(" · ")),
        el("td", {}, Object.entries(d.byTier || {}).map(([tier, v]) => `${tier} ${usd(v)}`).join(" · ")),
      ), "No spend yet.");
  }

  function spendText(s) {
    const spent = `$${(s.todayUsd ?? 0).toFixed(2)}`;
    const held = s.reservedUsd ? ` + $${s.reservedUsd.toFixed(2)} reserved` : "";
    const brake = s.jobsPerMinute ? ` · ${s.jobsThisMinute ?? 0}/${s.jobsPerMinute} jobs this minute` : "";
    if (s.capUsd === null || s.capUsd === undefined) return `${spent}${held} (no cap)${brake}`;
    return `${spent}${held} of $${s.capUsd.toFixed(2)}` + (s.capReached ? " - cap reached" : "") + brake;
  }

  function renderOverview(d) {
    const h = d.overallHealth || {};
    const cb = d.circuitBreaker || {};
    const er = d.errorRecovery || {};
    const tiles = [
      ["System reliability (24 h)", pct(h.systemReliability), "reliability"],
      ["Mean response time (p50)", secs(h.averageResponseTime), "response"],
      ["Healthy providers", `${num(h.healthyProviders)} / ${num(h.totalProviders)}`, "healthy"],
      ["Open circuits", `${num(cb.openCircuits)}` + (cb.halfOpenCircuits ? ` (+${cb.halfOpenCircuits} half-open)` : ""), "open"],
      ["Recovered (24 h)", `${num(er.successfulRecoveries)} of ${num(er.totalRecoveries)}`, "recovered"],
      ["Spend today (UTC)", spendText(d.spend || {}), "spend"],
    ];
    $("overview").replaceChildren(
      ...tiles.map(([label, value, key]) =>
        el("div", { class: "tile", "data-figure": key }, el("div", { class: "tile-value" }, value), el("div", { class: "tile-label" }, label)),
      ),
    );
  }

  function renderProviders(providers) {
    rows("providers", providers, (p) => {
      const cap = p.capabilities || {};
      const w = p.window;
      return el("tr", { "data-provider": p.providerId },
        el("th", { scope: "row" }, name(p.providerId)),
        el("td", {}, stateBadge(p)),
        el("td", { class: "num" }, pct(p.successRate1h), small(count(p.calls1h, "call"))),
        el("td", { class: "num", "data-figure": "success24h" }, pct(p.successRate24h), small(count(p.calls24h, "call"))),
        el("td", { class: "num" }, secs(p.latencyP50)),
        el("td", { class: "num", "data-figure": "p95" }, secs(p.latencyP95)),
        el("td", { class: "num" }, usd(p.costPerVideo), small(cap.pricePerVideo != null ? `list ${usd(cap.pricePerVideo)}` : "")),
        el("td", { class: "num" }, p.quality == null ? "—" : `${p.quality.toFixed(1)} / 10`),
        el("td", { class: "num" }, `${num(p.inFlight)} / ${num(cap.concurrencyLimit)}`),
        el("td", { class: "num" }, w ? `${w.failures} of ${w.calls} calls` + (w.slow ? `, ${w.slow} slow` : "") : "—"),
      );
    });
  }

  function renderCharts(providers) {
    $("charts").replaceChildren(
      ...providers.map((p) => {
        const hourly = p.hourly || [];
        const trends = p.trends || [];
        const sr = trends.find((t) => t.metric === "success_rate");
        const lat = trends.find((t) => t.metric === "latency");
        return el("div", { class: "chart-card", "data-provider": p.providerId },
          el("h3", {}, name(p.providerId), " ", stateBadge(p)),
          el("div", { class: "chart-title" }, "Success rate ", trendLabel(sr)),
          lineChart(hourly, "successRate", { min: 0, max: 1, format: pct, cls: "success", bars: true }),
          el("div", { class: "chart-title" }, "Latency ", trendLabel(lat)),
          lineChart(hourly, "latency", { min: 0, format: secs, cls: "latency" }),
        );
      }),
    );
  }

  function trendLabel(t) {
    if (!t) return el("span", { class: "trend" }, "no trend yet");
    const arrow = t.changePercent > 0 ? "↑" : t.changePercent < 0 ? "↓" : "→";
    const change = `${t.changePercent > 0 ? "+" : ""}${Number(t.changePercent).toFixed(1)} %`;
    return el("span", { class: `trend ${t.direction}`, title: `slope ${Number(t.slopePerHour).toPrecision(3)} per hour over ${t.samples} samples` },
      `${arrow} ${t.direction} · ${change} over ${t.window} · confidence ${Number(t.confidence).toFixed(2)}`);
  }

  // A hand-drawn SVG line chart of one field of the hourly points; gaps where an hour had no data.
  function lineChart(points, field, opts) {
    const W = 520, H = 140, L = 52, R = 10, T = 10, B = 22;
    const values = points.map((p) => p[field]);
    const present = values.filter((v) => v != null);
    const max = opts.max != null ? opts.max : Math.max(...present, 0) * 1.15 || 1;
    const min = opts.min != null ? opts.min : 0;
    const n = Math.max(points.length, 2);
    const x = (i) => L + (i * (W - L - R)) / (n - 1);
    const y = (v) => T + (1 - (v - min) / (max - min || 1)) * (H - T - B);
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: `chart ${opts.cls}`, role: "img",
      "aria-label": `${field} over the last ${points.length} hours` });
    for (let k = 0; k <= 2; k++) {
      const v = min + ((max - min) * k) / 2;
      svg.append(svgEl("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      const label = svgEl("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" });
      label.textContent = opts.format(v);
      svg.append(label);
    }
    points.forEach((p, i) => {
      if (i % 6 !== 0 && i !== points.length - 1) return;
      const label = svgEl("text", { x: x(i), y: H - 6, class: "axis", "text-anchor": "middle" });
      label.textContent = hour(p.start);
      svg.append(label);
    });
    if (opts.bars) {
      const most = Math.max(...points.map((p) => p.calls || 0), 1);
      const bw = Math.max(2, (W - L - R) / n - 3);
      points.forEach((p, i) => {
        if (!p.calls) return;
        const h = ((H - T - B) * 0.35 * p.calls) / most;
        const bar = svgEl("rect", { x: x(i) - bw / 2, y: H - B - h, width: bw, height: h, class: "volume" });
        bar.append(tip(`${hour(p.start)}: ${p.calls} calls`));
        svg.append(bar);
      });
    }
    let segment = [];
    const flush = () => {
      if (segment.length > 1) svg.append(svgEl("polyline", { points: segment.join(" "), class: "line" }));
      segment = [];
    };
    values.forEach((v, i) => {
      if (v == null) return flush();
      segment.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    flush();
    values.forEach((v, i) => {
      if (v == null) return;
      const dot = svgEl("circle", { cx: x(i), cy: y(v), r: 2.6, class: "dot" });
      dot.append(tip(`${hour(points[i].start)}: ${opts.format(v)} (${points[i].calls} calls)`));
      svg.append(dot);
    });
    if (!present.length) {
      const empty = svgEl("text", { x: W / 2, y: H / 2, class: "axis", "text-anchor": "middle" });
      empty.textContent = "no data in the last 24 hours";
      svg.append(empty);
    }
    return svg;
  }

  function renderPredictions(providers) {
    rows("predictions", providers, (p) => {
      const pr = p.prediction || {};
      return el("tr", { "data-provider": p.providerId },
        el("th", { scope: "row" }, name(p.providerId)),
        el("td", { class: "num" }, pct(pr.failureRateNextHour)),
        el("td", { class: "num" }, secs(pr.responseTimeNextHour)),
        el("td", { class: "num" }, pr.recommendedConcurrency == null ? "—" : String(pr.recommendedConcurrency)),
        el("td", {}, p.computedAt ? ago(p.computedAt) : "never"),
      );
    });
  }

  // Circuit controls are built once per provider and then only updated, so a reason being
  // typed survives the refresh.
  function renderCircuits(providers) {
    const box = $("circuits");
    for (const p of providers) {
      let c = controls.get(p.providerId);
      if (!c) {
        c = buildControl(p.providerId);
        controls.set(p.providerId, c);
        box.append(c.root);
      }
      c.state.replaceChildren(stateBadge(p));
      const o = p.override;
      const lines = [];
      if (o) lines.push(`Manual ${o.mode === "forced_open" ? "open" : "close"} by ${o.by} ${ago(o.at)}: ${o.reason}` +
        (o.until ? ` (maintenance until ${clock(o.until)})` : ""));
      else if (p.lastReason) lines.push(p.lastReason);
      if (p.circuitState === "open" && !o && p.nextAttemptTime) lines.push(`next probe ${clock(p.nextAttemptTime)}`);
      const q = p.qualityReset;
      if (q) lines.push(`quality reset by ${q.by} ${ago(q.at)}: ${q.reason}`);
      c.detail.textContent = lines.join(" · ") || "automatic";
    }
  }

  function buildControl(pid) {
    const reason = el("input", { type: "text", placeholder: "Reason (required)", maxlength: "500",
      "aria-label": `Reason for changing ${name(pid)}'s circuit`, "data-reason": pid });
    const buttons = ["open", "close", "reset", "reset_quality"].map((action) =>
      el("button", { type: "button", disabled: "", "data-action": action, "data-provider": pid, class: `action ${action}` },
        { open: "Open", close: "Close", reset: "Reset", reset_quality: "Reset quality" }[action]));
    const minutes = el("input", { type: "number", min: "1", max: "1440", placeholder: "for min (optional)",
      "aria-label": `Maintenance length in minutes for ${name(pid)} (open only)`, "data-minutes": pid });
    const sync = () => buttons.forEach((b) => (b.disabled = !reason.value.trim()));
    reason.addEventListener("input", sync);
    buttons.forEach((b) => b.addEventListener("click", () => act(pid, b.dataset.action, reason, buttons, sync, minutes)));
    const state = el("span", {});
    const detail = el("div", { class: "muted detail" });
    const root = el("div", { class: "circuit", "data-provider": pid },
      el("div", { class: "circuit-head" }, el("strong", {}, name(pid)), state), detail,
      el("div", { class: "circuit-form" }, reason, minutes, ...buttons));
    return { root, state, detail, reason, buttons, minutes };
  }

  async function act(pid, action, reason, buttons, sync, minutes) {
    const why = reason.value.trim();
    if (!why) return;
    buttons.forEach((b) => (b.disabled = true));
    const result = $("control-result");
    const ask = { providerId: pid, action, reason: why };
    const span = Number(minutes && minutes.value);
    // A maintenance window: jobs with nowhere else to go wait for its end, then it probes back.
    if (action === "open" && span > 0) ask.until = Date.now() / 1000 + span * 60;
    try {
      await call("setCircuitState", ask);
      result.textContent = `${name(pid)}: ${action} recorded.`;
      result.classList.remove("stale");
      reason.value = "";
      if (minutes) minutes.value = "";
      await refresh();
    } catch (err) {
      if (err.status === "PERMISSION_DENIED") return refused(err.message);
      result.textContent = `${name(pid)}: ${action} failed — ${err.message}`;
      result.classList.add("stale");
    } finally {
      sync();
    }
  }

  function renderTransitions(transitions) {
    rows("transitions", transitions, (t) =>
      el("tr", { "data-provider": t.providerId },
        el("td", {}, clock(t.at)),
        el("td", {}, name(t.providerId)),
        el("td", {}, badge(t.from), " → ", badge(t.to)),
        el("td", { class: "reason" }, t.reason || ""),
        el("td", {}, t.by || "breaker"),
      ), "No transitions in the last 24 hours.");
  }

  function renderRecovery(er) {
    $("recovery-summary").replaceChildren(
      figure("Episodes", num(er.totalRecoveries)),
      figure("Recovered", num(er.successfulRecoveries)),
      figure("Success rate", pct(er.successRate)),
      figure("Mean recovery time", secs(er.averageRecoveryTime)),
    );
    bars("by-category", er.byCategory || {});
    bars("by-action", er.byAction || {});
  }

  function bars(id, counts) {
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
    const most = Math.max(1, ...entries.map(([, v]) => v));
    $(id).replaceChildren(
      ...(entries.length
        ? entries.map(([k, v]) =>
            el("div", { class: "bar-row", "data-key": k },
              el("span", { class: "bar-label" }, k.replace(/_/g, " ")),
              el("span", { class: "bar-track" }, barFill((100 * v) / most)),
              el("span", { class: "bar-value" }, String(v))))
        : [el("p", { class: "muted" }, "Nothing to recover from in the last 24 hours.")]),
    );
  }

  function renderFailedJobs(jobs) {
    rows("failed-jobs", jobs, (j) =>
      el("tr", {},
        el("td", {}, j.updatedAt ? clock(j.updatedAt) : "—"),
        el("td", { class: "mono" }, j.jobId),
        el("td", { class: "mono" }, j.userId || "—"),
        el("td", {}, j.error ? el("span", {}, el("code", {}, j.error.code), " ", j.error.message) : "—"),
        el("td", {}, (j.providers || []).map(name).join(" → ") || "none"),
        el("td", { class: "num" }, String(j.attempts ?? "—")),
      ), "No failed jobs.");
  }

  // ---- helpers ----

  function rows(tableId, items, row, empty) {
    const body = $(tableId).tBodies[0];
    const cols = $(tableId).tHead.rows[0].cells.length;
    body.replaceChildren(
      ...(items.length ? items.map(row) : [el("tr", {}, el("td", { colspan: String(cols), class: "muted" }, empty || "—"))]),
    );
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) if (c !== null && c !== undefined && c !== "") node.append(c);
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  function tip(text) {
    const t = svgEl("title", {});
    t.textContent = text;
    return t;
  }

  function barFill(percent) {
    const bar = el("span", { class: "bar" });
    bar.style.width = `${percent}%`; // CSSOM, not a style attribute: the CSP allows no inline style
    return bar;
  }

  function figure(label, value) {
    return el("div", { class: "figure" }, el("div", { class: "tile-value" }, value), el("div", { class: "tile-label" }, label));
  }

  function stateBadge(p) {
    const o = p.override;
    const text = STATE_LABELS[p.circuitState] || p.circuitState;
    return el("span", { class: `badge ${p.circuitState}`, "data-state": p.circuitState },
      o ? `${text} (manual)` : text);
  }

  function badge(state) {
    return el("span", { class: `badge ${state}` }, STATE_LABELS[state] || state);
  }

  const name = (pid) => NAMES[pid] || pid;
  const num = (v) => (v == null ? "—" : String(v));
  const pct = (v) => (v == null ? "—" : `${(100 * v).toFixed(1)} %`);
  const usd = (v) => (v == null ? "—" : `$${Number(v).toFixed(2)}`);
  const count = (n, noun) => (n == null ? "" : `${n} ${noun}${n === 1 ? "" : "s"}`);
  const small = (text) => (text ? el("small", {}, text) : null);

  function secs(v) {
    if (v == null) return "—";
    if (v < 1) return `${Math.round(v * 1000)} ms`;
    return v < 100 ? `${v.toFixed(1)} s` : `${Math.round(v)} s`;
  }

  function hour(epoch) {
    return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function clock(epoch) {
    const d = new Date(epoch * 1000);
    const today = new Date().toDateString() === d.toDateString();
    return today
      ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
      : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function ago(epoch) {
    const s = Math.max(0, Date.now() / 1000 - epoch);
    if (s < 60) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    return `${(s / 3600).toFixed(1)} h ago`;
  }

  // ---- start ----

  async function start() {
    await loadConfig();
    for (const b of document.querySelectorAll("button.period")) {
      b.addEventListener("click", () => {
        period = b.dataset.period;
        for (const o of document.querySelectorAll("button.period")) o.setAttribute("aria-pressed", String(o === b));
        if (lastData) renderAnalytics(lastData.analytics || {});
      });
    }
    $("sign-in-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (refusedEndpoints.length) return;
      const form = event.target;
      const button = form.querySelector("button");
      button.disabled = true;
      $("sign-in-error").textContent = "";
      try {
        session = await signIn(form.email.value.trim(), form.password.value);
        form.password.value = "";
        await refresh();
      } catch (err) {
        $("sign-in-error").textContent = err.message;
      } finally {
        button.disabled = false;
      }
    });
    $("sign-out").addEventListener("click", () => signOut());
    show("sign-in");
    if (refusedEndpoints.length) {
      // A link naming another host is refused whole: no sign-in from it at all.
      $("sign-in-form").querySelector("button").disabled = true;
      $("sign-in-form").dataset.refused = "true";
      $("sign-in-error").textContent =
        `This link asks the dashboard to talk to ${refusedEndpoints.join(" and ")}; it only ` +
        "talks to its own site and Google's sign-in. Open the dashboard without ?auth= or " +
        "?functions=.";
    }
  }

  start();
})();
