// Passkeys in the browser, with @simplewebauthn/browser (served from /static/vendor, no CDN).
// A form with data-passkey="register" creates a passkey from the options in #passkey-options;
// data-passkey="login" (the email step, the second step) asks the server for options at
// data-options-url, offers passkeys in the email field's autofill where the browser can, and
// on its button (served disabled, enabled here once it works). Either way the authenticator's
// answer goes back in the form's "response" field; the server checks everything.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  var problem = document.getElementById('passkey-problem');

  function say(kind) {
    if (!problem) return;
    problem.textContent = problem.getAttribute('data-' + kind) || '';
    problem.hidden = false;
  }

  function failed(err) {
    // NotAllowedError: the user closed the dialog or let it time out; AbortError: replaced.
    if (err && err.name === 'AbortError') return;
    say(err && err.name === 'NotAllowedError' ? 'cancelled' : 'failed');
  }

  function send(form, answer, auto) {
    form.querySelector('input[name="response"]').value = JSON.stringify(answer);
    // A passkey made by conditional create, without a dialog: the server accepts it without the
    // user-presence and user-verification flags (each sign-in with it still verifies the user).
    var autoField = form.querySelector('input[name="auto"]');
    if (autoField) autoField.value = auto ? '1' : '';
    HTMLFormElement.prototype.submit.call(form);
  }

  function supported() {
    if (lib && lib.browserSupportsWebAuthn()) return true;
    say('unsupported');
    return false;
  }

  function register(form) {
    var options = JSON.parse(document.getElementById('passkey-options').textContent);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (!supported()) return;
      if (problem) problem.hidden = true;
      lib.startRegistration({ optionsJSON: options }).then(function (answer) {
        send(form, answer);
      }, failed);
    });
    // Conditional create: right after a password sign-in, a browser that offers it makes the
    // passkey without a dialog (WebAuthn L3 5.1.3, mediation "conditional").
    if (
      form.hasAttribute('data-auto-register') &&
      lib &&
      window.PublicKeyCredential &&
      PublicKeyCredential.getClientCapabilities
    ) {
      PublicKeyCredential.getClientCapabilities().then(
        function (caps) {
          if (!caps || !caps.conditionalCreate) return;
          lib.startRegistration({ optionsJSON: options, useAutoRegister: true }).then(
            function (answer) {
              send(form, answer, true);
            },
            function () {},
          );
        },
        function () {},
      );
    }
  }

  function options(form) {
    var body = new URLSearchParams();
    body.set('_csrf', form.querySelector('input[name="_csrf"]').value);
    return fetch(form.getAttribute('data-options-url'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    }).then(function (res) {
      if (!res.ok) throw new Error('options ' + res.status);
      return res.json();
    });
  }

  function login(form) {
    var button = form.querySelector('[data-passkey-start]');
    // The library runs one ceremony at a time, and starting one aborts the one before. So the
    // autofill's ceremony is not started once the button was pressed (its options can come back
    // after the button's, and would abort the button's dialog), and the button's starts only once
    // the autofill's has ended (Chromium refuses a request while the one before is still closing).
    var pressed = false;
    var autofill = null;
    if (button) {
      button.addEventListener('click', function (event) {
        event.preventDefault();
        if (!supported()) return;
        if (problem) problem.hidden = true;
        pressed = true;
        var running = autofill;
        if (running) lib.WebAuthnAbortService.cancelCeremony();
        Promise.all([options(form), running])
          .then(function (results) {
            return lib.startAuthentication({ optionsJSON: results[0] });
          })
          .then(function (answer) {
            send(form, answer);
          }, failed);
      });
      // Served disabled: a click before this script had attached did nothing.
      button.disabled = false;
    }
    if (form.hasAttribute('data-autofill') && lib) {
      lib
        .browserSupportsWebAuthnAutofill()
        .then(function (can) {
          if (!can) return;
          return options(form).then(function (optionsJSON) {
            if (pressed) return;
            autofill = lib.startAuthentication({ optionsJSON: optionsJSON, useBrowserAutofill: true }).then(function (
              answer,
            ) {
              send(form, answer);
            }, failed);
            return autofill;
          });
        })
        .catch(function () {});
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll('form[data-passkey="register"]'), register);
  Array.prototype.forEach.call(document.querySelectorAll('form[data-passkey="login"]'), login);
})();
