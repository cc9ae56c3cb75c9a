// Policies: the versions, upload, try (dry-run), replay, activate / roll back.
import { call, dec, m, parseJson, pretty, query } from './api.js';
import { diffChart } from './chart.js';
import { approx, bytes, count, micros, money, moneyDiff, time } from './fmt.js';
import {
  badge, busy, clear, code, confirm, empty, errorBox, facts, field, form, h, loading, table, title,
  add,
} from './ui.js';

export async function policies(page, params, ctx) {
  const list = h('section', { 'aria-labelledby': 'versions-head' }, loading());
  add(page, title('Policies'), uploadForm(ctx), list);
  await showList(list, ctx);
}

async function showList(box, ctx) {
  let data;
  try {
    data = await call('GET', m('/policies'));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  clear(box, h('h2', { id: 'versions-head' }, 'Versions'));
  if (data.items.length === 0) {
    add(box, empty('No policy uploaded yet. Build one with `cargo run -- build examples/tier-discount` and upload the .wasm above.'));
    return;
  }
  const active = data.items.find((p) => p.active);
  add(box, table([
    ['Version', (p) => h('span', { class: 'version' }, `v${p.version}`)],
    ['Note', (p) => p.note || '—'],
    ['Size', (p) => bytes(p.sizeBytes), 'num'],
    ['Contract', (p) => (p.contract ? h('code', { class: 'contract' }, p.contract) : '—')],
    ['SHA-256', (p) => h('code', { title: p.sha256 }, `${p.sha256.slice(0, 12)}…`)],
    ['Uploaded', (p) => time(p.createdAt)],
    ['Active', (p) => (p.active ? h('span', { class: 'badge ok' }, 'active') : '—')],
    ['', (p) => h('div', { class: 'row-actions' },
      h('a', { href: `#/policies/${p.version}/try`, class: 'button small secondary' }, 'Try'),
      h('a', { href: `#/policies/${p.version}/replay`, class: 'button small secondary' }, 'Replay'),
      p.active ? null : h('button', {
        type: 'button',
        class: 'small',
        'data-version': p.version,
        onclick: (event) => activate(event.currentTarget, p, active, ctx),
      }, active && p.version < active.version ? 'Roll back' : 'Activate'))],
  ], data.items, 'Policy versions, newest first'));
}

async function activate(button, version, active, ctx) {
  const label = (p) => `version ${p.version}${p.note ? ` (“${p.note}”)` : ''}`;
  const rollback = active && version.version < active.version;
  const body = h('div', {},
    h('p', {}, active
      ? `The tills now run ${label(active)}. After this they run ${label(version)}, on every replica within a second.`
      : `No policy is active now (the tills get no discount). After this they run ${label(version)}.`),
    h('p', {}, `The policy config stays as it is. ${rollback ? 'This is a roll back to an older version; ' : ''}You can activate another version at any time; the audit trail records this change.`));
  const ok = await confirm(`${rollback ? 'Roll back to' : 'Activate'} version ${version.version}?`, body, rollback ? 'Roll back' : 'Activate');
  if (!ok) return;
  await busy(button, async () => {
    try {
      await call('POST', m(`/policies/${version.version}/activate`));
      ctx.go('policies');
    } catch (error) {
      button.closest('section').prepend(errorBox(error, 'Not activated'));
    }
  });
}

function uploadForm(ctx) {
  const file = h('input', { type: 'file', name: 'wasm', accept: '.wasm,application/wasm' });
  const note = h('input', { name: 'note', maxlength: '200' });
  const out = h('div', { 'aria-live': 'polite', class: 'upload-result' });
  const submit = h('button', { type: 'submit' }, 'Upload');
  return form({ class: 'card-panel', 'aria-labelledby': 'upload-head' }, () => busy(submit, async () => {
    clear(out);
    const chosen = file.files && file.files[0];
    if (!chosen) {
      add(out, errorBox(new Error('Choose a .wasm file first.')));
      return;
    }
    try {
      const bytesRead = await chosen.arrayBuffer();
      const uploaded = await call('POST', m(`/policies${query({ note: note.value.trim() })}`), {
        bytes: bytesRead, contentType: 'application/wasm',
      });
      add(out, h('div', { class: 'success', role: 'status' },
        h('p', {}, h('strong', {}, `Version ${uploaded.version} uploaded`), ' — validated and compiled, not active yet.'),
        facts([
          ['SHA-256', h('code', {}, uploaded.sha256)],
          ['Size', bytes(uploaded.sizeBytes)],
          ['Contract', uploaded.contract ? h('code', {}, uploaded.contract) : '—'],
          ['Imports', uploaded.imports.length ? uploaded.imports.join(', ') : 'none'],
          ['WASI', uploaded.usesWasi ? 'yes (served deterministically)' : 'no'],
        ]),
        h('p', {}, h('a', { href: `#/policies/${uploaded.version}/try`, class: 'button small' }, `Try version ${uploaded.version}`))));
      file.value = '';
      note.value = '';
      const list = document.querySelector('[aria-labelledby="versions-head"]');
      if (list) await showList(list, ctx);
    } catch (error) {
      add(out, errorBox(error, 'Upload refused'));
    }
  }),
  h('h2', { id: 'upload-head' }, 'Upload a version'),
  h('div', { class: 'grid2' }, field('Policy component (.wasm)', file), field('Note', note, 'Kept with the version, up to 200 characters.')),
  h('div', { class: 'actions' }, submit), out);
}

// A recorded bill picked on the evaluations page, handed to "try it".
let pickedEvaluation = null;
export function pickEvaluation(evaluation) {
  pickedEvaluation = evaluation;
}

/** The Papaya endpoint-1 body for a logged canonical order (what dry-run takes). */
export function papayaBody(evaluation) {
  const order = evaluation.request || {};
  const iso = (ms) => (ms === null || ms === undefined ? undefined : new Date(Number(ms)).toISOString());
  const body = {
    orderId: order.orderId,
    cardId: evaluation.cardId || (evaluation.card && evaluation.card.cardId) || '',
    status: order.status,
    total: order.total,
    totalWithoutVat: order.totalWithoutVat ?? undefined,
    currency: order.currency,
    vat: order.vat ?? undefined,
    created: iso(order.created),
    updated: iso(order.updated),
    branchId: order.branchId ?? undefined,
    note: order.note ?? undefined,
    orderItems: (order.items || []).map((item) => ({ ...item })),
  };
  for (const pair of order.attributes || []) {
    const [key, text] = pair;
    if (key in body || key === 'cardId' || key === 'event') continue;
    try {
      body[key] = parseJson(text);
    } catch {
      body[key] = text;
    }
  }
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

export async function tryIt(page, [version], ctx) {
  add(page, title(`Try version ${version}`, h('p', { class: 'muted' }, 'A dry-run: the exact answer the till would get. Nothing is recorded.')));
  const source = h('select', { name: 'bill' }, h('option', { value: '' }, 'Paste a bill below'));
  const bill = h('textarea', { name: 'order', rows: '12', spellcheck: 'false', class: 'json' });
  const cardText = h('textarea', { name: 'card', rows: '5', spellcheck: 'false', class: 'json', placeholder: '{"tier": "gold", "points": 10}' });
  const configText = h('textarea', { name: 'config', rows: '5', spellcheck: 'false', class: 'json', placeholder: 'the merchant’s config' });
  const out = h('section', { 'aria-live': 'polite', 'aria-label': 'Result', class: 'try-result' });
  const submit = h('button', { type: 'submit' }, 'Run');
  const recorded = [];
  try {
    const data = await call('GET', m(`/evaluations${query({ limit: 50 })}`));
    const seen = new Set();
    for (const e of data.items) {
      if (seen.has(e.orderId)) continue;
      seen.add(e.orderId);
      recorded.push(e);
    }
  } catch (error) {
    add(out, errorBox(error, 'The recorded bills could not be listed'));
  }
  if (pickedEvaluation && !recorded.some((e) => e.id === pickedEvaluation.id)) recorded.unshift(pickedEvaluation);
  for (const e of recorded) {
    source.append(h('option', { value: String(e.id) },
      `${e.orderId} · card ${e.cardId || '—'} · ${money(e.request && e.request.total, e.request && e.request.currency)} · ${time(e.at)}`));
  }
  const useRecorded = () => {
    const e = recorded.find((x) => String(x.id) === source.value);
    if (e) bill.value = pretty(papayaBody(e));
  };
  source.addEventListener('change', useRecorded);
  if (pickedEvaluation) {
    source.value = String(pickedEvaluation.id);
    pickedEvaluation = null;
    useRecorded();
  } else if (recorded.length) {
    source.value = String(recorded[0].id);
    useRecorded();
  }
  add(page, form({ class: 'card-panel' }, () => busy(submit, async () => {
    clear(out);
    const request = {};
    for (const [name, el, required] of [['order', bill, true], ['card', cardText, false], ['config', configText, false]]) {
      const text = el.value.trim();
      if (!text) {
        if (required) {
          add(out, errorBox(new Error('Paste a Papaya endpoint-1 bill, or pick a recorded one.')));
          return;
        }
        continue;
      }
      try {
        request[name] = parseJson(text);
      } catch (error) {
        add(out, errorBox(new Error(`${name} is not JSON: ${error.message}`)));
        return;
      }
    }
    try {
      const result = await call('POST', m(`/policies/${version}/dry-run`), { json: request });
      showDryRun(out, result, request.order);
    } catch (error) {
      add(out, errorBox(error, 'Refused'));
    }
  }),
  field('Recorded bill', source, recorded.length ? 'The bills the tills sent (newest first); choosing one fills the bill below.' : 'No recorded bill yet: paste one.'),
  field('Bill (Papaya endpoint-1 body)', bill),
  h('div', { class: 'grid2' },
    field('Card (optional)', cardText, 'Inline card; left empty, the bill’s cardId is looked up.'),
    field('Config (optional)', configText, 'Left empty, the merchant’s config is used.')),
  h('div', { class: 'actions' }, submit, h('a', { href: '#/policies', class: 'button ghost' }, 'Back to versions'))), out);
}

function showDryRun(out, r, order) {
  const currency = (order && order.currency) || 'EUR';
  const response = r.response || {};
  const lines = response.discounts || [];
  add(out, h('h2', {}, 'What the till would get'),
    h('div', { class: 'kpis' },
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value total-discount' }, money(response.totalDiscount, currency)), h('span', { class: 'kpi-label' }, 'Total discount')),
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value' }, badge(r.outcome)), h('span', { class: 'kpi-label' }, 'Outcome')),
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value' }, count(r.fuelUsed)), h('span', { class: 'kpi-label' }, 'Fuel')),
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value' }, bytes(r.peakMemoryBytes)), h('span', { class: 'kpi-label' }, 'Peak memory')),
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value' }, micros(r.durationMicros)), h('span', { class: 'kpi-label' }, 'Time'))),
    r.failure ? h('div', { class: 'error' }, h('strong', {}, 'Policy failure: '), r.failure) : null,
    response.message ? h('p', {}, 'Cashier message: ', h('q', { class: 'cashier-message' }, response.message)) : null,
    lines.length
      ? table([
        ['Type', (d) => d.type],
        ['Applies to', (d) => d.appliesTo || '—'],
        ['Description', (d) => d.description || '—'],
        ['Percentage', (d) => (d.percentage !== undefined ? `${dec(d.percentage)} %` : '—'), 'num'],
        ['Amount', (d) => money(d.amount, currency), 'num amount'],
      ], lines, 'Discount lines')
      : empty('No discount on this bill.'),
    facts([
      ['Card', `${r.card.cardId} (${r.cardSource})${r.card.tier ? `, tier ${r.card.tier}` : ''}`],
      ['Config', r.configSource === 'request' ? 'from this form' : 'the merchant’s'],
      r.note ? ['Note', r.note] : null,
      ['Logs dropped', String(r.logsDropped)],
    ]),
    h('h3', {}, 'Policy log'),
    r.logs.length ? code(r.logs.map((l) => `${l.level || ''} ${l.message || JSON.stringify(l)}`).join('\n')) : empty('The policy logged nothing.'),
    h('h3', {}, 'The answer, exactly as sent'),
    code(pretty(response)));
}

export async function replay(page, [version], ctx) {
  add(page, title(`Replay version ${version}`, h('p', { class: 'muted' }, 'Re-run recorded bills against this version: what each would get compared with what it got. Nothing is recorded.')));
  const mode = h('select', { name: 'mode' }, h('option', { value: 'last' }, 'The last N bills'), h('option', { value: 'since' }, 'Since a date'));
  const limit = h('input', { type: 'number', name: 'limit', min: '1', max: '10000', value: '1000' });
  const since = h('input', { type: 'date', name: 'since' });
  const configText = h('textarea', { name: 'config', rows: '4', spellcheck: 'false', class: 'json', placeholder: 'the merchant’s config' });
  const out = h('section', { 'aria-live': 'polite', 'aria-label': 'Replay result', class: 'replay-result' });
  const submit = h('button', { type: 'submit' }, 'Replay');
  const sinceField = field('Since (UTC day)', since);
  const toggle = () => { sinceField.hidden = mode.value !== 'since'; };
  mode.addEventListener('change', toggle);
  toggle();
  add(page, form({ class: 'card-panel' }, () => busy(submit, async () => {
    clear(out, loading('Replaying…'));
    const request = { onlyChanged: true };
    if (limit.value) request.limit = Number(limit.value);
    if (mode.value === 'since') {
      if (!since.value) {
        clear(out, errorBox(new Error('Choose the day to start from.')));
        return;
      }
      request.since = `${since.value}T00:00:00Z`;
    }
    if (configText.value.trim()) {
      try {
        request.config = parseJson(configText.value);
      } catch (error) {
        clear(out, errorBox(new Error(`config is not JSON: ${error.message}`)));
        return;
      }
    }
    try {
      const report = await call('POST', m(`/policies/${version}/replay`), { json: request });
      clear(out);
      showReplay(out, report);
    } catch (error) {
      clear(out, errorBox(error, 'Refused'));
    }
  }),
  h('div', { class: 'grid3' }, field('Bills', mode), field('At most (N)', limit, '1 to 10 000'), sinceField),
  field('Config (optional)', configText),
  h('div', { class: 'actions' }, submit, h('a', { href: '#/policies', class: 'button ghost' }, 'Back to versions'))), out);
}

function showReplay(out, report) {
  const s = report.summary;
  add(out, h('h2', {}, 'Summary'),
    h('div', { class: 'kpis' },
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value orders-compared' }, count(s.ordersCompared)), h('span', { class: 'kpi-label' }, 'Orders re-run')),
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value orders-changed' }, count(s.changed)), h('span', { class: 'kpi-label' }, 'Changed')),
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value' }, count(s.failures)), h('span', { class: 'kpi-label' }, 'Failures')),
      h('div', { class: 'kpi' }, h('span', { class: 'kpi-value' }, `${count(s.durationMillis)} ms`), h('span', { class: 'kpi-label' }, 'Took'))),
    Object.keys(s.failuresByOutcome).length
      ? h('p', {}, 'Failures by outcome: ', Object.entries(s.failuresByOutcome).map(([o, n]) => `${o} ${n}`).join(', '))
      : null,
    s.skipped ? h('p', { class: 'muted' }, `${s.skipped} log rows could not be read back as bills and were skipped.`) : null,
    s.totals.length
      ? table([
        ['Currency', (t) => t.currency],
        ['Discount before', (t) => money(t.before, t.currency), 'num'],
        ['Discount after', (t) => money(t.after, t.currency), 'num'],
        ['Difference', (t) => money(t.difference, t.currency), 'num difference'],
      ], s.totals, 'Totals per currency')
      : empty('No recorded bill in this range: nothing to replay yet. Bills appear once tills call endpoint 1.'));
  const changed = report.orders.filter((o) => o.changed);
  if (!changed.length) {
    if (s.ordersCompared) add(out, empty('No order would change with this version.'));
    return;
  }
  const ordered = [...changed].reverse();
  add(out, h('h3', {}, 'Per-order difference (after − before), oldest first'),
    diffChart({
      values: ordered.map((o) => approx(moneyDiff(o.after.totalDiscount, o.before.totalDiscount, o.currency))),
      label: `Discount difference per changed order, ${changed.length} orders`,
      format: (n) => n.toFixed(2),
    }),
    table([
      ['Order', (o) => h('a', { href: `#/evaluations/${o.evaluationId}`, class: 'evaluation-link', title: `The logged run ${o.evaluationId}` }, o.orderId)],
      ['Card', (o) => o.cardId],
      ['When', (o) => time(o.at)],
      ['Before', (o) => [money(o.before.totalDiscount, o.currency), ' ', badge(o.before.outcome), o.before.version ? ` v${o.before.version}` : '']],
      ['After', (o) => [money(o.after.totalDiscount, o.currency), ' ', badge(o.after.outcome)]],
      ['Difference', (o) => money(moneyDiff(o.after.totalDiscount, o.before.totalDiscount, o.currency), o.currency), 'num'],
    ], changed, `Changed orders (${changed.length})`));
}
