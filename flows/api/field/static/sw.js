/* Keeps the escorts' page available without signal: pages and files under /field/ come from
 * the network when there is one (and are kept), else from what was kept. Reports are never
 * handled here: the page's own queue (field.js) sends them once the network is back. */
"use strict";

var CACHE = "convoy-field-v1";

self.addEventListener("install", function (event) {
  self.skipWaiting();
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return cache.addAll(["/field/static/field.js", "/field/static/field.css"]);
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/field/") !== 0) return;
  event.respondWith(
    fetch(request)
      .then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      })
      .catch(function () {
        return caches.match(request).then(function (kept) { return kept || Response.error(); });
      })
  );
});
