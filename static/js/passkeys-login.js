/*
 * Sign-in page: "Sign in with a passkey" and passkeys offered in the email field's autofill
 * (conditional mediation, WebAuthn L3 5.1.4). Without this script the page is a plain form.
 *
 * After the server refuses a passkey, nothing starts a new ceremony but the person pressing
 * the button: a copied passkey must not get tries for free (each try raises its counter).
 */
(function () {
  "use strict";

  var P = window.CiamPasskeys;
  var root = document.getElementById("passkey-login");
  if (!P || !root || !P.supported()) {
    return;
  }
  P.rememberCapability();

  var controls = root.querySelector("[data-passkey-controls]");
  var button = document.getElementById("passkey-login-button");
  var errorBox = root.querySelector("[data-passkey-error]");
  var token = P.csrfToken(root);
  var current = null; // the AbortController of the pending navigator.credentials.get

  function nextUrl() {
    return root.dataset.next || "";
  }

  function tagged(stage) {
    return function (error) {
      error.stage = error.stage || stage;
      throw error;
    };
  }

  function forgetUnknown(options, credential) {
    // WebAuthn L3 5.1.10: the passkey's provider may hide a passkey this site no longer has.
    if (PublicKeyCredential.signalUnknownCredential && options.rpId) {
      PublicKeyCredential.signalUnknownCredential({
        rpId: options.rpId,
        credentialId: credential.id,
      }).catch(function () {});
    }
  }

  function signIn(mediation) {
    if (current) {
      current.abort();
    }
    var controller = new AbortController();
    current = controller;
    var options;
    return P.postJSON(root.dataset.beginUrl, {}, token)
      .catch(tagged("begin"))
      .then(function (json) {
        options = json;
        var request = { publicKey: P.requestOptions(json), signal: controller.signal };
        if (mediation) {
          request.mediation = mediation;
        }
        return navigator.credentials.get(request).catch(tagged("get"));
      })
      .then(function (credential) {
        if (!credential) {
          return false;
        }
        var body = { credential: P.credentialJSON(credential), next: nextUrl() };
        // The sign-in form's "Keep me signed in" box applies to a passkey sign-in too.
        var keep = document.querySelector('form input[type="checkbox"][name="remember"]');
        if (keep) {
          body.remember = keep.checked;
        }
        return P.postJSON(root.dataset.completeUrl, body, token)
          .catch(function (error) {
            if (error.code === "unknown_credential") {
              forgetUnknown(options, credential);
            }
            throw error;
          })
          .catch(tagged("complete"))
          .then(function (result) {
            window.location.assign(result.redirect);
            return true;
          });
      });
  }

  function report(error) {
    var text;
    if (error.server) {
      text = error.message || root.dataset.msgFailed;
    } else if (error.name === "NotAllowedError") {
      text = root.dataset.msgCancelled;
    } else {
      text = root.dataset.msgFailed;
    }
    P.show(errorBox, text);
  }

  function autofill() {
    if (!PublicKeyCredential.isConditionalMediationAvailable) {
      return;
    }
    PublicKeyCredential.isConditionalMediationAvailable()
      .then(function (available) {
        if (!available) {
          return;
        }
        return signIn("conditional").catch(function (error) {
          if (error.name === "AbortError") {
            return; // replaced by the button's request
          }
          if (error.stage === "complete") {
            report(error); // no new request: the button starts the next one
          }
        });
      })
      .catch(function () {});
  }

  controls.hidden = false;
  button.addEventListener("click", function () {
    P.show(errorBox, "");
    button.disabled = true;
    signIn()
      .then(function (done) {
        if (!done) {
          button.disabled = false;
          autofill();
        }
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          report(error);
        }
        button.disabled = false;
        if (!error.server) {
          autofill(); // cancelled in the browser: offer the list again
        }
      });
  });
  autofill();
})();
