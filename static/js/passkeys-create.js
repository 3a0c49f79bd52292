/*
 * Creating a passkey (the passkeys page and the offer after sign-in): WebAuthn L3 5.1.3
 * navigator.credentials.create with the server's options, then the answer back to it.
 */
(function () {
  "use strict";

  var P = window.CiamPasskeys;
  var root = document.getElementById("passkey-create");
  if (!P || !root || !P.supported()) {
    return; // the notice that this browser cannot create passkeys stays visible
  }

  var controls = root.querySelector("[data-passkey-controls]");
  var unsupported = root.querySelector("[data-passkey-unsupported]");
  var button = root.querySelector("[data-passkey-create]");
  var errorBox = root.querySelector("[data-passkey-error]");
  var status = root.querySelector("[data-passkey-status]");
  var nameInput = root.querySelector('input[name="name"]');
  var token = P.csrfToken(root);

  function create() {
    return P.postJSON(root.dataset.beginUrl, {}, token)
      .then(function (options) {
        return navigator.credentials.create({ publicKey: P.creationOptions(options) });
      })
      .then(function (credential) {
        var body = {
          credential: P.credentialJSON(credential),
          name: nameInput ? nameInput.value : "",
        };
        return P.postJSON(root.dataset.completeUrl, body, token);
      });
  }

  function message(error) {
    if (error.server) {
      return error.message || root.dataset.msgFailed;
    }
    if (error.name === "InvalidStateError") {
      return root.dataset.msgExists; // excludeCredentials matched: already registered here
    }
    if (error.name === "NotAllowedError" || error.name === "AbortError") {
      return root.dataset.msgCancelled;
    }
    return root.dataset.msgFailed;
  }

  unsupported.hidden = true;
  controls.hidden = false;
  button.addEventListener("click", function () {
    P.show(errorBox, "");
    status.textContent = root.dataset.msgWorking;
    button.disabled = true;
    create()
      .then(function () {
        window.location.assign(root.dataset.doneUrl);
      })
      .catch(function (error) {
        status.textContent = "";
        P.show(errorBox, message(error));
        button.disabled = false;
      });
  });
})();
