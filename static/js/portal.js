// The portal's own script: small, no inline code (CSP: script-src 'self').
document.addEventListener("htmx:responseError", function (evt) {
  // Show server error fragments (4xx/5xx) instead of silently dropping them.
  var xhr = evt.detail.xhr;
  if (xhr && xhr.responseText && evt.detail.target) {
    evt.detail.target.innerHTML = xhr.responseText;
  }
});
document.addEventListener("htmx:sendError", function (evt) {
  if (evt.detail.target) {
    evt.detail.target.insertAdjacentHTML("afterbegin",
      '<div class="flash flash-error" role="alert">The portal could not be reached. Check your connection; the page will retry.</div>');
  }
});
