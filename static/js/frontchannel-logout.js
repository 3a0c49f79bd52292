// OpenID Connect Front-Channel Logout 1.0: once the applications' logout pages have loaded
// in their hidden frames (or after two seconds at most), continue to where the sign-out
// goes next: the Continue link's address (templates/ciam/frontchannel_logout.html).
(function () {
  "use strict";

  var link = document.getElementById("frontchannel-logout-continue");
  if (!link) {
    return;
  }
  var WAIT_AT_MOST_MS = 2000;
  var gone = false;

  function proceed() {
    if (gone) {
      return;
    }
    gone = true;
    window.location.assign(link.href);
  }

  // The window's load event waits for every frame of the page.
  if (document.readyState === "complete") {
    proceed();
  } else {
    window.addEventListener("load", proceed);
  }
  window.setTimeout(proceed, WAIT_AT_MOST_MS);
})();
