// The portal's own script: small, no inline code (CSP: script-src 'self').

// A polling partial (hx-trigger "load delay:…", e.g. the Code tab's status) must not die on a
// refusal: on 429 (rate limited), a 5xx or a network error it keeps what it shows, says why,
// waits (Retry-After, else 2 s doubling up to 60 s) and asks again.
function portalPoller(evt) {
  var elt = evt.detail && evt.detail.elt;
  var trigger = elt && elt.getAttribute && elt.getAttribute("hx-trigger");
  return trigger && trigger.indexOf("load delay") === 0 ? elt : null;
}

function portalRetryPoll(elt, xhr) {
  var status = xhr ? xhr.status : 0;
  var wait = parseFloat(xhr && xhr.getResponseHeader ? xhr.getResponseHeader("Retry-After") : "");
  var previous = parseFloat(elt.getAttribute("data-backoff") || "1");
  if (!(wait > 0)) { wait = previous * 2; }
  wait = Math.min(Math.max(wait, 1), 60);
  elt.setAttribute("data-backoff", String(wait));
  var notice = elt.querySelector(".poll-notice");
  if (!notice) {
    notice = document.createElement("p");
    notice.className = "flash flash-warning poll-notice";
    notice.setAttribute("role", "status");
    elt.appendChild(notice);
  }
  notice.textContent = (status === 429 ? "Too many requests" :
    status ? "The portal answered with an error" : "The portal could not be reached") +
    "; trying again in " + Math.round(wait) + " s.";
  var verb = elt.hasAttribute("hx-get") ? "GET" : "POST";
  var path = elt.getAttribute("hx-" + verb.toLowerCase());
  window.setTimeout(function () {
    if (document.body.contains(elt)) {
      htmx.ajax(verb, path, {source: elt, target: elt, swap: "outerHTML"});
    }
  }, wait * 1000);
}

document.addEventListener("htmx:responseError", function (evt) {
  var xhr = evt.detail.xhr;
  var poller = portalPoller(evt);
  if (poller && xhr && (xhr.status === 429 || xhr.status >= 500)) {
    portalRetryPoll(poller, xhr);
    return;
  }
  // Show server error fragments (4xx/5xx) instead of silently dropping them.
  if (xhr && xhr.responseText && evt.detail.target) {
    evt.detail.target.innerHTML = xhr.responseText;
  }
});
document.addEventListener("htmx:sendError", function (evt) {
  var poller = portalPoller(evt);
  if (poller) {
    portalRetryPoll(poller, null);
    return;
  }
  if (evt.detail.target) {
    evt.detail.target.insertAdjacentHTML("afterbegin",
      '<div class="flash flash-error" role="alert">The portal could not be reached. Check your connection; the page will retry.</div>');
  }
});
