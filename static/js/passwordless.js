/*
 * Email sign-in, in the tab that asked for the email (accounts/templates/passwordless/
 * code.html). Two small jobs, no inline script (the Content-Security-Policy forbids it):
 *
 * - When the emailed link is opened on another device and confirmed there, or in another
 *   tab of this browser, this tab continues by itself: it polls the status URL and, once the
 *   sign-in is confirmed or done, loads the continue URL (the server finishes the sign-in).
 *   Polling pauses while the tab is hidden and resumes at once when it is shown again.
 * - The "Send a new code" button counts down the resend cool-down.
 *
 * Without JavaScript both still work: reloading the page finishes a confirmed sign-in, and
 * the server answers an early resend with the time left.
 */
(function () {
  "use strict";

  var root = document.getElementById("email-sign-in");
  if (!root) {
    return;
  }

  var statusUrl = root.getAttribute("data-status-url");
  var continueUrl = root.getAttribute("data-continue-url");
  var pollMs = Math.max(1, parseInt(root.getAttribute("data-poll-seconds") || "3", 10)) * 1000;
  var timer = null;
  var busy = false;
  var stopped = false;

  function schedule() {
    if (!stopped && !busy && timer === null) {
      timer = window.setTimeout(poll, pollMs);
    }
  }

  function poll() {
    timer = null;
    if (stopped || busy || document.hidden) {
      return; // visibilitychange starts again
    }
    busy = true;
    window
      .fetch(statusUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        busy = false;
        var state = data && data.state;
        if (state === "confirmed" || state === "done") {
          stopped = true;
          window.location.assign(continueUrl);
        } else if (state === "spent" || state === "none") {
          stopped = true;
        } else {
          schedule();
        }
      })
      .catch(function () {
        busy = false;
        schedule();
      });
  }

  if (root.getAttribute("data-state") === "waiting") {
    schedule();
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !stopped && !busy && timer === null) {
        poll();
      }
    });
  }

  var resend = document.getElementById("resend-button");
  var wait = parseInt(root.getAttribute("data-resend-wait") || "0", 10);
  if (resend && wait > 0) {
    var label = resend.textContent;
    var waitLabel = resend.getAttribute("data-wait-label") || label;
    resend.disabled = true;
    var tick = function () {
      if (wait <= 0) {
        resend.disabled = false;
        resend.textContent = label;
        return;
      }
      resend.textContent = waitLabel.replace("{seconds}", String(wait));
      wait -= 1;
      window.setTimeout(tick, 1000);
    };
    tick();
  }
})();
