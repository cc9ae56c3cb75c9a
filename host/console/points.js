// Points over time: the merchant's rules (expiry, vesting, time zone) and, on a card's
// page, its points as they stand — spendable, pending, held, the next expiry, its lots.
import { call, m } from './api.js';
import { count, time } from './fmt.js';
import {
  add, busy, clear, empty, errorBox, facts, field, form, h, loading, table, title,
} from './ui.js';

const KINDS = [
  ['never', 'Never'],
  ['days', 'Days after earning'],
  ['months', 'Calendar months after earning'],
  ['endOfMonth', 'At the end of the Nth month after earning (0: that month)'],
];

/** The rules in words: "12 months after earning; pending 14 days; Europe/Bratislava". */
export function rulesText(rules) {
  const e = rules.expiry;
  let expiry = 'Points never expire';
  if (e && typeof e === 'object') {
    if ('days' in e) expiry = `Points expire ${count(e.days)} days after they are earned`;
    if ('months' in e) expiry = `Points expire ${count(e.months)} months after they are earned`;
    if ('endOfMonth' in e) {
      expiry = e.endOfMonth === 0
        ? 'Points expire at the end of the month they are earned in'
        : `Points expire at the end of the ${ordinal(e.endOfMonth)} month after the one they are earned in`;
    }
  }
  const vesting = rules.vestingDays
    ? `they stay pending (not spendable) for ${count(rules.vestingDays)} days`
    : 'they can be spent at once';
  return `${expiry}; ${vesting}; dates in ${rules.timeZone || 'UTC'}.`;
}

function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th'}`;
}

export async function pointsRules(page) {
  add(page, title('Points rules', h('p', { class: 'muted' },
    'When earned points expire and how long they stay pending (a returns window). A change applies to points earned from now on; points that had no expiry get one counted from now, so nothing a customer has is shortened.')));
  let rules;
  try {
    rules = await call('GET', m('/points-rules'));
  } catch (error) {
    add(page, errorBox(error));
    return;
  }
  const now = h('p', { class: 'rules-now', role: 'status' }, rulesText(rules));
  const kind = h('select', { name: 'expiryKind' },
    KINDS.map(([value, label]) => h('option', { value }, label)));
  const e = rules.expiry && typeof rules.expiry === 'object' ? rules.expiry : {};
  const current = KINDS.find(([k]) => k in e);
  kind.value = current ? current[0] : 'never';
  const n = h('input', { type: 'number', name: 'expiryCount', min: '0', step: '1' });
  n.value = current ? String(e[current[0]]) : '';
  const nField = field('N', n, 'Days, months, or months to a month’s end.');
  const showN = () => { nField.hidden = kind.value === 'never'; };
  kind.addEventListener('change', showN);
  showN();
  const vesting = h('input', { type: 'number', name: 'vestingDays', min: '0', step: '1' });
  vesting.value = String(rules.vestingDays || 0);
  const zone = h('input', { name: 'timeZone', placeholder: 'UTC', maxlength: '64' });
  zone.value = rules.timeZone || '';
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Save rules');
  add(page, now, form({ class: 'card-panel' }, () => busy(submit, async () => {
    clear(out);
    const body = {};
    if (kind.value !== 'never') {
      const value = Number(n.value);
      body.expiry = { [kind.value]: n.value === '' || !Number.isInteger(value) ? n.value : value };
    } else {
      body.expiry = 'never';
    }
    const days = Number(vesting.value);
    body.vestingDays = vesting.value === '' ? 0 : (Number.isInteger(days) ? days : vesting.value);
    if (zone.value.trim() !== '') body.timeZone = zone.value.trim();
    try {
      const saved = await call('PUT', m('/points-rules'), { json: body });
      now.textContent = rulesText(saved);
      add(out, h('p', { class: 'success', role: 'status' }, 'Saved.'));
    } catch (error) {
      add(out, errorBox(error, 'Not saved'));
    }
  }), h('h2', {}, 'Change the rules'),
  h('div', { class: 'grid3' }, field('Expiry', kind), nField,
    field('Pending days', vesting, '0: spendable at once.'),
    field('Time zone', zone, 'IANA name, e.g. Europe/Bratislava; months end at its midnight.')),
  h('div', { class: 'actions' }, submit), out));
}

const SOURCES = {
  earned: 'Earned',
  returned: 'Given back by a return',
  migrated: 'Balance before lots',
  debt: 'Owed (taken beyond every lot)',
};

/** A card's points over time, for its page; reads them now. */
export function cardPoints(cardId) {
  const box = h('section', { class: 'card-panel points-over-time', 'aria-labelledby': 'points-head' }, loading());
  void showCardPoints(box, cardId);
  return box;
}

export async function showCardPoints(box, cardId) {
  let p;
  try {
    p = await call('GET', m(`/cards/${encodeURIComponent(cardId)}/points`));
  } catch (error) {
    clear(box, h('h2', { id: 'points-head' }, 'Points over time'), errorBox(error, 'The card’s points could not be read'));
    return;
  }
  const next = p.nextExpiry
    ? `${count(p.nextExpiry.points)} on ${time(p.nextExpiry.at)}`
    : 'nothing due to expire';
  const lots = p.lots.length
    ? table([
      ['Earned', (l) => time(l.earnedAt)],
      ['From', (l) => SOURCES[l.source] || l.source],
      ['Points', (l) => count(l.points), 'num'],
      ['Left', (l) => count(l.remaining), 'num'],
      ['Spendable from', (l) => (l.pending ? `${time(l.vestsAt)} (pending)` : time(l.vestsAt))],
      ['Expires', (l) => (l.expiresAt === null || l.expiresAt === undefined ? 'never' : time(l.expiresAt))],
    ], p.lots, 'Lots with points left, oldest first: spending takes from the oldest spendable lot.')
    : empty('No lots with points left.');
  clear(box, h('h2', { id: 'points-head' }, 'Points over time'), facts([
    ['Balance', count(p.balance)],
    ['Pending (not spendable yet)', h('span', { class: 'pending-points' }, count(p.pendingPoints))],
    ['Held for open bills', count(p.heldPoints)],
    ['Available now', count(p.availablePoints)],
    ['Next expiry', h('span', { class: 'next-expiry' }, next)],
  ]), lots, h('p', { class: 'muted' }, h('a', { href: '#/points-rules' }, 'Points rules')));
}
