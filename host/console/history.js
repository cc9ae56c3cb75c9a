// What happened: the evaluation log (each run openable, and linkable at
// `#/evaluations/ID`) and the audit trail.
import { call, m, query, OUTCOMES, pretty } from './api.js';
import { count, micros, money, time } from './fmt.js';
import { badge, clear, code, empty, errorBox, facts, field, h, loading, table, title, add } from './ui.js';
import { pickEvaluation } from './policies.js';

export async function evaluations(page, params, ctx) {
  const outcome = h('select', { name: 'outcome' }, h('option', { value: '' }, 'All outcomes'), OUTCOMES.map((o) => h('option', { value: o }, o)));
  const list = h('section', { 'aria-label': 'Evaluations' }, loading());
  const detail = h('section', { 'aria-label': 'Evaluation', class: 'detail', tabindex: '-1' });
  add(page, title('Evaluations', h('p', { class: 'muted' }, 'Every endpoint-1 policy run, failures included, newest first.')),
    h('div', { class: 'toolbar' }, field('Outcome', outcome)), list, detail);
  outcome.addEventListener('change', () => {
    clear(detail);
    show(list, detail, outcome.value, null, ctx);
  });
  await show(list, detail, '', null, ctx);
}

async function show(box, detail, outcome, cursor, ctx) {
  let data;
  try {
    data = await call('GET', m(`/evaluations${query({ outcome, limit: 50, cursor })}`));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  if (!cursor) clear(box);
  box.querySelector('.more')?.remove();
  if (!cursor && data.items.length === 0) {
    add(box, empty(outcome ? `No run with outcome ${outcome} in the log.` : 'No policy run logged yet: runs appear when tills call endpoint 1.'));
    return;
  }
  add(box, table([
    ['When', (e) => time(e.at)],
    ['Order', (e) => h('a', { href: `#/evaluations/${e.id}`, class: 'evaluation-link', title: `Run ${e.id}: its own page` }, e.orderId)],
    ['Card', (e) => e.cardId || '—'],
    ['Version', (e) => (e.policyVersion ? `v${e.policyVersion}` : '—')],
    ['Outcome', (e) => badge(e.outcome)],
    ['Discount', (e) => money(e.totalDiscount, e.request && e.request.currency), 'num'],
    ['Fuel', (e) => count(e.fuel), 'num'],
    ['Time', (e) => micros(e.durationUs), 'num'],
    ['', (e) => h('button', {
      type: 'button', class: 'small secondary', 'data-evaluation': e.id, 'aria-label': `Open the run of order ${e.orderId}`,
      onclick: () => open(detail, e, ctx),
    }, 'Open')],
  ], data.items));
  if (data.nextCursor) {
    add(box, h('button', { type: 'button', class: 'secondary more', onclick: () => show(box, detail, outcome, data.nextCursor, ctx) }, 'Older runs'));
  }
}

// One run on a page of its own (`#/evaluations/ID`): what the list's "Open" shows, at an
// address that can be kept and shared (a replay's changed orders link here).
export async function evaluation(page, [id], ctx) {
  const detail = h('section', { 'aria-label': 'Evaluation', class: 'detail', tabindex: '-1' }, loading());
  add(page, title(`Run ${id}`, h('p', {}, h('a', { href: '#/evaluations' }, 'All evaluations'))), detail);
  let e;
  try {
    e = await call('GET', m(`/evaluations/${encodeURIComponent(id)}`));
  } catch (error) {
    clear(detail, errorBox(error));
    return;
  }
  open(detail, e, ctx);
}

function open(detail, e, ctx) {
  const currency = e.request && e.request.currency;
  clear(detail,
    h('h2', {}, `Run ${e.id}: order ${e.orderId}`),
    h('p', {}, h('a', { href: `#/evaluations/${e.id}`, class: 'permalink' }, 'Link to this run')),
    facts([
      ['When', time(e.at)],
      ['Outcome', badge(e.outcome)],
      e.error ? ['Error', h('span', { class: 'bad-text evaluation-error' }, e.error)] : null,
      ['Version', e.policyVersion ? `v${e.policyVersion}` : 'no policy'],
      ['Total discount', money(e.totalDiscount, currency)],
      ['Fuel', count(e.fuel)],
      ['Time', micros(e.durationUs)],
    ]),
    h('p', {}, h('button', {
      type: 'button', class: 'small',
      onclick: () => { pickEvaluation(e); ctx.go(`policies/${e.policyVersion || 1}/try`); },
    }, 'Try this bill on a version')),
    h('div', { class: 'grid2' },
      h('div', {}, h('h3', {}, 'Bill (as the policy saw it)'), code(pretty(e.request))),
      h('div', {}, h('h3', {}, 'Card'), e.card ? code(pretty(e.card)) : empty('No card.'))),
    h('h3', {}, 'Answer'),
    e.response ? code(pretty(e.response)) : empty('No answer: the till got the fail-safe (no discount).'),
    h('h3', {}, 'Logs'),
    Array.isArray(e.logs) && e.logs.length ? code(e.logs.map((l) => `${l.level || ''} ${l.message || JSON.stringify(l)}`).join('\n')) : empty('Nothing logged.'));
  detail.focus();
}

export async function audit(page, params, ctx) {
  const list = h('section', { 'aria-label': 'Audit trail' }, loading());
  add(page, title('Audit trail', h('p', { class: 'muted' }, 'Every change made through the admin API, with who made it.')), list);
  await showAudit(list, null);
}

async function showAudit(box, cursor) {
  let data;
  try {
    data = await call('GET', m(`/audit${query({ limit: 50, cursor })}`));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  if (!cursor) clear(box);
  box.querySelector('.more')?.remove();
  if (!cursor && data.items.length === 0) {
    add(box, empty('Nothing changed yet.'));
    return;
  }
  add(box, table([
    ['When', (e) => time(e.at)],
    ['Who', (e) => e.actor],
    ['What', (e) => h('code', {}, e.action)],
    ['Detail', (e) => h('code', { class: 'detail-json' }, JSON.stringify(e.detail))],
  ], data.items));
  if (data.nextCursor) {
    add(box, h('button', { type: 'button', class: 'secondary more', onclick: () => showAudit(box, data.nextCursor) }, 'Older changes'));
  }
}
