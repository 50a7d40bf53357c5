/* global window, document, navigator, atob, btoa */
// Passkeys and security keys: the browser half of WebAuthn for Atrium's pages.
// A form marked data-webauthn="create" (register) or "get" (sign in) carries the server's
// options as JSON in data-options; the answer goes back in the form's hidden "response"
// field through an ordinary form submission. Without WebAuthn the forms stay hidden.
(function () {
  'use strict';

  function toBuffer(base64url) {
    var base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) base64 += '=';
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return { id: toBuffer(c.id), type: c.type || 'public-key', transports: c.transports };
    });
  }

  function creationOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    o.excludeCredentials = withIds(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    if (json.allowCredentials && json.allowCredentials.length) o.allowCredentials = withIds(json.allowCredentials);
    else delete o.allowCredentials;
    return o;
  }

  // A credential as the server's JSON: what registration and sign-in answers share, plus
  // the fields of this ceremony's response.
  function credentialJSON(cred, response) {
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: Object.assign({ clientDataJSON: toBase64url(cred.response.clientDataJSON) }, response),
    };
  }

  function registrationJSON(cred) {
    var r = cred.response;
    return credentialJSON(cred, {
      attestationObject: toBase64url(r.attestationObject),
      transports: typeof r.getTransports === 'function' ? r.getTransports() : [],
    });
  }

  function authenticationJSON(cred) {
    var r = cred.response;
    return credentialJSON(cred, {
      authenticatorData: toBase64url(r.authenticatorData),
      signature: toBase64url(r.signature),
      userHandle: r.userHandle ? toBase64url(r.userHandle) : undefined,
    });
  }

  function showError(form) {
    var box = form.querySelector('[data-webauthn-error]');
    if (box) box.hidden = false;
  }

  function attach(form) {
    var mode = form.getAttribute('data-webauthn');
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      if (form.getAttribute('data-ready') === 'yes') return; // the answer is in: submit for real
      event.preventDefault();
      var options = JSON.parse(form.getAttribute('data-options'));
      var ceremony = mode === 'create'
        ? navigator.credentials.create({ publicKey: creationOptions(options) }).then(registrationJSON)
        : navigator.credentials.get({ publicKey: requestOptions(options) }).then(authenticationJSON);
      ceremony.then(function (answer) {
        form.querySelector('input[name="response"]').value = JSON.stringify(answer);
        form.setAttribute('data-ready', 'yes');
        form.submit();
      }, function () {
        showError(form);
      });
    });
  }

  if (!window.PublicKeyCredential || !navigator.credentials) return;
  var forms = document.querySelectorAll('form[data-webauthn]');
  for (var i = 0; i < forms.length; i++) attach(forms[i]);
})();
