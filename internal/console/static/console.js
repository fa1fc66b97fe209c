// Gatehouse console: live updates over server-sent events. Plain
// JavaScript, no dependencies; every page works without it (forms post,
// links navigate), this only keeps what is shown current.
(function () {
  "use strict";
  var body = document.body;
  if (body.dataset.events === undefined || !window.EventSource) return;

  var live = document.getElementById("live");
  function setLive(state, text) {
    if (!live) return;
    live.className = "live " + state;
    live.textContent = text;
  }

  // Elements that reload themselves from data-live-src when an action
  // they show changes, at most once per quarter second. The promise
  // settles once the element is current.
  var pending = new WeakMap();
  function refresh(el) {
    if (pending.get(el)) return pending.get(el);
    var p = new Promise(function (resolve) { setTimeout(resolve, 250); }).then(function () {
      pending.delete(el);
      return fetch(el.dataset.liveSrc, { credentials: "same-origin" });
    }).then(function (r) {
      if (r.ok) return r.text();
      throw new Error("status " + r.status);
    }).then(function (html) {
      // Do not replace a form someone is typing in.
      var active = document.activeElement;
      if (active && el.contains(active) && active.form) return;
      el.innerHTML = html;
    }).catch(function () {});
    pending.set(el, p);
    return p;
  }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function onAction(d) {
    // Activity tables: update the action's row wherever it is shown; add
    // it at the top of the newest page when it matches the filter.
    var rows = document.getElementById("activity");
    if (rows) {
      var tbody = rows.querySelector("tbody");
      var old = tbody.querySelector('tr[data-id="' + CSS.escape(d.id) + '"]');
      var row = fragment(d.row);
      if (old) {
        old.replaceWith(row);
      } else if (d.match && rows.dataset.liveRows === "prepend") {
        tbody.insertBefore(row, tbody.firstElementChild);
        row.classList.add("new");
        var max = parseInt(rows.dataset.pageSize || "50", 10);
        while (tbody.children.length > max) tbody.lastElementChild.remove();
        var empty = document.querySelector(".empty");
        if (empty) empty.remove();
      }
    }
    document.querySelectorAll("[data-live-action]").forEach(function (el) {
      if (el.dataset.liveAction === d.id) refresh(el);
    });
    document.querySelectorAll("[data-live-session]").forEach(function (el) {
      if (el.dataset.liveSession === d.session) refresh(el);
    });
    // Approval cards: one that is no longer waiting says so.
    var card = document.querySelector('[data-pending-id="' + CSS.escape(d.id) + '"]');
    if (card && !d.waiting) {
      card.classList.add("done");
      var note = card.querySelector(".resolved");
      note.hidden = false;
      note.textContent = "No longer waiting: " + d.status + ".";
      card.querySelectorAll("button, textarea, input, select").forEach(function (b) { b.disabled = true; });
    } else if (!card && d.waiting) {
      var notice = document.getElementById("approvals-new");
      if (notice) notice.hidden = false;
    }
  }

  var es = new EventSource("/events" + (body.dataset.events ? "?" + body.dataset.events : ""));
  // On every (re)connection, reload the live parts of the page: what
  // changed between its rendering (or the last connection) and now.
  es.onopen = function () {
    setLive("on", "live");
    delete body.dataset.synced;
    Promise.all([].map.call(document.querySelectorAll("[data-live-src]"), refresh)).then(function () {
      body.dataset.synced = "true"; // everything shown is current; from now on the stream keeps it so
    });
  };
  es.onerror = function () {
    if (es.readyState === EventSource.CLOSED) setLive("off", "offline — reload");
    else setLive("wait", "reconnecting");
  };
  es.addEventListener("action", function (e) { onAction(JSON.parse(e.data)); });
  es.addEventListener("halts", function (e) {
    document.getElementById("banner").innerHTML = JSON.parse(e.data).banner;
  });
  es.addEventListener("pending", function (e) {
    var n = JSON.parse(e.data).count;
    var c = document.getElementById("pending-count");
    if (c) {
      c.textContent = n;
      c.setAttribute("aria-label", n + " pending");
      c.classList.toggle("zero", n === 0);
    }
    // The approvals page: more are waiting than it shows.
    var notice = document.getElementById("approvals-new");
    if (notice && n > document.querySelectorAll("[data-pending-id]:not(.done)").length) notice.hidden = false;
  });
  es.addEventListener("signedout", function () {
    es.close();
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  });
  // The stream fell behind the journal: what is shown may be stale.
  es.addEventListener("resync", function () {
    es.close();
    location.reload();
  });
})();
