// Live password checklist (C1): ticks each rule as soon as it is met, with the same local rules
// the server applies (src/identity/password/policy.ts). The server stays the judge.
(function () {
  'use strict';
  var list = document.getElementById('password-checklist');
  var password = document.getElementById('password');
  if (!list || !password) return;
  var policy = JSON.parse(list.getAttribute('data-policy'));
  var confirmation = document.getElementById('password_confirmation');
  var email = document.getElementById('email');
  var fixedEmail = list.getAttribute('data-email') || '';

  function emailPieces(address) {
    var local = address.normalize('NFKC').toLowerCase().split('@')[0] || '';
    var pieces = [local].concat(local.split(/[._+-]/));
    return pieces.filter(function (piece) {
      return Array.from(piece).length >= policy.emailPieceMinLength;
    });
  }

  function check() {
    var text = password.value.normalize('NFKC');
    var length = Array.from(text).length;
    var lower = text.toLowerCase();
    var address = email ? email.value : fixedEmail;
    var results = {
      length: length >= policy.minLength && length <= policy.maxLength,
      lower: /\p{Ll}/u.test(text),
      upper: /\p{Lu}/u.test(text),
      digit: /\p{Nd}/u.test(text),
      symbol: /[^\p{L}\p{N}]/u.test(text),
      email:
        text.length > 0 &&
        !emailPieces(address).some(function (piece) {
          return lower.indexOf(piece) !== -1;
        }),
      match: !confirmation || (text.length > 0 && confirmation.value === password.value),
    };
    // The strength rule (zxcvbn and its dictionaries) is judged by the server when the form is
    // sent: the page does not download megabytes of word lists to tick it.
    Array.prototype.forEach.call(list.querySelectorAll('li[data-rule]:not([data-checked-by])'), function (item) {
      var met = results[item.getAttribute('data-rule')] === true;
      item.classList.toggle('met', met);
      item.setAttribute('data-met', met ? 'true' : 'false');
    });
  }

  [password, confirmation, email].forEach(function (input) {
    if (input) input.addEventListener('input', check);
  });
  check();
})();
