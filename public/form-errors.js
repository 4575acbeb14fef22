// A message about a field goes away as soon as the user edits that field (for the password the
// live checklist takes over), so a page never keeps showing a problem that may be fixed already.
// The server checks everything again when the form is sent.
(function () {
  'use strict';
  var box = document.getElementById('form-errors');
  if (!box) return;

  function edited(event) {
    var field = event.target;
    var name = field && field.name;
    if (!name) return;
    Array.prototype.forEach.call(box.querySelectorAll('li[data-fields]'), function (item) {
      if (item.getAttribute('data-fields').split(' ').indexOf(name) !== -1) item.parentNode.removeChild(item);
    });
    if (field.getAttribute('aria-invalid') === 'true') field.removeAttribute('aria-invalid');
    if (!box.querySelector('li')) box.hidden = true;
  }
  document.addEventListener('input', edited, true);
  document.addEventListener('change', edited, true);
})();
