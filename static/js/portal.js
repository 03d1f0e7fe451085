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

// One alert region at the top of the page for refusals that carry no fragment of their own
// (the portal's error fragment, a 5xx, the network): replaced, never stacked, and cleared by
// the next request that succeeds.
function portalAlert(html) {
  var region = document.getElementById("portal-alert");
  if (!region) {
    region = document.createElement("div");
    region.id = "portal-alert";
    region.setAttribute("data-testid", "portal-alert");
    var main = document.getElementById("main") || document.body;
    main.insertBefore(region, main.firstChild);
  }
  region.innerHTML = html;
}

function portalErrorHtml(xhr) {
  var text = xhr && xhr.responseText;
  if (text && text.indexOf("data-error-fragment") !== -1) { return text; }
  var div = document.createElement("div");
  div.className = "flash flash-error";
  div.setAttribute("role", "alert");
  div.textContent = xhr && xhr.status ? "The portal answered with an error (" + xhr.status + ")."
    : "The portal could not be reached. Check your connection and try again.";
  return div.outerHTML;
}

// A 4xx that answers with the view's own fragment (e.g. the Members section with its message)
// is swapped like a success, so htmx processes it and the page keeps working in place; the
// portal's generic error fragment goes to the alert region instead of replacing the target.
document.addEventListener("htmx:beforeSwap", function (evt) {
  var xhr = evt.detail.xhr;
  if (!xhr || xhr.status < 400 || xhr.status >= 500 || xhr.status === 429) { return; }
  if ((xhr.responseText || "").indexOf("data-error-fragment") !== -1) { return; }
  evt.detail.shouldSwap = true;
  evt.detail.isError = false;
});

document.addEventListener("htmx:afterRequest", function (evt) {
  var region = document.getElementById("portal-alert");
  if (region && evt.detail.successful) { region.innerHTML = ""; }
});

document.addEventListener("htmx:responseError", function (evt) {
  var xhr = evt.detail.xhr;
  var poller = portalPoller(evt);
  if (poller && xhr && (xhr.status === 429 || xhr.status >= 500)) {
    portalRetryPoll(poller, xhr);
    return;
  }
  portalAlert(portalErrorHtml(xhr));
});
document.addEventListener("htmx:sendError", function (evt) {
  var poller = portalPoller(evt);
  if (poller) {
    portalRetryPoll(poller, null);
    return;
  }
  portalAlert(portalErrorHtml(null));
});

// The Code tab: once the IDE is in the page, the keyboard goes to it.
document.addEventListener("htmx:load", function (evt) {
  var elt = evt.detail && evt.detail.elt;
  var frame = elt && elt.querySelector && elt.querySelector("iframe[data-testid=ide-frame]");
  if (frame) {
    frame.focus();
    frame.addEventListener("load", function () { frame.focus(); });
  }
});

// Forms checked live (data-live-check): the server reports only on the fields the person has
// typed in, listed in the hidden `touched` input; a submitted form counts every field.
document.addEventListener("input", function (evt) {
  var input = evt.target;
  var form = input && input.form;
  if (!form || !form.hasAttribute("data-live-check") || !input.name || input.name === "touched") { return; }
  var list = form.elements.namedItem("touched");
  if (!list) { return; }
  var names = list.value ? list.value.split(",") : [];
  if (names.indexOf(input.name) === -1) {
    names.push(input.name);
    list.value = names.join(",");
  }
});

// A field whose messages now include an error is marked invalid for assistive technology.
document.addEventListener("htmx:oobAfterSwap", function (evt) {
  var old = evt.detail && evt.detail.target;  // the replaced element: find its successor by id
  if (!old || !old.id || old.id.slice(-9) !== "-feedback") { return; }
  var box = document.getElementById(old.id);
  if (!box) { return; }
  var input = document.getElementById(box.id.slice(0, -9));
  if (!input) { return; }
  if (box.querySelector(".field-error")) { input.setAttribute("aria-invalid", "true"); }
  else { input.removeAttribute("aria-invalid"); }
});
