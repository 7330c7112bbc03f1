/* Live figures: poll /ui/live/version every 2 s; when the read models moved, fetch this page
   again and replace the parts marked data-live whose content changed. No reload, no library.
   Without JavaScript the pages work as they are (reload to refresh). */
(function () {
  "use strict";
  var main = document.querySelector("main[data-version]");
  if (!main || !window.fetch || !window.DOMParser) return;
  var version = main.getAttribute("data-version");
  var status = document.getElementById("live-status");
  var every = 2000;
  var busy = false;

  function say(text) { if (status) status.textContent = text; }

  function swap(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var changed = 0;
    document.querySelectorAll("[data-live]").forEach(function (here) {
      var there = page.querySelector('[data-live="' + here.getAttribute("data-live") + '"]');
      if (there && there.innerHTML !== here.innerHTML) {
        here.innerHTML = there.innerHTML;
        here.classList.remove("updated");
        void here.offsetWidth;
        here.classList.add("updated");
        changed += 1;
      }
    });
    return changed;
  }

  function tick() {
    if (busy || document.hidden) return;
    busy = true;
    fetch("/ui/live/version", { credentials: "same-origin", cache: "no-store",
                                headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (!body || body.version === version) return null;
        var next = body.version;
        return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html === null) return;
            version = next;
            main.setAttribute("data-version", next);
            var changed = swap(html);
            var now = new Date().toLocaleTimeString("en-GB");
            if (changed) say("Figures updated at " + now + ".");
          });
      })
      .catch(function () { say("Live updates paused: the service did not answer."); })
      .then(function () { busy = false; });
  }

  say("Figures update by themselves every few seconds.");
  window.setInterval(tick, every);
})();
