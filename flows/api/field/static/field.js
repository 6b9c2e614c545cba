/* The escorts' phone page: every report goes into a queue kept in the phone's storage, with an
 * id made here (client_id, stored unique by the server), and leaves it only once the server has
 * answered: a report made without signal is sent when the network returns, exactly once.
 * The fever rule is applied as temperatures are typed; signatures are drawn on a canvas.
 * Plain browser APIs only: nothing is fetched from another site. */
(function () {
  "use strict";

  var body = document.body;
  var base = body.dataset.base;
  var convoy = body.dataset.convoy;
  var wordsEl = document.getElementById("words");
  if (!base || !wordsEl) return;
  var words = JSON.parse(wordsEl.textContent);
  var QUEUE = "convoy-field-queue:" + base;
  var LAST = "convoy-field-last:" + base;
  var SEQUENCE = ["muster", "screening", "depart", "entry", "arrive", "arrival_screening", "handoff"];
  var sending = false;

  function fmt(text, params) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in params ? params[k] : m; });
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; }
  }
  function save(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  // --- what the page says -----------------------------------------------------------------
  function show(cls, text) {
    var el = document.getElementById("result");
    if (!el) return;
    el.className = "result " + cls;
    el.textContent = text;
    el.hidden = false;
  }
  function remember(cls, text) { sessionStorage.setItem(LAST, JSON.stringify([cls, text])); }
  function render() {
    var q = load();
    var el = document.getElementById("queue");
    var btn = document.getElementById("send-now");
    if (!el) return;
    var text = q.length ? fmt(words["queue.waiting"], { n: q.length }) : words["queue.empty"];
    if (!navigator.onLine) text = words["queue.offline"] + " · " + text;
    el.textContent = text;
    el.dataset.waiting = String(q.length);
    el.className = "queue" + (q.length ? " waiting" : "") + (navigator.onLine ? "" : " offline");
    if (btn) btn.hidden = !q.length || !navigator.onLine;
  }

  // --- the queue --------------------------------------------------------------------------
  function enqueue(item) {
    var q = load();
    q.push(item);
    save(q);
    if (!navigator.onLine) show("queued", words.queued + " · " + item.label);
    render();
    flush();
  }

  async function flush() {
    if (sending || !navigator.onLine) { render(); return; }
    sending = true;
    var reload = false, refused = false;
    try {
      for (;;) {
        var q = load();
        if (!q.length) break;
        var item = q[0], resp;
        try {
          resp = await fetch(base + item.path, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(item.body),
            cache: "no-store",
          });
        } catch (e) {
          break; // no network after all: kept, sent later
        }
        if (resp.status >= 500 || resp.status === 429 || resp.status === 408) break;
        var doc = {};
        try { doc = await resp.json(); } catch (e) { doc = {}; }
        save(load().filter(function (x) { return x.id !== item.id; }));
        if (resp.ok) {
          var text = (resp.status === 200 ? words.already : words.sent) + " · " + item.label;
          show("ok", text);
          remember("ok", text);
          if (item.reload) reload = true;
        } else {
          refused = true;
          var why = words.refused + " · " + item.label + ": " + (doc.error || resp.status);
          show("bad", why);
          remember("bad", why);
        }
      }
    } finally {
      sending = false;
      render();
    }
    if (reload && !refused && !load().length) setTimeout(function () { location.reload(); }, 700);
  }

  function checkin(kind, payload) {
    var id = uuid();
    return {
      id: id,
      path: "/checkins",
      label: words["step." + kind] || kind,
      reload: SEQUENCE.indexOf(kind) >= 0,
      body: { convoy: convoy, kind: kind, payload: payload, at: new Date().toISOString(), client_id: id },
    };
  }

  // --- reading the forms ------------------------------------------------------------------
  function ticked(form, name) {
    return Array.prototype.map.call(
      form.querySelectorAll('input[name="' + name + '"]:checked'),
      function (i) { return parseInt(i.value, 10); });
  }
  function text(form, name) {
    var el = form.querySelector('[name="' + name + '"]');
    return el ? el.value.trim() : "";
  }
  function num(value) {
    if (!value) return null;
    var s = value.replace(",", ".").trim();
    if (/^\d{3}$/.test(s)) s = s.slice(0, 2) + "." + s.slice(2); // 365 → 36.5, typed fast
    var n = parseFloat(s);
    return isNaN(n) ? null : n;
  }
  function optional(payload, form, name) {
    var v = text(form, name);
    if (v) payload[name] = v;
    return payload;
  }
  function results(form, all) {
    var batchTime = text(form, "nat_time");
    var out = [];
    form.querySelectorAll("tr[data-seat]").forEach(function (row) {
      var t = num(text(row, "temperature"));
      if (t === null && !all) return;
      var r = { seat: parseInt(row.dataset.seat, 10), temperature: t };
      var again = num(text(row, "retemperature"));
      if (again !== null) r.retemperature = again;
      var nat = text(row, "nat_result"), code = text(row, "health_code");
      if (nat) { r.nat_result = nat; if (batchTime) r.nat_time = batchTime; }
      if (code) r.health_code = code;
      out.push(r);
    });
    return out;
  }

  var pads = new WeakMap();
  var build = {
    muster: function (f) { return optional({ absent: ticked(f, "absent") }, f, "reason"); },
    depart: function (f) { return optional({ absent: ticked(f, "absent") }, f, "reason"); },
    arrive: function (f) {
      return optional(optional({ missing: ticked(f, "missing") }, f, "reason"), f, "location");
    },
    entry: function (f) { return { seats: ticked(f, "seats") }; },
    screening: function (f) { return optional({ results: results(f, true) }, f, "location"); },
    arrival_screening: function (f) { return optional({ results: results(f, false) }, f, "location"); },
    handoff: function (f) {
      var p = { enterprise: f.dataset.enterprise, received_by: text(f, "received_by"), seats: ticked(f, "seats") };
      optional(p, f, "location");
      var pad = pads.get(f);
      if (pad && pad.used()) p.signature = pad.data();
      return p;
    },
  };

  function submitted(ev) {
    var form = ev.target;
    var kind = form.dataset.kind;
    if (!kind) return;
    ev.preventDefault();
    var item;
    if (kind === "hold") {
      var id = uuid();
      item = {
        id: id, path: "/holds", label: words["step.hold"], reload: true,
        body: {
          convoy: convoy, seat: parseInt(text(form, "seat"), 10), reason: text(form, "reason"),
          location: text(form, "location"), withdraw: form.querySelector('[name="withdraw"]').checked,
          client_id: id,
        },
      };
    } else {
      item = checkin(kind, build[kind](form));
    }
    enqueue(item);
    var step = form.closest("details");
    if (step && kind !== "hold" && kind !== "handoff") {
      step.open = false;
      var next = step.nextElementSibling;
      while (next && next.tagName !== "DETAILS") next = next.nextElementSibling;
      if (next) next.open = true;
    }
    if (kind === "handoff") form.hidden = true;
  }

  // --- the fever rule as temperatures are typed --------------------------------------------
  function judge(row, form) {
    var fever = parseFloat(form.dataset.fever), lo = parseFloat(form.dataset.min);
    var hi = parseFloat(form.dataset.max), mayRepeat = form.dataset.remeasure === "1";
    var again = row.querySelector('[name="retemperature"]');
    var verdict = row.querySelector(".verdict");
    var t = num(text(row, "temperature")), r = num(text(row, "retemperature"));
    var cls = "", say = "";
    if (t === null) {
      say = "";
    } else if (t < lo || t > hi) {
      cls = "fever"; say = words.out_of_range;
    } else if (t >= fever) {
      if (!mayRepeat) { cls = "held"; say = words.fever_still; }
      else if (r === null) { cls = "fever"; say = words.fever; }
      else if (r < lo || r > hi) { cls = "fever"; say = words.out_of_range; }
      else if (r >= fever) { cls = "held"; say = words.fever_still; }
      else { say = words.ok; }
    } else {
      say = words.ok;
    }
    if (again) again.hidden = !(t !== null && t >= fever && mayRepeat) && !r;
    row.classList.toggle("fever", cls === "fever");
    row.classList.toggle("held", cls === "held");
    if (verdict) verdict.textContent = say;
  }

  // --- signatures -------------------------------------------------------------------------
  function signaturePad(canvas) {
    var ctx = canvas.getContext("2d");
    var drawing = false, used = false, last = null;
    ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
    function at(e) {
      var r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    }
    canvas.addEventListener("pointerdown", function (e) {
      drawing = true; last = at(e); e.preventDefault();
      if (canvas.setPointerCapture) { try { canvas.setPointerCapture(e.pointerId); } catch (x) { /* synthetic */ } }
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) return;
      var p = at(e);
      ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
      last = p; used = true;
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (n) {
      canvas.addEventListener(n, function () { drawing = false; });
    });
    return {
      used: function () { return used; },
      clear: function () { ctx.clearRect(0, 0, canvas.width, canvas.height); used = false; },
      data: function () { return canvas.toDataURL("image/png"); },
    };
  }

  // --- position from the browser ----------------------------------------------------------
  function sharePosition() {
    if (!navigator.geolocation) { show("bad", words["position.none"]); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      var payload = { lat: p.coords.latitude, lon: p.coords.longitude };
      if (p.coords.speed !== null && p.coords.speed >= 0) payload.speed_kmh = p.coords.speed * 3.6;
      enqueue(checkin("position", payload));
    }, function (err) {
      show("bad", err.code === 1 ? words["position.denied"] : words["position.none"]);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  // --- start ------------------------------------------------------------------------------
  document.querySelectorAll("form[data-kind]").forEach(function (form) {
    form.addEventListener("submit", submitted);
    if (form.classList.contains("screening")) {
      form.addEventListener("input", function (e) {
        var row = e.target.closest("tr[data-seat]");
        if (row) judge(row, form);
      });
    }
    var canvas = form.querySelector("canvas");
    if (canvas) {
      var pad = signaturePad(canvas);
      pads.set(form, pad);
      form.querySelector("button.clear").addEventListener("click", pad.clear);
    }
  });
  var share = document.getElementById("share-position");
  if (share) share.addEventListener("click", sharePosition);
  var now = document.getElementById("send-now");
  if (now) now.addEventListener("click", flush);
  window.addEventListener("online", flush);
  window.addEventListener("offline", render);
  setInterval(flush, 15000);
  try {
    var last = JSON.parse(sessionStorage.getItem(LAST) || "null");
    if (last) { show(last[0], last[1]); sessionStorage.removeItem(LAST); }
  } catch (e) { /* nothing to show */ }
  render();
  flush();
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }).catch(function () {});
  }
})();
