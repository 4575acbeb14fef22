// Regenerates views/locales/time-zone-cities.json: the names of the cities that stand for the
// time zones (CLDR's exemplarCity), which Intl does not expose. Every zone has a Japanese name;
// English lists only the cities whose name is not the zone ID's last part with spaces for
// underscores (CLDR's own fallback), e.g. Asia/Calcutta → Kolkata.
//
//   npm pack cldr-dates-full && tar xzf cldr-dates-full-*.tgz package/main
//   node scripts/extract-time-zone-cities.mjs package/main
//
// The data is CLDR's (Unicode License v3, views/locales/time-zone-cities.LICENSE.md).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const main = process.argv[2];
if (!main) throw new Error('usage: node scripts/extract-time-zone-cities.mjs path/to/cldr-dates-full/main');

function cities(locale) {
  const file = path.join(main, locale, 'timeZoneNames.json');
  const zones = JSON.parse(readFileSync(file, 'utf8')).main[locale].dates.timeZoneNames.zone;
  const found = {};
  (function walk(node, prefix) {
    for (const [key, value] of Object.entries(node)) {
      if (value._type === 'zone') {
        if (value.exemplarCity) found[prefix + key] = value.exemplarCity;
      } else if (typeof value === 'object') walk(value, `${prefix}${key}/`);
    }
  })(zones, '');
  return found;
}

const wanted = Intl.supportedValuesOf('timeZone');
const ja = cities('ja');
const en = cities('en');
const missing = wanted.filter((zone) => !ja[zone]);
if (missing.length) throw new Error(`no Japanese city for ${missing.join(', ')}`);
const fromId = (zone) => zone.split('/').pop().replace(/_/g, ' ');
const out = {
  ja: Object.fromEntries(wanted.map((zone) => [zone, ja[zone]])),
  en: Object.fromEntries(
    wanted.filter((zone) => en[zone] && en[zone] !== fromId(zone)).map((zone) => [zone, en[zone]]),
  ),
};
writeFileSync(new URL('../views/locales/time-zone-cities.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
console.log(`${wanted.length} zones, ${Object.keys(out.en).length} English names that differ from the ID`);
