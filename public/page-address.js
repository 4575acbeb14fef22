// A step shown in answer to another address (the email step at the authorization request, the
// password step at the email form) puts its own address in the address bar, so that a reload or a
// bookmark asks for the step again instead of posting the form twice or starting another
// authorization request.
(function () {
  'use strict';
  var script = document.currentScript;
  var address = script && script.getAttribute('data-address');
  if (!address || address.charAt(0) !== '/' || address.charAt(1) === '/') return;
  try {
    history.replaceState(history.state, '', address);
  } catch {
    /* an old browser keeps the form's address: a reload posts the form again, which is harmless */
  }
})();
