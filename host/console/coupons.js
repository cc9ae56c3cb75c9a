// Coupons: the batches (value, terms, counts) and a new one; one batch with more codes
// generated, a CSV imported (every bad line named by the API, nothing imported), the
// codes exported as CSV (every page, then one file) and listed a page at a time.
import { call, callText, dec, m, query } from './api.js';
import { count, decimal, time } from './fmt.js';
import { busy, clear, empty, errorBox, facts, field, form, h, loading, table, title, add } from './ui.js';

/** What a code is worth: `5.00 off` or `10% off`. */
export function valueText(value) {
  if (!value) return '—';
  return value.kind === 'percentage' ? `${dec(value.percentage)}% off` : `${dec(value.amount)} off`;
}

/** A batch's (or a code's) validity: dates and/or days from issue. */
export function validity(b) {
  const parts = [];
  if (b.validFrom != null) parts.push(`from ${time(b.validFrom)}`);
  if (b.validUntil != null) parts.push(`until ${time(b.validUntil)}`);
  if (b.validDays != null) parts.push(`${b.validDays} days from issue`);
  return parts.length ? parts.join(', ') : 'no end';
}

/** A code's state as a badge. */
export function stateBadge(state) {
  const kind = state === 'available' ? 'ok' : (state === 'held' || state === 'redeemed' ? 'neutral' : 'bad');
  return h('span', { class: `badge ${kind} coupon-state` }, state);
}

/**
 * A decimal typed in a field as JSON: its exact text (JSON.rawJSON) when it is one, else
 * the text itself, which the API refuses in its own words.
 */
export function decimalJson(text) {
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) {
    return typeof JSON.rawJSON === 'function' ? JSON.rawJSON(value) : Number(value);
  }
  return value;
}

/** A whole number typed in a field, or its text (refused by the API in its words). */
export function wholeJson(text) {
  const value = text.trim();
  return /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value)) ? Number(value) : value;
}

/** Epoch ms of a `datetime-local` value read as UTC, or null when empty. */
function instant(input) {
  if (!input.value) return null;
  return Date.parse(`${input.value}:00Z`);
}

export async function coupons(page, params, ctx) {
  const list = h('section', { 'aria-labelledby': 'batches-head' }, loading());
  add(page, title('Coupons', h('p', { class: 'muted' },
    'A batch says what each of its codes is worth, the least bill, how long a code is valid and how often it may be used. Its codes are generated from a pattern or imported from a CSV file; a code goes into a card\u2019s wallet from the card\u2019s page, or stays a flyer code anyone may use.')),
  list, createForm(ctx));
  await showBatches(list);
}

async function showBatches(box) {
  let data;
  try {
    data = await call('GET', m('/coupon-batches'));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  clear(box, h('h2', { id: 'batches-head' }, 'Batches'));
  if (data.items.length === 0) {
    add(box, empty('No coupon batch yet: create one below.'));
    return;
  }
  add(box, table([
    ['Name', (b) => h('a', { class: 'batch-name', href: `#/coupons/${b.id}` }, b.name)],
    ['Value', (b) => valueText(b.value)],
    ['Min bill', (b) => decimal(b.minBill), 'num'],
    ['Validity', (b) => validity(b)],
    ['Uses per code', (b) => count(b.usesPerCode), 'num'],
    ['Codes', (b) => count(b.codes), 'num batch-codes'],
    ['Issued', (b) => count(b.issued), 'num batch-issued'],
    ['Redeemed', (b) => count(b.redeemed), 'num batch-redeemed'],
  ], data.items, 'Coupon batches, newest first'));
}

function createForm(ctx) {
  const name = h('input', { name: 'batchName', maxlength: '64', required: true });
  const kind = h('select', { name: 'valueKind' },
    h('option', { value: 'amount' }, 'An amount off'),
    h('option', { value: 'percentage' }, 'A percentage off'));
  const value = h('input', { name: 'value', inputmode: 'decimal', spellcheck: 'false', placeholder: '5.00' });
  const minBill = h('input', { name: 'minBill', inputmode: 'decimal', spellcheck: 'false' });
  const validDays = h('input', { name: 'validDays', type: 'number', min: '1', max: '3650' });
  const validFrom = h('input', { name: 'validFrom', type: 'datetime-local' });
  const validUntil = h('input', { name: 'validUntil', type: 'datetime-local' });
  const uses = h('input', { name: 'usesPerCode', type: 'number', min: '1', value: '1' });
  const pattern = h('input', { name: 'pattern', spellcheck: 'false', placeholder: 'WELCOME-#####-#####' });
  const generate = h('input', { name: 'generate', type: 'number', min: '1', max: '10000' });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Create batch');
  return form({ class: 'card-panel', 'aria-labelledby': 'batch-new-head' }, () => busy(submit, async () => {
    clear(out);
    const body = { name: name.value.trim() };
    body.value = kind.value === 'percentage'
      ? { kind: 'percentage', percentage: decimalJson(value.value) }
      : { kind: 'amount', amount: decimalJson(value.value) };
    if (minBill.value.trim()) body.minBill = decimalJson(minBill.value);
    if (validDays.value.trim()) body.validDays = wholeJson(validDays.value);
    const from = instant(validFrom);
    const until = instant(validUntil);
    if (from !== null) body.validFrom = from;
    if (until !== null) body.validUntil = until;
    if (uses.value.trim()) body.usesPerCode = wholeJson(uses.value);
    if (pattern.value.trim()) body.pattern = pattern.value.trim();
    if (generate.value.trim()) body.generate = wholeJson(generate.value);
    try {
      const made = await call('POST', m('/coupon-batches'), { json: body });
      ctx.go(`coupons/${made.id}`);
    } catch (error) {
      add(out, errorBox(error, 'Not created'));
    }
  }),
  h('h2', { id: 'batch-new-head' }, 'New batch'),
  h('div', { class: 'grid3' }, field('Name', name, 'Unique among your batches.'), field('Worth', kind),
    field('Amount or percentage', value, 'An amount in your currency, or a percentage of the bill (up to 100).')),
  h('div', { class: 'grid3' }, field('Least bill (optional)', minBill),
    field('Valid days (optional)', validDays, 'A code is valid this many days from its issue to a card.'),
    field('Uses per code', uses)),
  h('div', { class: 'grid2' }, field('Valid from (UTC, optional)', validFrom), field('Valid until (UTC, optional)', validUntil)),
  h('div', { class: 'grid2' },
    field('Pattern (optional)', pattern, 'Each # is a random symbol (at least 10). Without a pattern, the codes are imported from a CSV file.'),
    field('Codes to generate now', generate, 'Up to 10,000; needs a pattern.')),
  h('div', { class: 'actions' }, submit), out);
}

export async function batch(page, [id]) {
  add(page, title('Coupon batch'), h('p', {}, h('a', { href: '#/coupons' }, 'All batches')));
  let b;
  try {
    b = await call('GET', m(`/coupon-batches/${id}`));
  } catch (error) {
    add(page, errorBox(error));
    return;
  }
  clear(page.querySelector('h1'), `Batch ${b.name}`);
  const about = h('section', { class: 'card-panel batch-facts' });
  const codes = h('section', { 'aria-labelledby': 'codes-head' }, loading());
  const showFacts = (batchNow) => {
    b = batchNow;
    clear(about, facts([
      ['Value', valueText(b.value)],
      ['Least bill', decimal(b.minBill)],
      ['Validity', validity(b)],
      ['Uses per code', count(b.usesPerCode)],
      ['Codes', b.pattern ? ['generated from ', h('code', {}, b.pattern)] : 'imported'],
      ['Counts', h('span', { class: 'batch-counts' },
        `${count(b.codes)} codes, ${count(b.issued)} issued, ${count(b.redeemed)} redeemed`)],
      ['Created', time(b.createdAt)],
    ]));
  };
  // After a change: the batch's counts and the codes' first page, again.
  const refresh = async (batchNow) => {
    showFacts(batchNow);
    await showCodes(codes, id, []);
  };
  showFacts(b);
  add(page, about, h('div', { class: 'grid3' },
    b.pattern ? generateForm(id, refresh) : null, importForm(id, refresh), exportPanel(id, () => b.name)), codes);
  await showCodes(codes, id, []);
}

function generateForm(id, refresh) {
  const howMany = h('input', { name: 'generateCount', type: 'number', min: '1', max: '10000', value: '100' });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Generate');
  return form({ class: 'card-panel', 'aria-labelledby': 'generate-head' }, () => busy(submit, async () => {
    clear(out);
    try {
      const n = Number(howMany.value);
      const after = await call('POST', m(`/coupon-batches/${id}/generate`), { json: { count: wholeJson(howMany.value) } });
      add(out, h('div', { class: 'success', role: 'status' }, `${count(n)} codes generated.`));
      await refresh(after);
    } catch (error) {
      add(out, errorBox(error, 'Not generated'));
    }
  }), h('h2', { id: 'generate-head' }, 'Generate more'), field('Codes', howMany, 'Up to 10,000 at a time.'),
  h('div', { class: 'actions' }, submit), out);
}

function importForm(id, refresh) {
  const file = h('input', { name: 'csvFile', type: 'file', accept: '.csv,text/csv' });
  const out = h('div', { 'aria-live': 'polite', class: 'import-out' });
  const submit = h('button', { type: 'submit' }, 'Import CSV');
  return form({ class: 'card-panel', 'aria-labelledby': 'import-head' }, () => busy(submit, async () => {
    clear(out);
    const chosen = file.files && file.files[0];
    if (!chosen) {
      add(out, errorBox(new Error('Choose a CSV file: a header line “code”, then one code a line.')));
      return;
    }
    try {
      const bytes = await chosen.arrayBuffer();
      const before = await call('GET', m(`/coupon-batches/${id}`));
      const after = await call('POST', m(`/coupon-batches/${id}/import`), { bytes, contentType: 'text/csv' });
      add(out, h('div', { class: 'success', role: 'status' },
        `${count(after.codes - before.codes)} codes imported from ${chosen.name}.`));
      file.value = '';
      await refresh(after);
    } catch (error) {
      add(out, errorBox(error, 'Not imported'));
    }
  }), h('h2', { id: 'import-head' }, 'Import CSV'),
  field('File', file, 'UTF-8, a header line “code”, then one code a line. Any bad line: nothing is imported, and every bad line is named.'),
  h('div', { class: 'actions' }, submit), out);
}

// Export: every page of the CSV (following X-Next-Cursor), then one file to download.
function exportPanel(id, name) {
  const out = h('div', { 'aria-live': 'polite', class: 'export-out' });
  const button = h('button', { type: 'button', class: 'secondary' }, 'Export CSV');
  let url = null;
  button.addEventListener('click', () => busy(button, async () => {
    clear(out, h('p', { class: 'muted', role: 'status' }, 'Exporting…'));
    let text = '';
    let rows = 0;
    let cursor = null;
    try {
      do {
        const pageOf = await callText(m(`/coupon-batches/${id}/export${query({ limit: 500, cursor })}`));
        const lines = pageOf.text.split('\n').filter((line) => line !== '');
        // Every page starts with the header line: the file has it once.
        if (!text) text = `${lines[0]}\n`;
        for (const line of lines.slice(1)) text += `${line}\n`;
        rows += lines.length - 1;
        cursor = pageOf.headers.get('X-Next-Cursor');
      } while (cursor);
    } catch (error) {
      clear(out, errorBox(error, 'Not exported'));
      return;
    }
    if (url) URL.revokeObjectURL(url);
    const blob = new Blob([text], { type: 'text/csv' });
    url = URL.createObjectURL(blob);
    const filename = `${name().replace(/[^A-Za-z0-9_-]+/g, '-') || 'coupons'}.csv`;
    const link = h('a', { class: 'button export-link', href: url, download: filename }, `Download ${filename}`);
    link.blob = blob; // the file's content, for a test to read
    clear(out, h('p', { role: 'status' }, `${count(rows)} codes.`), link);
  }));
  return h('section', { class: 'card-panel', 'aria-labelledby': 'export-head' },
    h('h2', { id: 'export-head' }, 'Export'),
    h('p', { class: 'muted' }, 'Every code as CSV: code, card, state, uses, most uses, valid from, valid until.'),
    h('div', { class: 'actions' }, button), out);
}

// One page of the batch's codes; `cursors` are the cursors of the pages before it.
async function showCodes(box, id, cursors) {
  const cursor = cursors.length ? cursors[cursors.length - 1] : null;
  let data;
  try {
    data = await call('GET', m(`/coupon-batches/${id}/codes${query({ limit: 50, cursor })}`));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  clear(box, h('h2', { id: 'codes-head' }, 'Codes'));
  if (data.items.length === 0 && !cursor) {
    add(box, empty('No codes yet: generate or import some.'));
    return;
  }
  const first = cursors.length * 50 + 1;
  add(box, table([
    ['Code', (c) => h('code', { class: 'coupon-code' }, c.code)],
    ['Card', (c) => (c.cardId ? h('a', { href: `#/cards/${encodeURIComponent(c.cardId)}` }, c.cardId) : '—')],
    ['State', (c) => stateBadge(c.state)],
    ['Uses', (c) => `${c.uses} of ${c.maxUses}`, 'num'],
    ['Valid until', (c) => time(c.validUntil)],
  ], data.items, `Codes ${count(first)}–${count(first + data.items.length - 1)}, in code order`));
  const previous = h('button', {
    type: 'button', class: 'secondary small', disabled: cursors.length === 0,
    onclick: () => busy(previous, () => showCodes(box, id, cursors.slice(0, -1))),
  }, 'Previous');
  const next = h('button', {
    type: 'button', class: 'secondary small', disabled: !data.nextCursor,
    onclick: () => busy(next, () => showCodes(box, id, [...cursors, data.nextCursor])),
  }, 'Next');
  add(box, h('div', { class: 'actions pager' }, previous, next));
}
