/*
 * Passkeys: helpers shared by the sign-in and creation scripts.
 * Converts between the JSON the server speaks (base64url strings, WebAuthn L3 5.1.8-5.1.11)
 * and the ArrayBuffers navigator.credentials expects, and talks to the JSON endpoints.
 */
(function () {
  "use strict";

  var CAPABLE_COOKIE = "ciam_passkeys_capable";

  function toBuffer(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var padded = base64 + "===".slice((base64.length + 3) % 4);
    var binary = window.atob(padded);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBufferId(descriptor) {
    return Object.assign({}, descriptor, { id: toBuffer(descriptor.id) });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: (json.excludeCredentials || []).map(withBufferId),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: (json.allowCredentials || []).map(withBufferId),
    });
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults()
        : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (credential.authenticatorAttachment) {
      json.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    }
    if (response.authenticatorData) {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      json.response.userHandle = response.userHandle ? toBase64url(response.userHandle) : null;
    }
    return json;
  }

  function csrfToken(root) {
    var input =
      root.querySelector('input[name="csrfmiddlewaretoken"]') ||
      document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  // Resolves with the JSON body; rejects with an Error carrying the server's code and
  // message (already in the page's language) when the answer is not 2xx.
  function postJSON(url, body, token) {
    return window
      .fetch(url, {
        method: "POST",
        credentials: "same-origin",
        // A redirect (to a sign-in or code page) is not an answer of these endpoints.
        redirect: "manual",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          "X-CSRFToken": token,
        },
        body: JSON.stringify(body),
      })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            if (!response.ok) {
              var error = new Error(data.message || "");
              error.server = true;
              error.code = data.error || "http_" + response.status;
              throw error;
            }
            return data;
          });
      });
  }

  function show(element, text) {
    if (!element) {
      return;
    }
    element.textContent = text || "";
    element.hidden = !text;
  }

  function supported() {
    return Boolean(window.PublicKeyCredential && navigator.credentials && window.fetch);
  }

  // Tells the server whether this browser has a user-verifying platform authenticator
  // (fingerprint, face, screen lock): only then is creating a passkey offered after sign-in.
  function rememberCapability() {
    if (!supported() || !PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable) {
      return;
    }
    PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable()
      .then(function (available) {
        var secure = window.location.protocol === "https:" ? "; Secure" : "";
        document.cookie =
          CAPABLE_COOKIE +
          "=" +
          (available ? "1" : "0") +
          "; Path=/; Max-Age=31536000; SameSite=Lax" +
          secure;
      })
      .catch(function () {});
  }

  window.CiamPasskeys = {
    creationOptions: creationOptions,
    credentialJSON: credentialJSON,
    csrfToken: csrfToken,
    postJSON: postJSON,
    rememberCapability: rememberCapability,
    requestOptions: requestOptions,
    show: show,
    supported: supported,
  };
})();
