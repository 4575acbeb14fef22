// Tells the server the browser's time zone (its IANA name, nothing more) so that pages show
// times in it when the account has not chosen a zone of its own.
(function () {
  'use strict';
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || !/^[A-Za-z0-9_+\-/]{1,64}$/.test(zone)) return;
    var secure = location.protocol === 'https:';
    var name = (secure ? '__Host-' : '') + 'monban_tz';
    if (document.cookie.split('; ').indexOf(name + '=' + zone) !== -1) return;
    document.cookie = name + '=' + zone + '; Path=/; Max-Age=31536000; SameSite=Lax' + (secure ? '; Secure' : '');
  } catch {
    /* no Intl or no cookies: times stay in the page language's default zone */
  }
})();
