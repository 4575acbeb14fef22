// The language menu reloads the page in the other language. What the user typed into the page's
// forms comes along for that one page load (kept in this tab's sessionStorage, then removed):
// passwords, one-time codes and hidden fields never do.
(function () {
  'use strict';
  var KEY = 'monban:typed';

  function keepable(field) {
    if (!field.name || field.disabled || field.readOnly) return false;
    var type = (field.type || '').toLowerCase();
    if (['password', 'hidden', 'submit', 'button', 'reset', 'file', 'image'].indexOf(type) !== -1) return false;
    var autocomplete = (field.getAttribute('autocomplete') || '').toLowerCase();
    return autocomplete !== 'one-time-code' && autocomplete !== 'off';
  }

  function formKey(form) {
    return form.getAttribute('action') || '';
  }

  function collect() {
    var fields = [];
    Array.prototype.forEach.call(document.querySelectorAll('main form'), function (form) {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!keepable(field)) return;
        var choice = field.type === 'checkbox' || field.type === 'radio';
        fields.push({
          form: formKey(form),
          name: field.name,
          value: field.value,
          checked: choice ? field.checked : null,
        });
      });
    });
    return fields;
  }

  function restore(fields) {
    Array.prototype.forEach.call(document.querySelectorAll('main form'), function (form) {
      fields.forEach(function (kept) {
        if (kept.form !== formKey(form)) return;
        Array.prototype.forEach.call(form.elements, function (field) {
          if (field.name !== kept.name || !keepable(field)) return;
          if (kept.checked === null) field.value = kept.value;
          else if (field.value === kept.value) field.checked = kept.checked;
        });
      });
    });
  }

  document.addEventListener('click', function (event) {
    var link = event.target && event.target.closest ? event.target.closest('#language-menu a[data-lang]') : null;
    if (!link) return;
    try {
      var path = new URL(link.href, location.href).pathname;
      sessionStorage.setItem(KEY, JSON.stringify({ path: path, fields: collect() }));
    } catch {
      /* storage refused (private mode): the page still switches language */
    }
  });

  function onLoad() {
    var kept;
    try {
      kept = JSON.parse(sessionStorage.getItem(KEY) || 'null');
      sessionStorage.removeItem(KEY);
    } catch {
      return;
    }
    if (kept && kept.path === location.pathname && Array.isArray(kept.fields)) restore(kept.fields);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', onLoad);
  else onLoad();
})();
