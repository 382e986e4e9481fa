/* ACD 15 supervisor console: every page's live parts.
 *
 * One file, no dependency. The server renders each page (texts already translated) and
 * puts what this script needs in <meta name="acd-..."> tags; this script fills the data,
 * keeps the live stream open and sends the supervisors' actions. Data is always written
 * with textContent (never parsed as HTML).
 */
"use strict";

(() => {
  // -- page context ---------------------------------------------------------------------------

  const meta = (name) => {
    const m = document.querySelector(`meta[name="${name}"]`);
    return m ? m.getAttribute("content") || "" : "";
  };

  const PAGE = meta("acd-page");
  const LANG = meta("acd-lang") === "en" ? "en" : "fr";
  const ROLE = meta("acd-role");
  const PARAM = meta("acd-param");
  const INSTANCE = meta("acd-instance");
  let I18N = {};
  try {
    const parsed = JSON.parse(meta("acd-i18n") || "{}");
    if (parsed && typeof parsed === "object") I18N = parsed;
  } catch (_) {
    I18N = {};
  }

  const RANKS = { viewer: 0, supervisor: 1, admin: 2 };
  const can = (needed) => (RANKS[ROLE] ?? -1) >= RANKS[needed];

  const API = "/api/v1";
  const TZ = "Europe/Paris";
  const LATENCY_CAP = 100000;

  if (!Array.isArray(window.acdLatencies)) window.acdLatencies = [];

  // -- texts ----------------------------------------------------------------------------------

  const has = (key) => Object.prototype.hasOwnProperty.call(I18N, key);

  /** The text of `key` in the page's language, `{name}` replaced from `vars`. */
  function t(key, vars) {
    let text = has(key) ? String(I18N[key]) : key;
    if (vars) {
      text = text.replace(/\{([a-z_]+)\}/g, (whole, name) =>
        Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole
      );
    }
    return text;
  }

  /** The text of `prefix + value` if the catalog has it, else the value itself. */
  const tv = (prefix, value) => {
    if (value === null || value === undefined || value === "") return "—";
    return has(prefix + value) ? t(prefix + value) : String(value);
  };

  // -- formatting -----------------------------------------------------------------------------

  const NUM = new Intl.NumberFormat(LANG);
  const PCT = new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 1 });
  const TIME = new Intl.DateTimeFormat(LANG, {
    timeZone: TZ,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const DATETIME = new Intl.DateTimeFormat(LANG, {
    timeZone: TZ,
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const DAY = new Intl.DateTimeFormat("en-CA", {
    timeZone: TZ,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });

  const DASH = "—";
  const isNum = (x) => typeof x === "number" && Number.isFinite(x);
  const num = (n) => (isNum(n) ? NUM.format(n) : DASH);
  const pct = (x) => (isNum(x) ? PCT.format(x) : DASH);
  const pad2 = (n) => String(n).padStart(2, "0");
  const nowS = () => Date.now() / 1000;

  /** Seconds as mm:ss (h:mm:ss past an hour). */
  function clock(seconds) {
    if (!isNum(seconds)) return DASH;
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = s % 60;
    return h > 0 ? `${h}:${pad2(m)}:${pad2(rest)}` : `${pad2(m)}:${pad2(rest)}`;
  }

  /** A short duration: "12 s" under a minute, mm:ss beyond. */
  function secs(seconds) {
    if (!isNum(seconds)) return DASH;
    if (seconds < 60) return t("unit.seconds", { n: NUM.format(Math.round(seconds)) });
    return clock(seconds);
  }

  /** Epoch seconds as a local (Paris) time; with the date when it is not today. */
  function when(epoch, withDate) {
    if (!isNum(epoch)) return DASH;
    const d = new Date(epoch * 1000);
    if (withDate === true) return DATETIME.format(d);
    if (withDate === false) return TIME.format(d);
    return DAY.format(d) === DAY.format(new Date()) ? TIME.format(d) : DATETIME.format(d);
  }

  /** A `datetime-local` value read as Paris time, in epoch seconds. */
  function parisToEpoch(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
    if (!m) return null;
    const asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    const offsetAt = (ms) => {
      const parts = {};
      for (const p of new Intl.DateTimeFormat("en-GB", {
        timeZone: TZ,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      }).formatToParts(new Date(ms))) {
        parts[p.type] = p.value;
      }
      const local = Date.UTC(
        +parts.year,
        +parts.month - 1,
        +parts.day,
        +parts.hour,
        +parts.minute,
        +parts.second
      );
      return local - ms;
    };
    let guess = asUtc - offsetAt(asUtc);
    guess = asUtc - offsetAt(guess);
    return guess / 1000;
  }

  // -- DOM ------------------------------------------------------------------------------------

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  /** An element: attributes (`text`, `class`, `data-*`, `on<event>` listeners), children. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === "text") node.textContent = String(v);
        else if (k === "class") node.className = v;
        else if (k.startsWith("on") && typeof v === "function") {
          node.addEventListener(k.slice(2), v);
        } else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** Set a node's text only when it changed (cheap on a busy wallboard). */
  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function setData(node, name, value) {
    const v = value === null || value === undefined ? "" : String(value);
    if (node && node.dataset[name] !== v) node.dataset[name] = v;
  }

  /** Make `tbody`'s keyed rows follow `items` in order, reusing the rows already there. */
  function reconcile(tbody, items, keyOf, create, update) {
    const old = new Map();
    for (const row of Array.from(tbody.children)) {
      if (row.acdKey !== undefined) old.set(row.acdKey, row);
      else row.remove();
    }
    let prev = null;
    for (const item of items) {
      const key = keyOf(item);
      let row = old.get(key);
      if (row) old.delete(key);
      else {
        row = create(item);
        row.acdKey = key;
      }
      update(row, item);
      const expected = prev ? prev.nextSibling : tbody.firstChild;
      if (row !== expected) tbody.insertBefore(row, expected);
      prev = row;
    }
    for (const row of old.values()) row.remove();
  }

  function showEmpty(id, empty) {
    const node = document.getElementById(id);
    if (node) node.hidden = !empty;
  }

  /** A row of `td`s named by field: `row.acd[field]` is the cell. */
  function makeRow(attrs, fields) {
    const row = el("tr", attrs);
    row.acd = {};
    for (const f of fields) {
      const name = typeof f === "string" ? f : f[0];
      const cls = typeof f === "string" ? null : f[1];
      const td = el("td", { "data-field": name, class: cls });
      row.acd[name] = td;
      row.append(td);
    }
    return row;
  }

  // -- notices --------------------------------------------------------------------------------

  const toastKeys = new Map();

  /** A notice in the corner; the same `key` replaces rather than stacks. */
  function toast(kind, title, lines, key) {
    const box = document.getElementById("toasts");
    if (!box) return;
    if (key && toastKeys.has(key)) {
      const old = toastKeys.get(key);
      if (old.isConnected) old.remove();
    }
    const item = el(
      "div",
      {
        class: `toast toast-${kind}`,
        role: kind === "error" ? "alert" : "status",
        "data-testid": "toast",
        "data-kind": kind,
      },
      el("p", { class: "toast-title", text: title })
    );
    const details = (lines || []).filter((l) => l);
    if (details.length) {
      item.append(el("ul", { class: "toast-lines" }, details.map((l) => el("li", { text: l }))));
    }
    const close = el("button", {
      type: "button",
      class: "toast-close",
      "aria-label": t("common.close"),
      title: t("common.close"),
    });
    close.addEventListener("click", () => item.remove());
    item.prepend(close);
    box.append(item);
    if (key) toastKeys.set(key, item);
    const life = kind === "error" ? 10000 : 4000;
    setTimeout(() => {
      item.remove();
      if (key && toastKeys.get(key) === item) toastKeys.delete(key);
    }, life);
  }

  /** A refusal from the API. */
  class ApiFailure extends Error {
    constructor(status, slug, message, details, retryAfter) {
      super(message || slug);
      this.status = status;
      this.slug = slug;
      this.details = details === undefined ? null : details;
      this.retryAfter = retryAfter;
    }
  }

  /** The translated text of a refusal (the server's sentence when the slug is unknown here). */
  function errorText(err) {
    const key = `error.${err.slug}`;
    return has(key) ? t(key) : err.message || t("error.internal-error");
  }

  /** The details of a refusal as lines: config errors, field issues. */
  function detailLines(details) {
    if (!Array.isArray(details)) return [];
    return details.map((d) => {
      if (typeof d === "string") return d;
      if (d && typeof d === "object" && "msg" in d) return `${d.loc || ""}: ${d.msg}`;
      try {
        return JSON.stringify(d);
      } catch (_) {
        return String(d);
      }
    });
  }

  function showError(err) {
    const lines = [];
    const title = errorText(err);
    if (err.message && err.message !== title) lines.push(err.message);
    lines.push(...detailLines(err.details));
    toast("error", title, lines, `error:${err.slug}`);
  }

  function goLogin() {
    const next = location.pathname + location.search;
    location.assign(`/login?next=${encodeURIComponent(next)}`);
  }

  // -- API ------------------------------------------------------------------------------------

  /**
   * One API call: JSON in and out, the CSRF token on changes. Refusals are shown (unless
   * `opts.quiet`) and thrown as ApiFailure; a lost session goes to the login page. A change
   * refused for its CSRF token (a new session since the page loaded) fetches the current
   * token from `me` once and is sent once more.
   */
  async function api(method, path, body, opts) {
    const o = opts || {};
    const changes = method !== "GET" && method !== "HEAD";
    const url = path.startsWith("/") ? path : API + "/" + path;
    const send = () => {
      const headers = { Accept: "application/json" };
      const init = { method, credentials: "same-origin", headers, cache: "no-store" };
      if (changes) headers["X-CSRF-Token"] = meta("acd-csrf");
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(url, init);
    };
    const csrfRefused = async (r) => {
      if (r.status !== 403 || !changes) return false;
      try {
        const d = await r.clone().json();
        return Boolean(d && d.error && d.error.slug === "csrf-failed");
      } catch (_) {
        return false;
      }
    };
    const freshCsrf = async () => {
      const me = await fetch(API + "/me", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      if (!me.ok) return false;
      let d = null;
      try {
        d = await me.json();
      } catch (_) {
        d = null;
      }
      const token = d && typeof d.csrf === "string" ? d.csrf : "";
      const tag = document.querySelector('meta[name="acd-csrf"]');
      if (!token || !tag) return false;
      tag.setAttribute("content", token);
      return true;
    };
    let res;
    try {
      res = await send();
      if ((await csrfRefused(res)) && (await freshCsrf())) res = await send();
    } catch (_) {
      const err = new ApiFailure(0, "network", t("error.network"), null);
      if (!o.quiet) showError(err);
      throw err;
    }
    if (res.status === 204) return null;
    let doc = null;
    try {
      doc = await res.json();
    } catch (_) {
      doc = null;
    }
    if (!res.ok) {
      const e = (doc && doc.error) || {};
      const err = new ApiFailure(
        res.status,
        e.slug || (res.status === 401 ? "not-authenticated" : "internal-error"),
        e.message || res.statusText,
        e.details,
        res.headers.get("Retry-After")
      );
      if (res.status === 401 && !o.noRedirect) {
        goLogin();
        throw err;
      }
      if (!o.quiet) showError(err);
      throw err;
    }
    return doc;
  }

  const enc = encodeURIComponent;

  // -- throttling and timers ------------------------------------------------------------------

  /**
   * `fn` (async) run at most every `ms`, never twice at once; calls in between make one
   * more run once allowed.
   */
  function throttled(fn, ms) {
    let last = 0;
    let running = false;
    let pending = false;
    let timer = null;
    const run = async () => {
      timer = null;
      if (running) {
        pending = true;
        return;
      }
      running = true;
      pending = false;
      last = Date.now();
      try {
        await fn();
      } catch (_) {
        // shown by api()
      } finally {
        running = false;
        if (pending) schedule();
      }
    };
    const schedule = () => {
      if (timer !== null) return;
      const wait = Math.max(0, last + ms - Date.now());
      timer = setTimeout(run, wait);
    };
    const call = () => {
      if (running) pending = true;
      else schedule();
    };
    call.now = () => {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      return run();
    };
    return call;
  }

  /** Run `fn` every `ms` while the page is shown (and once at once if `now`). */
  function every(ms, fn) {
    setInterval(() => {
      if (!document.hidden) fn();
    }, ms);
  }

  // -- header ---------------------------------------------------------------------------------

  let instanceRole = null;

  function updateInstance(inst) {
    if (!inst || typeof inst !== "object") return;
    const badge = document.getElementById("instance-role");
    if (badge) {
      setText(badge, tv("instance.", inst.role));
      setData(badge, "state", inst.role);
    }
    const epoch = document.getElementById("instance-epoch");
    if (epoch) setText(epoch, t("header.epoch", { epoch: inst.epoch ?? DASH }));
    const banner = document.getElementById("standby-banner");
    if (banner) {
      const standing = inst.role !== "active";
      if (banner.hidden === standing) banner.hidden = !standing;
      setData(banner, "state", inst.role);
      setText(
        document.getElementById("standby-text"),
        inst.role === "fenced" ? t("banner.fenced") : t("banner.standby")
      );
      setText(
        document.getElementById("standby-leader"),
        standing && inst.leader ? t("banner.leader", { leader: inst.leader }) : ""
      );
    }
    document.body.classList.toggle("standby", inst.role !== "active");
    instanceRole = inst.role;
  }

  function setupHeader() {
    const titleKey = meta("acd-title-key");
    if (titleKey) document.title = `${t(titleKey)}${PARAM ? " " + PARAM : ""} · ${INSTANCE}`;
    const role = document.getElementById("user-role");
    if (role) role.textContent = tv("role.", ROLE);
    for (const a of $$("[data-nav]")) {
      const here = a.dataset.nav === PAGE || (PAGE === "department" && a.dataset.nav === "wallboard");
      if (here) a.setAttribute("aria-current", "page");
    }
    const next = location.pathname + location.search;
    for (const a of $$("a[data-lang]")) {
      a.href = `/lang/${a.dataset.lang}?next=${enc(next)}`;
      if (a.dataset.lang === LANG) a.setAttribute("aria-current", "true");
    }
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        logout.disabled = true;
        try {
          await api("POST", `${API}/logout`, undefined, { quiet: true, noRedirect: true });
        } catch (_) {
          // the session may be gone already: the login page is where to go anyway
        }
        location.assign("/login");
      });
    }
    for (const b of $$('[data-action="reload-config"]')) {
      b.addEventListener("click", () => reloadConfig(b));
    }
  }

  /** Reload the configuration (admins): the outcome in a notice, and on the config page. */
  async function reloadConfig(button) {
    if (button) button.disabled = true;
    try {
      const r = await api("POST", `${API}/config/reload`, undefined, { quiet: true });
      const title = t(`config.reload-${r.status}`, { version: r.version || DASH });
      if (PAGE === "config") Config.showReload(r.status, r.version, []);
      else toast(r.status === "applied" ? "ok" : "info", title, [], "reload");
      return r;
    } catch (err) {
      if (err.slug === "config-rejected") {
        const lines = detailLines(err.details);
        if (PAGE === "config") Config.showReload("rejected", null, lines);
        else toast("error", t("error.config-rejected"), lines, "reload");
      } else showError(err);
      return null;
    } finally {
      if (button) button.disabled = false;
      if (PAGE === "config") Config.refresh().catch(() => {});
    }
  }

  // -- live stream ----------------------------------------------------------------------------

  const Stream = {
    ws: null,
    attempt: 0,
    opened: false,
    live: false,
    lastMessage: 0,
    pingTimer: null,
    handlers: { wallboard: [], tiles: [] },

    on(type, fn) {
      this.handlers[type].push(fn);
    },

    start() {
      this.connect();
      setInterval(() => this.watch(), 1000);
    },

    connect() {
      this.setState(this.attempt ? "reconnecting" : "connecting");
      const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + `${API}/stream`;
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (_) {
        this.retry();
        return;
      }
      this.ws = ws;
      this.opened = false;
      ws.addEventListener("open", () => {
        this.opened = true;
        this.lastMessage = Date.now();
        this.pingTimer = setInterval(() => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
        }, 30000);
      });
      ws.addEventListener("message", (ev) => this.receive(ev.data));
      ws.addEventListener("close", (ev) => {
        clearInterval(this.pingTimer);
        this.pingTimer = null;
        if (this.ws === ws) this.ws = null;
        this.live = false;
        if (ev.code === 4401) {
          goLogin();
          return;
        }
        if (!this.opened) {
          // refused before opening: a lost session sends to the login page
          api("GET", `${API}/me`, undefined, { quiet: true }).catch(() => {});
        }
        this.retry();
      });
    },

    retry() {
      const delay = Math.min(10000, 1000 * 2 ** Math.min(this.attempt, 4));
      this.attempt += 1;
      this.setState("reconnecting");
      setTimeout(() => this.connect(), delay);
    },

    setState(state, seconds) {
      const node = document.getElementById("conn");
      if (!node) return;
      setData(node, "state", state);
      setText(node, t(`conn.${state}`, { s: seconds ?? "" }));
      document.body.classList.toggle("stream-down", state !== "live");
    },

    /** Every second: a socket that stopped bringing pushes is shown as stale. */
    watch() {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.lastMessage) return;
      const quiet = (Date.now() - this.lastMessage) / 1000;
      if (quiet > 5) this.setState("stale", Math.round(quiet));
    },

    receive(data) {
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (_) {
        return;
      }
      if (!msg || typeof msg !== "object") return;
      this.lastMessage = Date.now();
      if (!this.live && (msg.type === "wallboard" || msg.type === "tiles" || msg.type === "hello")) {
        this.live = true;
        this.attempt = 0;
        this.setState("live");
      } else if (this.live) {
        const node = document.getElementById("conn");
        if (node && node.dataset.state !== "live") this.setState("live");
      }
      if (msg.type === "wallboard") {
        updateInstance(msg.instance);
        for (const fn of this.handlers.wallboard) fn(msg);
      } else if (msg.type === "tiles") {
        updateInstance(msg.instance);
        for (const fn of this.handlers.tiles) fn(msg);
        if (isNum(msg.at)) recordLatency(msg.at);
      }
    },
  };

  /** The benchmark's hook: how late a change reached this page's DOM, in seconds. */
  function recordLatency(at) {
    let list = window.acdLatencies;
    if (!Array.isArray(list)) {
      list = [];
      window.acdLatencies = list;
    }
    if (list.length >= LATENCY_CAP) list.splice(0, list.length - LATENCY_CAP + 1000);
    list.push(Date.now() / 1000 - at);
  }

  // -- tiles (wallboard and department summary) -----------------------------------------------

  const Board = {
    amber: 30,
    red: 60,
    target: 0.99,
    targetS: 60,
    set(msg) {
      if (isNum(msg.wait_amber_s)) this.amber = msg.wait_amber_s;
      if (isNum(msg.wait_red_s)) this.red = msg.wait_red_s;
      if (isNum(msg.service_level_target)) this.target = msg.service_level_target;
      if (isNum(msg.target_s)) this.targetS = msg.target_s;
    },
    level(wait) {
      if (wait >= this.red) return "red";
      if (wait >= this.amber) return "amber";
      return "ok";
    },
  };

  const LEVEL_RANK = { ok: 0, amber: 1, red: 2 };
  const AGENT_SEGMENTS = [
    ["available", "state.available"],
    ["offered", "state.offered"],
    ["on_call", "state.on-call"],
    ["wrapup", "state.wrap-up"],
    ["paused", "state.paused"],
  ];

  /** A tile's elements (filled by fillTile); a link to the department on the wallboard. */
  function buildTile(dept, link) {
    const f = {};
    const field = (name, tag, cls) => {
      const node = el(tag || "span", { class: cls, "data-field": name });
      f[name] = node;
      return node;
    };
    const metric = (name, label, cls) =>
      el(
        "div",
        { class: `metric ${cls || ""}` },
        field(name, "span", "metric-value"),
        el("span", { class: "metric-label", text: t(label) })
      );
    const stat = (label, ...nodes) =>
      el("div", { class: "stat" }, el("dt", { text: t(label) }), el("dd", null, ...nodes));

    const bar = el("div", { class: "agent-bar", "aria-hidden": "true" });
    f.bar = {};
    for (const [k] of AGENT_SEGMENTS) {
      const seg = el("span", { class: `seg seg-${k}` });
      f.bar[k] = seg;
      bar.append(seg);
    }
    const root = el(
      link ? "a" : "div",
      {
        class: "tile level-ok",
        "data-testid": "tile",
        "data-dept": dept,
        href: link ? `/departments/${enc(dept)}` : null,
      },
      el(
        "div",
        { class: "tile-head" },
        el(
          "span",
          { class: "tile-title" },
          field("name", "span", "tile-name"),
          " ",
          field("dept", "span", "tile-id")
        ),
        el(
          "span",
          { class: "tile-badges" },
          field("crisis", "span", "badge badge-crisis"),
          field("level", "span", "badge badge-level")
        )
      ),
      el(
        "div",
        { class: "tile-main" },
        metric("waiting", "tile.waiting", "metric-waiting"),
        metric("longest_wait_s", "tile.longest-wait", "metric-wait"),
        metric("available", "tile.available", "metric-available")
      ),
      bar,
      field("no_agents", "p", "tile-warning"),
      el(
        "dl",
        { class: "tile-agents" },
        stat("tile.offered", field("offered")),
        stat("tile.on-call", field("on_call")),
        stat("tile.wrap-up", field("wrapup")),
        stat("tile.paused", field("paused")),
        stat("tile.logged-in", field("logged_in"))
      ),
      el(
        "dl",
        { class: "tile-stats" },
        stat("tile.sl-today", field("service_level_today", "span", "sl")),
        stat("tile.answered-today", field("answered_today")),
        stat("tile.sl-hour", field("service_level_last_hour", "span", "sl")),
        stat("tile.sl", field("service_level", "span", "sl")),
        stat("tile.estimated-wait", field("estimated_wait_s")),
        stat("tile.answered", field("answered")),
        stat(
          "tile.abandoned",
          field("abandoned"),
          el("span", { class: "sub" }, " (", field("short_abandoned"), ")")
        ),
        stat(
          "tile.overflow",
          el("span", { class: "dir", text: "↗ " }),
          field("overflowed_out"),
          el("span", { class: "dir", text: "  ↙ " }),
          field("overflowed_in")
        ),
        stat("tile.fallback", field("fallback"))
      ),
      el(
        "div",
        { class: "tile-foot" },
        el("div", { class: "tile-rules" }, el("span", { class: "foot-label", text: t("tile.rules") }), field("active_rules", "span", "chips")),
        el("div", { class: "tile-partners" }, el("span", { class: "foot-label", text: t("tile.partners") }), field("partners", "span", "chips"))
      )
    );
    f.sub = $(".sub", root);
    return { root, f, data: null, received: 0, level: "ok" };
  }

  /** Fill a tile from the server's figures. */
  function fillTile(tile, v) {
    const { f } = tile;
    tile.data = v;
    tile.received = nowS();
    setText(f.name, v.name || v.dept);
    setText(f.dept, v.dept);
    setText(f.waiting, String(v.waiting));
    setData(f.waiting, "value", v.waiting);
    const a = v.agents || {};
    setText(f.available, String(a.available ?? 0));
    f.available.classList.toggle("zero", !a.available);
    setText(f.offered, num(a.offered));
    setText(f.on_call, num(a.on_call));
    setText(f.wrapup, num(a.wrapup));
    setText(f.paused, num(a.paused));
    setText(f.logged_in, num(a.logged_in));
    const total = AGENT_SEGMENTS.reduce((s, [k]) => s + (a[k] || 0), 0);
    for (const [k, label] of AGENT_SEGMENTS) {
      const seg = f.bar[k];
      const n = a[k] || 0;
      const grow = String(n);
      if (seg.style.flexGrow !== grow) seg.style.flexGrow = grow;
      const tip = t("tile.segment", { label: t(label), n });
      if (seg.title !== tip) seg.title = tip;
    }
    tile.root.classList.toggle("no-agents", !a.logged_in);
    setText(f.no_agents, a.logged_in ? "" : t("tile.no-agents"));
    f.no_agents.hidden = !!a.logged_in;
    f.bar.available.parentNode.hidden = total === 0;

    fillSl(f.service_level, v.service_level);
    fillSl(f.service_level_last_hour, v.service_level_last_hour);
    fillSl(f.service_level_today, v.today ? v.today.service_level : null);
    setText(f.answered_today, v.today ? num(v.today.answered) : "—");
    setText(f.estimated_wait_s, secs(v.estimated_wait_s));
    setText(f.answered, num(v.answered));
    setText(f.abandoned, num(v.abandoned));
    setText(f.short_abandoned, t("tile.short", { n: num(v.short_abandoned) }));
    setText(f.overflowed_out, num(v.overflowed_out));
    setText(f.overflowed_in, num(v.overflowed_in));
    setText(f.fallback, num(v.fallback));
    f.fallback.classList.toggle("warn", (v.fallback || 0) > 0);

    setText(f.crisis, v.crisis ? t("tile.crisis") : "");
    f.crisis.hidden = !v.crisis;
    tile.root.classList.toggle("crisis", !!v.crisis);

    fillChips(f.active_rules, v.active_rules || [], (r) => el("span", { class: "chip chip-rule", text: r }));
    f.active_rules.parentNode.hidden = !(v.active_rules || []).length;
    fillChips(f.partners, v.partners || [], partnerChip);
    f.partners.parentNode.hidden = !(v.partners || []).length;
    tickTile(tile);
  }

  function fillSl(node, value) {
    const below = isNum(value) && value < Board.target;
    setText(node, isNum(value) ? (below ? "▼ " : "") + pct(value) : DASH);
    node.classList.toggle("below", below);
    const tip = t("tile.sl-target", { target: pct(Board.target), s: num(Board.targetS) });
    if (node.title !== tip) node.title = tip;
  }

  function fillChips(container, items, make) {
    const key = JSON.stringify(items);
    if (container.acdKey === key) return;
    container.acdKey = key;
    container.replaceChildren(...items.map(make));
  }

  function partnerChip(p) {
    const stale = p.kind === "external" && (!isNum(p.age_s) || p.age_s > 60);
    const load = isNum(p.waiting)
      ? t("tile.partner-load", { waiting: num(p.waiting), free: num(p.available_agents) })
      : t("tile.partner-unknown");
    return el(
      "span",
      {
        class: `chip chip-partner${stale ? " stale" : ""}`,
        title: `${p.name} (${p.partner})${isNum(p.age_s) ? " · " + t("tile.partner-age", { s: secs(p.age_s) }) : ""}`,
        "data-partner": p.partner,
      },
      el("strong", { text: p.partner }),
      " ",
      load
    );
  }

  /** The longest wait ticks between pushes; the level follows it. */
  function tickTile(tile) {
    const v = tile.data;
    if (!v) return;
    const f = tile.f;
    const grown = v.waiting > 0 ? v.longest_wait_s + Math.max(0, nowS() - tile.received) : 0;
    setText(f.longest_wait_s, clock(grown));
    setData(f.longest_wait_s, "value", Math.floor(grown));
    const server = v.level || "ok";
    const local = Board.level(grown);
    const level = LEVEL_RANK[local] > LEVEL_RANK[server] ? local : server;
    if (tile.level !== level || !tile.root.classList.contains(`level-${level}`)) {
      tile.root.classList.remove("level-ok", "level-amber", "level-red");
      tile.root.classList.add(`level-${level}`);
      tile.level = level;
    }
    setText(f.level, t(`level.${level}`));
    setData(tile.root, "level", level);
  }

  // -- agents (department and agents pages) ---------------------------------------------------

  const PAUSE_REASONS = ["break", "training", "meeting", "other"];

  const Dialogs = {
    pause: null,
    overflow: null,

    /** Ask a pause reason for `agent`; resolves to the reason, or null if cancelled. */
    askPause(agent) {
      if (!this.pause) this.pause = this.buildPause();
      const d = this.pause;
      d.title.textContent = t("pause.title", { name: agent.name || agent.agent });
      d.select.value = "break";
      d.other.value = "";
      d.otherWrap.hidden = true;
      d.error.hidden = true;
      if (!d.node.open) d.node.showModal();
      d.select.focus();
      return new Promise((resolve) => {
        d.resolve = resolve;
      });
    },

    buildPause() {
      const select = el(
        "select",
        { "data-testid": "pause-reason", id: "pause-reason" },
        PAUSE_REASONS.map((r) => el("option", { value: r, text: t(`pause.reason.${r}`) }))
      );
      const other = el("input", {
        type: "text",
        id: "pause-other",
        "data-testid": "pause-reason-other",
        maxlength: "200",
        autocomplete: "off",
      });
      const otherWrap = el("label", { class: "field" }, t("pause.other"), other);
      const error = el("p", { class: "form-error", role: "alert", text: t("pause.other-needed") });
      const title = el("h2");
      const form = el(
        "form",
        { method: "dialog" },
        title,
        el("label", { class: "field" }, t("pause.reason"), select),
        otherWrap,
        error,
        el(
          "div",
          { class: "dialog-buttons" },
          el("button", { type: "button", class: "btn", "data-testid": "pause-cancel", "data-action": "cancel", text: t("common.cancel") }),
          el("button", { type: "submit", class: "btn btn-primary", "data-testid": "pause-confirm", "data-action": "confirm-pause", text: t("action.pause") })
        )
      );
      const node = el("dialog", { class: "dialog", "data-testid": "pause-dialog" }, form);
      document.body.append(node);
      const d = { node, select, other, otherWrap, error, title, resolve: null };
      const finish = (value) => {
        const resolve = d.resolve;
        d.resolve = null;
        if (node.open) node.close();
        if (resolve) resolve(value);
      };
      other.addEventListener("input", () => {
        error.hidden = true;
      });
      select.addEventListener("change", () => {
        error.hidden = true;
        otherWrap.hidden = select.value !== "other";
        if (!otherWrap.hidden) other.focus();
      });
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        let reason;
        if (select.value === "other") {
          reason = other.value.trim();
          if (!reason) {
            error.hidden = false;
            other.focus();
            return;
          }
        } else {
          reason = t(`pause.reason.${select.value}`);
          const extra = other.value.trim();
          if (extra && !otherWrap.hidden) reason = `${reason} : ${extra}`;
        }
        finish(reason.slice(0, 200));
      });
      $('[data-action="cancel"]', form).addEventListener("click", () => finish(null));
      node.addEventListener("close", () => finish(null));
      return d;
    },

    /** Let a supervisor send a waiting call to a partner of their choice. */
    async forceOverflow(call, done) {
      if (!this.overflow) this.overflow = this.buildOverflow();
      const d = this.overflow;
      d.call = call.call;
      d.done = done;
      d.title.textContent = t("force.title", { call: call.call });
      d.body.replaceChildren(el("p", { class: "placeholder", text: t("common.loading") }));
      if (!d.node.open) d.node.showModal();
      let opts;
      try {
        opts = await api("GET", `${API}/calls/${enc(call.call)}/overflow-options`, undefined, { quiet: true });
      } catch (err) {
        d.body.replaceChildren(el("p", { class: "form-error", role: "alert", text: errorText(err) }));
        return;
      }
      if (d.call !== call.call) return;
      if (!opts.options.length) {
        d.body.replaceChildren(el("p", { class: "empty", text: t("force.none") }));
        return;
      }
      const rows = opts.options.map((o) => {
        const send = el("button", {
          type: "button",
          class: `btn ${o.verdict === "accept" ? "btn-primary" : "btn-warn"}`,
          "data-action": "send-overflow",
          "data-partner": o.partner,
          "data-testid": "overflow-send",
          text: t("force.send"),
        });
        send.addEventListener("click", () => this.sendOverflow(o, send));
        return el(
          "tr",
          { "data-testid": "overflow-option", "data-partner": o.partner, "data-verdict": o.verdict },
          el("td", null, el("strong", { text: o.name }), " ", el("span", { class: "muted", text: `(${o.partner})` }),
            o.in_chain ? el("span", { class: "badge badge-chain", text: t("force.in-chain") }) : null),
          el("td", { "data-field": "verdict" },
            el("span", { class: `verdict verdict-${o.verdict}`, text: tv("verdict.", o.verdict) }),
            el("span", { class: "verdict-text", text: o.verdict_text })),
          el("td", { class: "num", text: num(o.waiting) }),
          el("td", { class: "num", text: num(o.available_agents) }),
          el("td", { class: "num", text: secs(o.estimated_wait_s) }),
          el("td", { class: "num", text: o.kind === "external" ? secs(o.age_s) : DASH }),
          el("td", null, send)
        );
      });
      d.body.replaceChildren(
        el(
          "table",
          { class: "data compact", "data-testid": "overflow-options" },
          el(
            "thead",
            null,
            el(
              "tr",
              null,
              ["col.partner", "force.verdict", "col.waiting", "col.available", "col.estimated-wait", "col.reading-age", "col.actions"].map(
                (k) => el("th", { scope: "col", text: t(k) })
              )
            )
          ),
          el("tbody", null, rows)
        )
      );
    },

    async sendOverflow(option, button) {
      const d = this.overflow;
      if (option.verdict !== "accept" && !button.classList.contains("confirm-refused")) {
        // the look-ahead refuses: a second click confirms
        button.classList.add("confirm-refused");
        button.textContent = t("force.confirm-refused");
        return;
      }
      button.disabled = true;
      try {
        await api("POST", `${API}/calls/${enc(d.call)}/overflow`, { partner: option.partner });
        toast("ok", t("force.sent", { call: d.call, partner: option.name }), [], "force");
        d.node.close();
        if (d.done) d.done();
      } catch (_) {
        button.disabled = false;
      }
    },

    buildOverflow() {
      const title = el("h2");
      const body = el("div", { class: "dialog-body" });
      const close = el("button", { type: "button", class: "btn", "data-testid": "overflow-cancel", "data-action": "cancel", text: t("common.close") });
      const node = el(
        "dialog",
        { class: "dialog dialog-wide", "data-testid": "overflow-dialog" },
        title,
        el("p", { class: "hint", text: t("force.hint") }),
        body,
        el("div", { class: "dialog-buttons" }, close)
      );
      close.addEventListener("click", () => node.close());
      node.addEventListener("close", () => {
        this.overflow.call = null;
      });
      document.body.append(node);
      return { node, title, body, call: null, done: null };
    },
  };

  /** The actions a supervisor may take on an agent in this state. */
  function agentActions(a) {
    switch (a.state) {
      case "logged-out":
        return ["login"];
      case "paused":
        return ["unpause", "logout"];
      case "available":
        return ["pause", "logout"];
      default: // offered, on-call, wrap-up: the pause or logout waits for the call to end
        return [a.pending_pause ? null : "pause", a.pending_logout ? null : "logout"].filter(Boolean);
    }
  }

  async function agentAction(a, action, done) {
    let body;
    if (action === "pause") {
      const reason = await Dialogs.askPause(a);
      if (reason === null) return;
      body = { reason };
    }
    try {
      await api("POST", `${API}/agents/${enc(a.agent)}/${action}`, body);
      toast("ok", t(`agent.done.${action}`, { name: a.name || a.agent }), [], `agent:${a.agent}`);
    } catch (_) {
      // shown
    }
    if (done) done();
  }

  function agentStateText(a) {
    let text = tv("state.", a.state);
    if (a.pending_pause) text += ` · ${t("agent.pending-pause")}`;
    if (a.pending_logout) text += ` · ${t("agent.pending-logout")}`;
    return text;
  }

  /** Agent rows: the department and agents pages share them. */
  function agentRows(tbody, agents, opts) {
    const fields = ["name", "state", ["in_state", "num"], "pause_reason", "call", ["calls", "num"]];
    if (opts.depts) fields.push("depts");
    if (can("supervisor")) fields.push(["actions", "actions"]);
    const received = nowS();
    reconcile(
      tbody,
      agents,
      (a) => a.agent,
      (a) => makeRow({ "data-testid": "agent-row", "data-agent": a.agent }, fields),
      (row, a) => {
        const c = row.acd;
        row.acdAgent = a;
        row.acdBase = { in_state_s: a.in_state_s, at: received };
        if (c.name.acdKey !== a.name) {
          c.name.acdKey = a.name;
          c.name.replaceChildren(el("span", { class: "agent-name", text: a.name || a.agent }), " ", el("span", { class: "muted", text: a.agent }));
        }
        setText(c.state, agentStateText(a));
        setData(c.state, "state", a.state);
        setData(row, "state", a.state);
        c.state.className = `state state-${a.state}`;
        setText(c.in_state, clock(a.in_state_s));
        setText(c.pause_reason, a.pause_reason || a.pending_pause || "");
        setText(c.call, a.call || "");
        setText(c.calls, num(a.calls));
        if (c.depts) setText(c.depts, (a.depts || []).join(", "));
        if (c.actions) {
          const acts = agentActions(a);
          const key = acts.join(",");
          if (c.actions.acdKey !== key) {
            c.actions.acdKey = key;
            c.actions.replaceChildren(
              ...acts.map((action) => {
                const b = el("button", {
                  type: "button",
                  class: `btn btn-small btn-${action}`,
                  "data-action": action,
                  text: t(`action.${action}`),
                });
                b.addEventListener("click", async () => {
                  b.disabled = true;
                  await agentAction(row.acdAgent, action, opts.refresh);
                  b.disabled = false;
                });
                return b;
              })
            );
          }
        }
      }
    );
  }

  /** Times in state tick every second. */
  function tickAgents(tbody) {
    const now = nowS();
    for (const row of tbody.children) {
      if (!row.acdBase) continue;
      setText(row.acd.in_state, clock(row.acdBase.in_state_s + now - row.acdBase.at));
    }
  }

  /** The department list (for filters), from the wallboard. */
  async function fillDeptSelect(select, chosen) {
    try {
      const board = await api("GET", `${API}/wallboard`, undefined, { quiet: true });
      for (const tile of board.tiles) {
        select.append(el("option", { value: tile.dept, text: `${tile.dept} · ${tile.name}` }));
      }
    } catch (_) {
      // the filter stays with "all"
    }
    if (chosen && ![...select.options].some((o) => o.value === chosen)) {
      select.append(el("option", { value: chosen, text: chosen }));
    }
    select.value = chosen || "";
  }

  /** Keep a page's filters in its address (a reload or a shared link keeps them). */
  function keepInUrl(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    const s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? `?${s}` : ""));
    for (const a of $$("a[data-lang]")) {
      a.href = `/lang/${a.dataset.lang}?next=${enc(location.pathname + location.search)}`;
    }
  }

  // -- pages ----------------------------------------------------------------------------------

  const Wallboard = {
    tiles: new Map(),

    start() {
      this.box = document.getElementById("tiles");
      Stream.on("wallboard", (msg) => this.whole(msg));
      Stream.on("tiles", (msg) => this.some(msg));
      every(1000, () => {
        for (const tile of this.tiles.values()) tickTile(tile);
      });
      // without the stream (a proxy that blocks WebSockets), read the board every 5 s
      every(5000, async () => {
        if (Stream.live) return;
        try {
          this.whole(await api("GET", `${API}/wallboard`, undefined, { quiet: true }));
        } catch (_) {
          // the connection indicator says it
        }
      });
    },

    whole(msg) {
      Board.set(msg);
      updateInstance(msg.instance);
      setText(
        document.getElementById("board-legend"),
        t("board.legend", {
          amber: num(Board.amber),
          red: num(Board.red),
          target: pct(Board.target),
          s: num(Board.targetS),
        })
      );
      const seen = new Set();
      const order = [];
      for (const v of msg.tiles || []) {
        seen.add(v.dept);
        order.push(this.upsert(v));
      }
      for (const [dept, tile] of this.tiles) {
        if (!seen.has(dept)) {
          tile.root.remove();
          this.tiles.delete(dept);
        }
      }
      const box = this.box;
      for (const node of Array.from(box.children)) if (!node.classList.contains("tile")) node.remove();
      order.forEach((tile, i) => {
        if (box.children[i] !== tile.root) box.insertBefore(tile.root, box.children[i] || null);
      });
      if (!order.length) box.replaceChildren(el("p", { class: "empty", text: t("board.empty") }));
      this.summary(msg.at);
    },

    some(msg) {
      for (const v of msg.tiles || []) {
        const tile = this.upsert(v);
        if (!tile.root.isConnected) this.box.append(tile.root);
      }
      this.summary(msg.sent);
    },

    upsert(v) {
      let tile = this.tiles.get(v.dept);
      if (!tile) {
        tile = buildTile(v.dept, true);
        this.tiles.set(v.dept, tile);
      }
      fillTile(tile, v);
      return tile;
    },

    summary(at) {
      let waiting = 0;
      let available = 0;
      for (const tile of this.tiles.values()) {
        waiting += tile.data.waiting || 0;
        available += (tile.data.agents && tile.data.agents.available) || 0;
      }
      setText(document.getElementById("total-waiting"), String(waiting));
      setText(document.getElementById("total-available"), String(available));
      setText(document.getElementById("board-updated"), when(isNum(at) ? at : nowS(), false));
    },
  };

  const Department = {
    dept: PARAM,
    tile: null,

    start() {
      this.tile = buildTile(this.dept, false);
      document.getElementById("dept-summary").append(this.tile.root);
      this.calls = document.getElementById("calls-body");
      this.agents = document.getElementById("agents-body");
      this.decisions = document.getElementById("decisions-body");
      this.refresh = throttled(() => this.load(), 500);
      Stream.on("wallboard", (msg) => {
        Board.set(msg);
        const v = (msg.tiles || []).find((x) => x.dept === this.dept);
        if (v) this.showTile(v);
      });
      Stream.on("tiles", (msg) => {
        const v = (msg.tiles || []).find((x) => x.dept === this.dept);
        if (!v) return;
        this.showTile(v);
        if (isNum(msg.at)) this.refresh();
      });
      this.refresh.now();
      every(5000, () => this.refresh());
      every(1000, () => {
        tickTile(this.tile);
        this.tickCalls();
        tickAgents(this.agents);
      });
    },

    showTile(v) {
      fillTile(this.tile, v);
      setText(document.getElementById("dept-title"), `${v.name} (${v.dept})`);
      const prefix = document.getElementById("dept-prefix");
      if (prefix) prefix.hidden = true;
      document.title = `${v.name} (${v.dept}) · ${INSTANCE}`;
    },

    async load() {
      const v = await api("GET", `${API}/departments/${enc(this.dept)}`, undefined, { quiet: false });
      this.showTile(v.tile);
      this.showCalls(v.calls);
      setText(document.getElementById("agents-count"), `(${v.agents.length})`);
      agentRows(this.agents, v.agents, { refresh: () => this.refresh() });
      showEmpty("agents-empty", !v.agents.length);
      this.showDecisions(v.decisions, v.decisions_error);
    },

    showCalls(calls) {
      const received = nowS();
      const fields = [["position", "num"], ["wait", "num wait"], "priority", "state", "caller", "queue", "agent", "call"];
      if (can("supervisor")) fields.push(["actions", "actions"]);
      const waiting = calls.filter((c) => c.state === "waiting").length;
      setText(document.getElementById("calls-count"), t("dept.calls-count", { waiting, total: calls.length }));
      reconcile(
        this.calls,
        calls,
        (c) => c.call,
        (c) => makeRow({ "data-testid": "call-row", "data-call": c.call }, fields),
        (row, c) => {
          const f = row.acd;
          row.acdCall = c;
          row.acdBase = { wait_s: c.wait_s, at: received };
          setText(f.position, c.position ? String(c.position) : DASH);
          setText(f.wait, clock(c.wait_s));
          f.wait.className = waitClass(c.state, c.wait_s);
          setText(f.priority, tv("priority.", c.priority));
          setData(f.priority, "priority", c.priority);
          setText(f.state, tv("call.", c.state));
          setData(f.state, "state", c.state);
          setData(row, "state", c.state);
          setText(f.caller, c.caller || DASH);
          setText(f.queue, c.queue);
          setText(f.agent, c.agent || "");
          setText(f.call, c.call);
          if (f.actions) {
            const key = c.state === "waiting" ? "force" : "";
            if (f.actions.acdKey !== key) {
              f.actions.acdKey = key;
              f.actions.replaceChildren();
              if (key) {
                const b = el("button", {
                  type: "button",
                  class: "btn btn-small",
                  "data-action": "force-overflow",
                  text: t("action.force-overflow"),
                });
                b.addEventListener("click", () => Dialogs.forceOverflow(row.acdCall, () => this.refresh()));
                f.actions.append(b);
              }
            }
          }
        }
      );
      showEmpty("calls-empty", !calls.length);
    },

    tickCalls() {
      const now = nowS();
      for (const row of this.calls.children) {
        if (!row.acdBase) continue;
        const wait = row.acdBase.wait_s + now - row.acdBase.at;
        setText(row.acd.wait, clock(wait));
        const cls = waitClass(row.acdCall.state, wait);
        if (row.acd.wait.className !== cls) row.acd.wait.className = cls;
      }
    },

    showDecisions(decisions, problem) {
      const err = document.getElementById("decisions-error");
      err.hidden = !problem;
      setText(err, problem ? t("dept.decisions-error", { detail: problem }) : "");
      reconcile(
        this.decisions,
        decisions,
        (d) => `${d.at}|${d.call}|${d.action}|${d.target}|${d.agent}`,
        () => makeRow({ "data-testid": "decision-row" }, ["at", "call", "action", "target", "rule", "reason"]),
        (row, d) => {
          const f = row.acd;
          setData(row, "call", d.call);
          setText(f.at, when(d.at));
          setText(f.call, d.call || DASH);
          setText(f.action, tv("decision.", d.action));
          const target = [d.target, d.agent].filter(Boolean).join(" · ");
          setText(f.target, target || DASH);
          setText(f.rule, d.rule || DASH);
          setText(f.reason, d.reason || "");
        }
      );
      showEmpty("decisions-empty", !decisions.length && !problem);
    },
  };

  /** A call's wait is coloured while the caller still waits for an answer. */
  function waitClass(state, wait) {
    const waiting = state === "waiting" || state === "offered" || state === "overflowing";
    return waiting ? `num wait wait-${Board.level(wait)}` : "num wait";
  }

  const Agents = {
    start() {
      this.body = document.getElementById("agents-body");
      this.deptSelect = document.getElementById("agents-dept");
      this.stateSelect = document.getElementById("agents-state");
      const q = new URLSearchParams(location.search);
      this.stateSelect.value = q.get("state") || "";
      this.refresh = throttled(() => this.load(), 1000);
      fillDeptSelect(this.deptSelect, q.get("dept") || "").then(() => this.refresh.now());
      for (const s of [this.deptSelect, this.stateSelect]) {
        s.addEventListener("change", () => {
          keepInUrl({ dept: this.deptSelect.value, state: this.stateSelect.value });
          this.refresh.now();
        });
      }
      document.getElementById("agents-filter").addEventListener("submit", (ev) => ev.preventDefault());
      Stream.on("tiles", (msg) => {
        if (!isNum(msg.at)) return;
        const dept = this.deptSelect.value;
        if (!dept || (msg.tiles || []).some((x) => x.dept === dept)) this.refresh();
      });
      every(5000, () => this.refresh());
      every(1000, () => tickAgents(this.body));
    },

    async load() {
      const dept = this.deptSelect.value;
      const v = await api("GET", `${API}/agents${dept ? `?dept=${enc(dept)}` : ""}`);
      const state = this.stateSelect.value;
      const shown = v.agents.filter((a) =>
        !state ? true : state === "logged-in" ? a.state !== "logged-out" : a.state === state
      );
      agentRows(this.body, shown, { depts: true, refresh: () => this.refresh() });
      showEmpty("agents-empty", !shown.length);
      setText(document.getElementById("agents-count"), `(${shown.length})`);
      this.summary(v.agents);
    },

    summary(agents) {
      const counts = {};
      for (const a of agents) counts[a.state] = (counts[a.state] || 0) + 1;
      const box = document.getElementById("agents-summary");
      const states = ["available", "offered", "on-call", "wrap-up", "paused", "logged-out"];
      const key = JSON.stringify(counts);
      if (box.acdKey === key) return;
      box.acdKey = key;
      box.replaceChildren(
        ...states.map((s) =>
          el(
            "div",
            { class: `state-count state-${s}` },
            el("dt", { text: t(`state.${s}`) }),
            el("dd", { "data-field": s, text: String(counts[s] || 0) })
          )
        )
      );
    },
  };

  const Overflow = {
    start() {
      this.rules = document.getElementById("rules-body");
      this.partners = document.getElementById("partners-body");
      this.crisisList = document.getElementById("crisis-list");
      this.names = new Map();
      this.refresh = throttled(() => this.load(), 1000);
      Stream.on("wallboard", (msg) => {
        for (const v of msg.tiles || []) this.names.set(v.dept, v.name);
      });
      Stream.on("tiles", (msg) => {
        if (isNum(msg.at)) this.refresh();
      });
      this.refresh.now();
      every(5000, () => this.refresh());
    },

    async load() {
      const v = await api("GET", `${API}/overflow`);
      setText(document.getElementById("overflow-version"), v.version);
      this.showCrisis(v);
      reconcile(
        this.rules,
        v.rules,
        (r) => r.id,
        (r) => makeRow({ "data-testid": "rule-row", "data-rule": r.id }, ["id", "dept", "partners", "when", "until", "active", "since"]),
        (row, r) => {
          const f = row.acd;
          setText(f.id, r.id);
          setText(f.dept, r.dept);
          setText(f.partners, r.partners.join(" → "));
          setText(f.when, r.when);
          setText(f.until, r.until || DASH);
          setText(f.active, r.active ? t("rule.active") : t("rule.inactive"));
          setData(f.active, "active", r.active ? "true" : "false");
          f.active.className = r.active ? "flag flag-on" : "flag flag-off";
          setData(row, "active", r.active ? "true" : "false");
          setText(f.since, when(r.since));
        }
      );
      showEmpty("rules-empty", !v.rules.length);
      reconcile(
        this.partners,
        v.partners,
        (p) => p.partner,
        (p) => makeRow({ "data-testid": "partner-row", "data-partner": p.partner }, ["partner", "kind", ["waiting", "num"], ["available_agents", "num"], ["estimated_wait_s", "num"], ["age_s", "num"]]),
        (row, p) => {
          const f = row.acd;
          setText(f.partner, `${p.name} (${p.partner})`);
          setText(f.kind, tv("kind.", p.kind));
          setText(f.waiting, num(p.waiting));
          setText(f.available_agents, num(p.available_agents));
          setText(f.estimated_wait_s, secs(p.estimated_wait_s));
          setText(f.age_s, p.kind === "external" ? (isNum(p.age_s) ? secs(p.age_s) : t("overflow.never-read")) : t("overflow.live"));
          row.classList.toggle("stale", p.kind === "external" && (!isNum(p.age_s) || p.age_s > 60));
        }
      );
      showEmpty("partners-empty", !v.partners.length);
    },

    showCrisis(v) {
      const depts = v.partners.filter((p) => p.kind === "department").map((p) => ({ dept: p.partner, name: p.name }));
      const on = new Set(v.crisis);
      for (const d of v.crisis) if (!depts.some((x) => x.dept === d)) depts.push({ dept: d, name: this.names.get(d) || d });
      const list = this.crisisList;
      const old = new Map(Array.from(list.children).map((li) => [li.acdKey, li]));
      list.replaceChildren(
        ...depts.map((d) => {
          let li = old.get(d.dept);
          if (!li) li = this.crisisItem(d);
          li.acdKey = d.dept;
          const b = li.acdButton;
          const active = on.has(d.dept);
          b.setAttribute("aria-pressed", active ? "true" : "false");
          setData(b, "on", active ? "true" : "false");
          setText(li.acdState, active ? t("crisis.on") : t("crisis.off"));
          setText(b, active ? t("crisis.turn-off") : t("crisis.turn-on"));
          li.classList.toggle("crisis", active);
          return li;
        })
      );
    },

    crisisItem(d) {
      const state = el("span", { class: "crisis-state" });
      const b = el("button", {
        type: "button",
        class: "btn crisis-toggle",
        "data-testid": "crisis-toggle",
        "data-dept": d.dept,
        "aria-pressed": "false",
        disabled: !can("supervisor"),
      });
      b.addEventListener("click", async () => {
        const on = b.getAttribute("aria-pressed") !== "true";
        b.disabled = true;
        try {
          await api("PUT", `${API}/departments/${enc(d.dept)}/crisis`, { on });
          toast("ok", t(on ? "crisis.done-on" : "crisis.done-off", { dept: `${d.name} (${d.dept})` }), [], `crisis:${d.dept}`);
        } catch (_) {
          // shown
        }
        b.disabled = !can("supervisor");
        this.refresh.now();
      });
      const li = el(
        "li",
        { class: "crisis-item", "data-dept": d.dept },
        el("span", { class: "crisis-dept" }, el("strong", { text: d.name }), " ", el("span", { class: "muted", text: d.dept })),
        state,
        b
      );
      li.acdButton = b;
      li.acdState = state;
      return li;
    },
  };

  const CALLBACK_STATUSES = ["to-call-back", "called-back", "reached", "not-reached"];

  const Callbacks = {
    start() {
      this.body = document.getElementById("callbacks-body");
      this.deptSelect = document.getElementById("callbacks-dept");
      this.statusSelect = document.getElementById("callbacks-status");
      const q = new URLSearchParams(location.search);
      const status = q.get("status") || "";
      if (CALLBACK_STATUSES.includes(status)) this.statusSelect.value = status;
      this.refresh = throttled(() => this.load(), 1000);
      fillDeptSelect(this.deptSelect, q.get("dept") || "").then(() => this.refresh.now());
      for (const s of [this.deptSelect, this.statusSelect]) {
        s.addEventListener("change", () => {
          keepInUrl({ dept: this.deptSelect.value, status: this.statusSelect.value });
          this.refresh.now();
        });
      }
      document.getElementById("callbacks-filter").addEventListener("submit", (ev) => ev.preventDefault());
      every(10000, () => this.refresh());
    },

    async load() {
      const q = new URLSearchParams();
      if (this.deptSelect.value) q.set("dept", this.deptSelect.value);
      if (this.statusSelect.value) q.set("status", this.statusSelect.value);
      const s = q.toString();
      const v = await api("GET", `${API}/callbacks${s ? `?${s}` : ""}`);
      const fields = ["caller", "dept", "abandoned_at", ["wait_s", "num"], ["repeats", "num"], "status", "updated"];
      if (can("supervisor")) fields.push(["actions", "actions"]);
      reconcile(
        this.body,
        v.items,
        (i) => i.call,
        (i) => {
          const row = makeRow({ "data-testid": "callback-row", "data-call": i.call }, fields);
          if (row.acd.actions) this.actions(row);
          return row;
        },
        (row, i) => {
          const f = row.acd;
          row.acdItem = i;
          setText(f.caller, i.caller || t("callbacks.hidden-number"));
          setText(f.dept, i.dept || DASH);
          setText(f.abandoned_at, when(i.abandoned_at, true));
          f.abandoned_at.title = i.repeats > 1 && isNum(i.first_abandoned_at) ? t("callbacks.first", { at: when(i.first_abandoned_at, true) }) : "";
          setText(f.wait_s, secs(i.wait_s));
          setText(f.repeats, i.repeats > 1 ? `×${i.repeats}` : "1");
          f.repeats.classList.toggle("repeat", i.repeats > 1);
          setText(f.status, tv("callback.", i.status));
          setData(f.status, "status", i.status);
          setData(row, "status", i.status);
          setText(f.updated, i.updated_at ? `${when(i.updated_at)}${i.updated_by ? " · " + i.updated_by : ""}` : "");
          if (row.acdSelect && !row.acdSelect.acdDirty && document.activeElement !== row.acdSelect) {
            row.acdSelect.value = i.status;
          }
        }
      );
      showEmpty("callbacks-empty", !v.items.length);
      setText(document.getElementById("callbacks-count"), `(${v.items.length})`);
    },

    actions(row) {
      const select = el(
        "select",
        { "data-testid": "callback-status", "aria-label": t("col.status") },
        CALLBACK_STATUSES.map((s) => el("option", { value: s, text: t(`callback.${s}`) }))
      );
      const note = el("input", {
        type: "text",
        class: "note",
        maxlength: "500",
        placeholder: t("callbacks.note"),
        "aria-label": t("callbacks.note"),
        "data-testid": "callback-note",
        autocomplete: "off",
      });
      const save = el("button", { type: "button", class: "btn btn-small btn-primary", "data-action": "save-status", text: t("common.save") });
      select.addEventListener("change", () => {
        select.acdDirty = true;
      });
      save.addEventListener("click", async () => {
        const item = row.acdItem;
        save.disabled = true;
        try {
          await api("PUT", `${API}/callbacks/${enc(item.call)}/status`, { status: select.value, note: note.value.trim().slice(0, 500) });
          select.acdDirty = false;
          note.value = "";
          toast("ok", t("callbacks.saved", { status: t(`callback.${select.value}`) }), [], `callback:${item.call}`);
        } catch (_) {
          // shown
        }
        save.disabled = false;
        this.refresh.now();
      });
      row.acdSelect = select;
      row.acd.actions.append(el("div", { class: "inline-form" }, select, note, save));
    },
  };

  const Config = {
    start() {
      for (const b of $$('[data-action="reload"]')) b.addEventListener("click", () => reloadConfig(b));
      this.refresh().catch(() => {});
      every(10000, () => this.refresh().catch(() => {}));
    },

    async refresh() {
      const v = await api("GET", `${API}/config`);
      setText(document.getElementById("config-version"), v.version);
      setText(document.getElementById("config-label"), v.label);
      setText(document.getElementById("config-path"), v.path);
      setText(document.getElementById("config-loaded-at"), when(v.loaded_at, true));
      setText(document.getElementById("config-last-reload"), tv("reload.", v.last_reload));
      const box = document.getElementById("config-last-errors");
      box.hidden = !v.last_errors.length;
      document.getElementById("config-last-errors-list").replaceChildren(...v.last_errors.map((e) => el("li", { text: e })));
    },

    showReload(status, version, errors) {
      const box = document.getElementById("reload-result");
      if (!box) return;
      box.hidden = false;
      box.dataset.status = status;
      setText(document.getElementById("reload-status"), t(`config.reload-${status}`, { version: version || DASH }));
      document.getElementById("reload-errors").replaceChildren(...errors.map((e) => el("li", { "data-testid": "reload-error", text: e })));
    },
  };

  const Audit = {
    start() {
      this.form = document.getElementById("audit-filter");
      this.body = document.getElementById("audit-body");
      this.form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        this.load().catch(() => {});
      });
      this.load().catch(() => {});
    },

    async load() {
      const q = new URLSearchParams();
      const val = (name) => (this.form.elements[name].value || "").trim();
      for (const k of ["actor", "action", "target"]) if (val(k)) q.set(k, val(k));
      for (const k of ["since", "until"]) {
        const s = parisToEpoch(val(k));
        if (s !== null) q.set(k, String(s));
      }
      const limit = parseInt(val("limit"), 10);
      if (limit >= 1 && limit <= 1000) q.set("limit", String(limit));
      const v = await api("GET", `${API}/audit?${q.toString()}`);
      reconcile(
        this.body,
        v.items,
        (i) => i.id,
        (i) => makeRow({ "data-testid": "audit-row", "data-id": i.id }, ["at", "actor", "role", "action", "target", "details", "source"]),
        (row, i) => {
          const f = row.acd;
          setText(f.at, when(i.at, true));
          setText(f.actor, i.actor || DASH);
          setText(f.role, tv("role.", i.role));
          setText(f.action, tv("audit.act.", i.action));
          setData(f.action, "action", i.action);
          setText(f.target, i.target || "");
          setText(f.details, i.details || "");
          f.details.className = "details";
          setText(f.source, i.source || "");
        }
      );
      showEmpty("audit-empty", !v.items.length);
    },
  };

  const System = {
    start() {
      this.links = document.getElementById("links-body");
      this.refresh = throttled(() => this.load(), 1000);
      this.refresh.now();
      every(2000, () => this.refresh());
    },

    async load() {
      const v = await api("GET", `${API}/system`, undefined, { quiet: true }).catch((err) => {
        if (err.status !== 401) showError(err);
        throw err;
      });
      updateInstance(v.instance);
      const set = (id, text) => setText(document.getElementById(id), text);
      set("system-updated", when(v.at, false));
      set("sys-role", tv("instance.", v.instance.role));
      setData(document.getElementById("sys-role"), "state", v.instance.role);
      set("sys-epoch", String(v.instance.epoch));
      set("sys-leader", v.instance.leader || DASH);
      set("sys-lease-age", secs(v.lease_age_s));
      set("sys-config", v.config_version);
      this.health("sys-hot", v.hot_state);
      this.health("sys-journal", v.journal);
      set("sys-backlog", num(v.outbox.backlog));
      set("sys-oldest", secs(v.outbox.oldest_age_s));
      set("sys-written", num(v.outbox.written));
      set("sys-spooled", num(v.outbox.spooled));
      document.getElementById("sys-spooled").classList.toggle("warn", v.outbox.spooled > 0);
      set("sys-events", num(v.events));
      set("sys-rejected", num(v.rejected));
      set("sys-errors", num(v.errors));
      document.getElementById("sys-errors").classList.toggle("warn", v.errors > 0);
      set("sys-fenced", num(v.fenced_actions));
      reconcile(
        this.links,
        v.links,
        (l) => l.name,
        (l) => makeRow({ "data-testid": "link-row", "data-link": l.name }, ["name", "state", ["reconnects", "num"], ["bad_frames", "num"], ["last_pong_age_s", "num"], ["actions_in_flight", "num"]]),
        (row, l) => {
          const f = row.acd;
          const up = l.connected && l.logged_in;
          setText(f.name, l.name);
          setText(f.state, up ? t("link.up") : l.connected ? t("link.not-logged-in") : t("link.down"));
          f.state.className = up ? "flag flag-on" : "flag flag-bad";
          setData(f.state, "up", up ? "true" : "false");
          setText(f.reconnects, num(l.reconnects));
          setText(f.bad_frames, num(l.bad_frames));
          f.bad_frames.classList.toggle("warn", l.bad_frames > 0);
          setText(f.last_pong_age_s, secs(l.last_pong_age_s));
          setText(f.actions_in_flight, num(l.actions_in_flight));
        }
      );
      showEmpty("links-empty", !v.links.length);
    },

    health(id, h) {
      const node = document.getElementById(id);
      const text = h.ok
        ? t("health.ok", { ms: isNum(h.latency_ms) ? NUM.format(h.latency_ms) : DASH })
        : t("health.bad", { detail: h.detail });
      setText(node, text);
      node.className = h.ok ? "flag flag-on" : "flag flag-bad";
      setData(node, "ok", h.ok ? "true" : "false");
    },
  };

  // -- login ----------------------------------------------------------------------------------

  /**
   * Where to go after logging in: `?next=` when it is a plain path of this site, else "/".
   * The raw value must be letters, digits and `/_.~%?=&-` only (browsers drop tabs and
   * newlines: "/<tab>/evil" would become "//evil"), and resolve to this very origin. The raw
   * value is what is returned: the resolved path of "/.//evil" is "//evil", another host.
   */
  function nextPath() {
    const next = new URLSearchParams(location.search).get("next") || "";
    if (!/^\/(?![/\\])[A-Za-z0-9/_.~%?=&-]*$/.test(next)) return "/";
    let url;
    try {
      url = new URL(next, location.origin);
    } catch (_) {
      return "/";
    }
    if (url.origin !== location.origin || url.pathname.startsWith("/login")) return "/";
    return next;
  }

  function startLogin() {
    const form = document.getElementById("login-form");
    const user = document.getElementById("login-user");
    const password = document.getElementById("login-password");
    const submit = document.getElementById("login-submit");
    const error = document.getElementById("login-error");
    const next = location.search ? `?next=${enc(nextPath())}` : "";
    for (const a of $$("a[data-lang]")) a.href = `/lang/${a.dataset.lang}?next=${enc("/login" + next)}`;
    const say = (text) => {
      error.textContent = text;
      error.hidden = !text;
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      say("");
      if (!user.value.trim() || !password.value) {
        say(t("login.missing"));
        (user.value.trim() ? password : user).focus();
        return;
      }
      submit.disabled = true;
      let res;
      try {
        res = await fetch(`${API}/login`, {
          method: "POST",
          credentials: "same-origin",
          cache: "no-store",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ username: user.value.trim(), password: password.value }),
        });
      } catch (_) {
        say(t("error.network"));
        submit.disabled = false;
        return;
      }
      if (res.ok) {
        location.assign(nextPath());
        return;
      }
      submit.disabled = false;
      let doc = null;
      try {
        doc = await res.json();
      } catch (_) {
        doc = null;
      }
      const e = (doc && doc.error) || {};
      if (res.status === 401) {
        say(t("error.bad-credentials"));
        password.value = "";
        password.focus();
      } else if (res.status === 429) {
        const retry = parseInt(res.headers.get("Retry-After") || "", 10);
        say(t("login.too-many", { s: Number.isFinite(retry) ? retry : "?" }));
      } else {
        const slug = e.slug || "internal-error";
        say(has(`error.${slug}`) ? t(`error.${slug}`) : e.message || t("error.internal-error"));
      }
    });
  }

  // -- start ----------------------------------------------------------------------------------

  const PAGES = {
    wallboard: Wallboard,
    department: Department,
    agents: Agents,
    overflow: Overflow,
    callbacks: Callbacks,
    config: Config,
    audit: Audit,
    system: System,
  };

  /** The catalog from the page; read from the static file if the page did not carry it. */
  async function ensureCatalog() {
    if (Object.keys(I18N).length) return;
    try {
      const res = await fetch(`/static/i18n/${LANG}.json`, { credentials: "same-origin" });
      if (res.ok) I18N = await res.json();
    } catch (_) {
      // keys show instead of texts
    }
  }

  async function start() {
    await ensureCatalog();
    if (PAGE === "login") {
      startLogin();
      return;
    }
    setupHeader();
    const page = PAGES[PAGE];
    if (page) page.start();
    Stream.start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => start());
  else start();

  // for the console's own tests and the curious: read-only helpers
  window.acdConsole = Object.freeze({ t, clock, parisToEpoch, role: ROLE, page: PAGE, instanceRole: () => instanceRole });
})();
