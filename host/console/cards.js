// Cards: find by card id or customer id, see one with its ledger, adjust points, its
// coupon wallet (issue, void, restore) and its profile (birthday, attributes); return a
// recorded bill (whole or by lines) from its ledger row, with the bill's earlier returns.
import { call, m, query } from './api.js';
import { cardPoints, showCardPoints } from './points.js';
import { stateBadge, validity, valueText, wholeJson } from './coupons.js';
import { count, decimal, money, time } from './fmt.js';
import { busy, clear, confirm, empty, errorBox, facts, field, form, h, loading, nextId, table, title, add } from './ui.js';

export async function cards(page, params, ctx) {
  const by = h('select', { name: 'by' }, h('option', { value: 'card' }, 'Card id'), h('option', { value: 'customer' }, 'Customer id'));
  const text = h('input', { name: 'q', type: 'search', spellcheck: 'false' });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Find');
  const list = h('section', { 'aria-labelledby': 'all-cards' }, loading());
  add(page, title('Cards'), form({ class: 'card-panel search' }, () => busy(submit, async () => {
    clear(out);
    const value = text.value.trim();
    if (!value) {
      add(out, errorBox(new Error('Enter a card id or a customer id.')));
      return;
    }
    if (by.value === 'card') {
      ctx.go(`cards/${encodeURIComponent(value)}`);
      return;
    }
    try {
      const found = await call('GET', m(`/cards${query({ customerId: value, limit: 50 })}`));
      if (found.items.length === 1 && !found.nextCursor) {
        ctx.go(`cards/${encodeURIComponent(found.items[0].cardId)}`);
      } else if (found.items.length === 0) {
        add(out, empty(`No card has customer id “${value}”.`));
      } else {
        const results = h('div', { class: 'customer-cards' }, h('p', {}, `Cards with customer id “${value}”:`));
        add(out, results);
        showPage(results, found, (cursor) => call('GET', m(`/cards${query({ customerId: value, limit: 50, cursor })}`)));
      }
    } catch (error) {
      add(out, errorBox(error));
    }
  }), h('div', { class: 'grid3' }, field('Find by', by), field('Id', text)), h('div', { class: 'actions' }, submit), out), list);
  await showAll(list, null);
}

function cardTable(items) {
  return table([
    ['Card', (c) => h('a', { href: `#/cards/${encodeURIComponent(c.cardId)}` }, c.cardId)],
    ['Customer', (c) => c.customerId || '—'],
    ['Name', (c) => c.name || '—'],
    ['Tier', (c) => c.tier || '—'],
    ['Points', (c) => count(c.points), 'num'],
    ['Visits', (c) => count(c.visits), 'num'],
  ], items);
}

async function showAll(box, cursor) {
  try {
    const data = await call('GET', m(`/cards${query({ limit: 50, cursor })}`));
    if (!cursor) clear(box, h('h2', { id: 'all-cards' }, 'All cards'));
    if (!cursor && data.items.length === 0) {
      add(box, empty('No cards yet. Cards are created with PUT …/cards/{cardId} (see the README).'));
      return;
    }
    showPage(box, data, (next) => call('GET', m(`/cards${query({ limit: 50, cursor: next })}`)));
  } catch (error) {
    clear(box, errorBox(error));
  }
}

// Adds a page of cards to `box`, with a "More cards" button while `fetchPage(cursor)` has more.
function showPage(box, data, fetchPage) {
  box.querySelector('.more')?.remove();
  add(box, cardTable(data.items));
  if (!data.nextCursor) return;
  const more = h('button', { type: 'button', class: 'secondary more' }, 'More cards');
  more.addEventListener('click', () => busy(more, async () => {
    try {
      showPage(box, await fetchPage(data.nextCursor), fetchPage);
    } catch (error) {
      more.replaceWith(errorBox(error));
    }
  }));
  add(box, more);
}

export async function card(page, [cardId], ctx) {
  add(page, title(`Card ${cardId}`));
  let c;
  try {
    c = await call('GET', m(`/cards/${encodeURIComponent(cardId)}`));
  } catch (error) {
    add(page, errorBox(error), h('p', {}, h('a', { href: '#/cards' }, 'Back to cards')));
    return;
  }
  const points = h('strong', { class: 'points' }, count(c.points));
  const overTime = cardPoints(cardId);
  add(page, h('section', { class: 'card-panel' }, facts([
    ['Name', c.name || '—'],
    ['Customer id', c.customerId || '—'],
    ['Tier', c.tier || '—'],
    ['Tags', c.tags.length ? c.tags.join(', ') : '—'],
    ['Points', points],
    ['Held for open bills', heldPoints(c, cardId, ctx)],
    ['Visits', count(c.visits)],
    ['Total spent', decimal(c.totalSpent)],
    ['First visit', time(c.firstVisit)],
    ['Last visit', time(c.lastVisit)],
  ])));
  const delta = h('input', { type: 'number', name: 'delta', step: '1' });
  const reason = h('input', { name: 'reason', maxlength: '500' });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Adjust points');
  const ledger = h('section', { 'aria-labelledby': 'ledger-head' }, loading());
  // A return's outcome stays here while the card and its ledger are read again.
  const returnOut = h('div', { 'aria-live': 'polite', class: 'return-out' });
  const returning = {
    out: returnOut,
    refresh: async () => {
      let balance = null;
      try {
        const now = await call('GET', m(`/cards/${encodeURIComponent(cardId)}`));
        points.textContent = count(now.points);
        balance = now.points;
        await showCardPoints(overTime, cardId);
      } catch (error) {
        add(returnOut, errorBox(error, 'The card could not be read again'));
      }
      await showLedger(ledger, cardId, null, returning);
      return balance;
    },
  };
  add(page, form({ class: 'card-panel' }, () => busy(submit, async () => {
    clear(out);
    const n = Number(delta.value);
    try {
      const entry = await call('POST', m(`/cards/${encodeURIComponent(cardId)}/points`), {
        json: { delta: delta.value === '' || !Number.isInteger(n) ? delta.value : n, reason: reason.value },
      });
      ctx.go(`cards/${encodeURIComponent(cardId)}`);
      void entry;
    } catch (error) {
      add(out, errorBox(error, 'Not adjusted'));
    }
  }), h('h2', {}, 'Adjust points'), h('div', { class: 'grid3' },
    field('Points (+ or −)', delta), field('Reason', reason, 'Kept in the ledger and the audit trail.')),
  h('div', { class: 'actions' }, submit), out), overTime, wallet(cardId), profile(cardId), returnOut, ledger);
  await showLedger(ledger, cardId, null, returning);
}

// The card's coupons: each code with its state, void and restore; a code issued from a
// batch, or an unassigned (flyer) code assigned to the card.
function wallet(cardId) {
  const path = m(`/cards/${encodeURIComponent(cardId)}/coupons`);
  const list = h('div', { class: 'wallet-list' }, loading());
  const out = h('div', { 'aria-live': 'polite', class: 'wallet-out' });
  const pick = h('select', { name: 'issueBatch' });
  const code = h('input', { name: 'assignCode', spellcheck: 'false', maxlength: '64' });
  const submit = h('button', { type: 'submit' }, 'Issue coupon');
  const show = async (cursor) => {
    let data;
    try {
      data = await call('GET', `${path}${query({ limit: 50, cursor })}`);
    } catch (error) {
      clear(list, errorBox(error));
      return;
    }
    if (!cursor) clear(list);
    list.querySelector('.more')?.remove();
    if (!cursor && data.items.length === 0) {
      add(list, empty('No coupons on this card yet.'));
      return;
    }
    add(list, table([
      ['Code', (c) => h('code', { class: 'coupon-code' }, c.code)],
      ['Batch', (c) => h('a', { href: `#/coupons/${c.batchId}` }, c.batch)],
      ['Value', (c) => valueText(c.value)],
      ['State', (c) => stateBadge(c.state)],
      ['Uses', (c) => `${c.uses} of ${c.maxUses}`, 'num'],
      ['Valid until', (c) => (c.validUntil == null ? 'no end' : time(c.validUntil))],
      ['', (c) => couponActions(c)],
    ], data.items, 'Coupons in the wallet, in code order'));
    if (data.nextCursor) {
      add(list, h('button', { type: 'button', class: 'secondary more', onclick: () => show(data.nextCursor) }, 'More coupons'));
    }
  };
  const couponActions = (c) => {
    const act = (label, verb) => h('button', {
      type: 'button',
      class: `small secondary coupon-${verb}`,
      onclick: (event) => busy(event.currentTarget, async () => {
        clear(out);
        try {
          await call('POST', m(`/coupons/${encodeURIComponent(c.code)}/${verb}`));
          await show(null);
        } catch (error) {
          add(out, errorBox(error, `${c.code} not ${verb === 'void' ? 'voided' : 'restored'}`));
        }
      }),
    }, label);
    return h('div', { class: 'row-actions' },
      c.state === 'voided' ? null : act('Void', 'void'),
      c.state === 'voided' || c.uses > 0 ? act('Restore', 'restore') : null);
  };
  call('GET', m('/coupon-batches')).then((data) => {
    clear(pick, data.items.map((b) => h('option', { value: String(b.id) }, `${b.name} (${valueText(b.value)}, ${validity(b)})`)));
  }).catch((error) => add(out, errorBox(error, 'The coupon batches could not be listed')));
  show(null);
  return form({ class: 'card-panel wallet', 'aria-labelledby': 'wallet-head' }, () => busy(submit, async () => {
    clear(out);
    const flyer = code.value.trim();
    if (!flyer && !pick.value) {
      add(out, errorBox(new Error('Choose a batch (create one on the Coupons page), or enter an unassigned code.')));
      return;
    }
    try {
      const issued = await call('POST', path, { json: flyer ? { code: flyer } : { batchId: wholeJson(pick.value) } });
      code.value = '';
      add(out, h('div', { class: 'success', role: 'status' }, `${issued.code} is in the wallet.`));
      await show(null);
    } catch (error) {
      add(out, errorBox(error, 'Not issued'));
    }
  }), h('h2', { id: 'wallet-head' }, 'Wallet'), list,
  h('div', { class: 'grid2' }, field('Issue a new code of', pick),
    field('Or assign a code', code, 'An unassigned code (a flyer\u2019s); when given, the batch is not used.')),
  h('div', { class: 'actions' }, submit), out);
}

// The card's profile: what a contract-0.3 policy sees of the customer.
function profile(cardId) {
  const path = m(`/cards/${encodeURIComponent(cardId)}/profile`);
  const month = h('select', { name: 'birthMonth' }, h('option', { value: '' }, '—'),
    ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']
      .map((name, i) => h('option', { value: String(i + 1) }, name)));
  const day = h('input', { name: 'birthDay', type: 'number', min: '1', max: '31' });
  const year = h('input', { name: 'birthYear', type: 'number', min: '1900', max: '2100' });
  const attributes = h('textarea', { name: 'attributes', rows: '3', spellcheck: 'false', class: 'json', placeholder: 'favourite=flat white' });
  const out = h('div', { 'aria-live': 'polite', class: 'profile-out' });
  const submit = h('button', { type: 'submit' }, 'Save profile');
  const fill = (p) => {
    const b = p.birthday;
    month.value = b ? String(b.month) : '';
    day.value = b ? String(b.day) : '';
    year.value = b && b.year != null ? String(b.year) : '';
    attributes.value = Object.entries(p.attributes || {}).map(([k, v]) => `${k}=${v}`).join('\n');
  };
  call('GET', path).then(fill).catch((error) => add(out, errorBox(error, 'The profile could not be read')));
  return form({ class: 'card-panel profile', 'aria-labelledby': 'profile-head' }, () => busy(submit, async () => {
    clear(out);
    const body = {};
    if (month.value || day.value.trim() || year.value.trim()) {
      body.birthday = {};
      if (month.value) body.birthday.month = Number(month.value);
      if (day.value.trim()) body.birthday.day = wholeJson(day.value);
      if (year.value.trim()) body.birthday.year = wholeJson(year.value);
    }
    const attrs = {};
    const lines = attributes.value.split('\n');
    for (const [i, line] of lines.entries()) {
      if (!line.trim()) continue;
      const at = line.indexOf('=');
      if (at < 1) {
        add(out, errorBox(new Error(`Attributes, line ${i + 1}: write key=value, not “${line.trim()}”.`)));
        return;
      }
      attrs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    body.attributes = attrs;
    try {
      fill(await call('PUT', path, { json: body }));
      add(out, h('div', { class: 'success', role: 'status' }, 'Profile saved.'));
    } catch (error) {
      add(out, errorBox(error, 'Not saved'));
    }
  }), h('h2', { id: 'profile-head' }, 'Profile'),
  h('p', { class: 'muted' }, 'What a contract-0.3 policy sees of the customer: the birthday (the year when known) and your own attributes.'),
  h('div', { class: 'grid3' }, field('Birthday month', month), field('Day', day), field('Year (optional)', year)),
  field('Attributes', attributes, 'One key=value a line.'),
  h('div', { class: 'actions' }, submit), out);
}

// The points the card's open orders hold, and a button that releases them (audited).
function heldPoints(c, cardId, ctx) {
  const held = c.heldPoints || 0;
  if (held === 0) return count(0);
  const out = h('span', { 'aria-live': 'polite' });
  const button = h('button', {
    type: 'button', class: 'small danger release-holds',
    onclick: async () => {
      const ok = await confirm(`Release the holds of card ${cardId}?`, h('p', {}, `The ${count(held)} points offered at a till for bills that have not completed become available again now. A bill completed later for one of those orders redeems nothing.`), 'Release');
      if (!ok) return;
      await busy(button, async () => {
        try {
          await call('DELETE', m(`/cards/${encodeURIComponent(cardId)}/holds`));
          ctx.go(`cards/${encodeURIComponent(cardId)}`);
        } catch (error) {
          clear(out, errorBox(error, 'Not released'));
        }
      });
    },
  }, 'Release holds');
  return [count(held), ' ', button, out];
}

async function showLedger(box, cardId, cursor, returning) {
  try {
    const data = await call('GET', m(`/transactions${query({ cardId, limit: 50, cursor })}`));
    if (!cursor) clear(box, h('h2', { id: 'ledger-head' }, 'Ledger'));
    box.querySelector('.more')?.remove();
    if (!cursor && data.items.length === 0) {
      add(box, empty('No ledger rows yet: completed bills (endpoint 2) and adjustments appear here.'));
      return;
    }
    // Each recorded bill gets a Return button and, under its row, its returns and the form.
    const bills = new Map();
    const bill = (e) => {
      if (!bills.has(e)) bills.set(e, billReturns(e, returning, LEDGER_COLUMNS));
      return bills.get(e);
    };
    const isBill = (e) => e.kind === 'transaction' && Boolean(e.orderId);
    const rows = table([
      ['When', (e) => time(e.occurredAt)],
      ['Kind', (e) => e.kind],
      ['Order', (e) => e.orderId || '—'],
      ['Bill total', (e) => (e.total === null || e.total === undefined ? '—' : money(e.total, e.request && e.request.currency)), 'num'],
      ['Points', (e) => (e.points > 0 ? `+${e.points}` : String(e.points)), 'num'],
      ['Balance', (e) => count(e.pointsBalance), 'num'],
      ['Reason', (e) => [e.reason || '', e.accrualError ? h('span', { class: 'bad-text' }, ` ${e.accrualError}`) : ''].filter(Boolean)],
      ['Card changes', (e) => cardChanges(e.cardChanges)],
      ['', (e) => (isBill(e) ? bill(e).button : '')],
    ], data.items, 'Ledger, newest first');
    rows.querySelectorAll('tbody > tr').forEach((tr, i) => {
      const e = data.items[i];
      if (isBill(e)) tr.after(bill(e).row);
    });
    add(box, rows);
    if (data.nextCursor) {
      add(box, h('button', { type: 'button', class: 'secondary more', onclick: () => showLedger(box, cardId, data.nextCursor, returning) }, 'More rows'));
    }
  } catch (error) {
    clear(box, errorBox(error));
  }
}

const LEDGER_COLUMNS = 9;

// A recorded bill's returns: `button` opens the form, `row` (a table row to put under the
// bill's) lists its earlier returns and holds the form. The form returns the whole bill
// (what is left of it) or chosen quantities of its lines (a Papaya bill's orderItems); the
// outcome, or the API's error naming the line, goes to `returning.out`, then
// `returning.refresh()` reads the card and the ledger again.
function billReturns(e, returning, columns) {
  const orderId = e.orderId;
  const path = m(`/transactions/${encodeURIComponent(orderId)}/returns`);
  const currency = e.request && e.request.currency;
  const items = Array.isArray(e.request && e.request.orderItems)
    ? e.request.orderItems.filter((item) => item && item.id !== undefined && item.id !== null)
    : [];
  const list = h('div', { class: 'returns-list' });
  const panel = h('div', { class: 'return-panel', hidden: true });
  const row = h('tr', { class: 'return-row', 'data-order': orderId, hidden: true },
    h('td', { colspan: String(columns) }, list, panel));
  const button = h('button', { type: 'button', class: 'small secondary return-open', 'data-order': orderId }, 'Return');
  let earlier = [];
  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    row.hidden = panel.hidden && earlier.length === 0;
    if (!panel.hidden) panel.querySelector('input[name=returnId]')?.focus();
  });

  const group = `scope-${orderId}`;
  const whole = h('input', { type: 'radio', name: group, value: 'whole', class: 'return-whole', checked: true });
  const chosen = h('input', { type: 'radio', name: group, value: 'lines', class: 'return-lines', disabled: items.length === 0 });
  const returnId = h('input', { name: 'returnId', maxlength: '64', spellcheck: 'false', value: `R-${orderId}-1` });
  const quantities = items.map((item) => {
    const input = h('input', {
      type: 'number', id: nextId(), name: `qty-${item.id}`, 'data-line': String(item.id), min: '0', step: 'any', class: 'return-qty',
      oninput: () => { chosen.checked = true; },
    });
    const label = h('span', { class: 'return-line-label' });
    return { item, input, label };
  });
  const describeLines = () => {
    const back = {};
    for (const r of earlier) {
      for (const [line, qty] of Object.entries(r.lines || {})) back[line] = (back[line] || 0) + Number(qty);
    }
    for (const { item, input, label } of quantities) {
      const returned = back[String(item.id)];
      label.textContent = `${item.name || 'Line'} (line ${item.id}): ${decimal(item.quantity)} bought${returned ? `, ${returned} returned` : ''}`;
    }
  };
  describeLines();
  const submit = h('button', { type: 'submit', class: 'small' }, 'Record return');
  add(panel, form({ class: 'return-form' }, () => busy(submit, async () => {
    clear(returning.out);
    const body = { returnId: returnId.value.trim() };
    if (chosen.checked) {
      const lines = [];
      for (const { item, input } of quantities) {
        const text = input.value.trim();
        if (!text) continue;
        const n = Number(text);
        lines.push({ lineId: String(item.id), quantity: Number.isFinite(n) ? n : text });
      }
      if (lines.length === 0) {
        add(returning.out, errorBox(new Error('Enter the quantity returned of at least one line, or choose the whole bill.')));
        return;
      }
      body.lines = lines;
    }
    let r;
    try {
      r = await call('POST', path, { json: body });
    } catch (error) {
      add(returning.out, errorBox(error, `Bill ${orderId} not returned`));
      return;
    }
    const done = h('div', { class: 'success', role: 'status' }, returnSummary(r, currency));
    add(returning.out, done);
    const balance = await returning.refresh();
    if (balance !== null) add(done, ` The card has ${count(balance)} points now.`);
  }),
  h('fieldset', { class: 'return-scope' }, h('legend', {}, `Return bill ${orderId}`),
    h('label', {}, whole, ' The whole bill (what earlier returns left of it)'),
    items.length ? h('label', {}, chosen, ' These lines:') : h('p', { class: 'muted' }, 'This bill has no lines to choose (a BIFIT bill is returned whole).'),
    quantities.map(({ input, label }) => h('div', { class: 'return-line' }, h('label', { for: input.id }, label), input))),
  h('div', { class: 'grid2' }, field('Return id', returnId, 'Recording the same id again changes nothing.')),
  h('div', { class: 'actions' }, submit)));

  call('GET', path).then((data) => {
    earlier = data.items || [];
    if (earlier.some((r) => r.whole)) {
      button.disabled = true;
      button.textContent = 'Returned';
    }
    let n = earlier.length + 1;
    const taken = new Set(earlier.map((r) => r.returnId));
    while (taken.has(`R-${orderId}-${n}`)) n += 1;
    returnId.value = `R-${orderId}-${n}`;
    describeLines();
    clear(list);
    if (earlier.length) {
      add(list, h('ul', { class: 'returns compact' }, earlier.map((r) => h('li', { class: 'return-item' }, returnLine(r, currency)))));
    }
    row.hidden = panel.hidden && earlier.length === 0;
  }).catch((error) => {
    clear(list, errorBox(error, `The returns of bill ${orderId} could not be listed`));
    row.hidden = false;
  });
  return { button, row };
}

// One earlier return, compactly: id, when, value, lines, points.
function returnLine(r, currency) {
  const lines = Object.entries(r.lines || {}).map(([line, qty]) => `line ${line} × ${qty}`).join(', ');
  const parts = [
    h('strong', {}, r.returnId), ` ${time(r.createdAt)}: ${money(r.value, currency)}`,
    r.whole ? ' (now returned whole)' : '',
    lines ? `, ${lines}` : '',
    `; −${count(r.pointsTaken)} points`,
    r.pointsGiven ? `, +${count(r.pointsGiven)} given back` : '',
    r.shortfall ? h('span', { class: 'bad-text' }, `, shortfall ${count(r.shortfall)}`) : '',
    r.coupons && r.coupons.length ? `; coupons restored: ${r.coupons.join(', ')}` : '',
  ];
  return parts.filter((p) => p !== '');
}

// What a recorded return did, in a sentence.
function returnSummary(r, currency) {
  const said = [
    `Return ${r.returnId} of bill ${r.orderId}${r.new ? '' : ' was recorded before, nothing changed'}: ${money(r.value, currency)} returned${r.whole ? ', the bill is now returned whole' : ''}.`,
    ` ${count(r.pointsTaken)} points taken back, ${count(r.pointsGiven)} given back.`,
  ];
  if (r.shortfall) said.push(` Shortfall: ${count(r.shortfall)} points could not be taken (the card would go below zero).`);
  if (r.coupons && r.coupons.length) said.push(` Coupons restored: ${r.coupons.join(', ')}.`);
  return said.join('');
}

// What a policy changed on the card with a bill (tier, tags) and what it asked that was dropped.
function cardChanges(c) {
  if (!c) return '—';
  const parts = [];
  if (c.tier) parts.push(`tier ${c.tier.from || '—'} → ${c.tier.to || '—'}`);
  if (c.addedTags) parts.push(`+${c.addedTags.join(', +')}`);
  if (c.removedTags) parts.push(`−${c.removedTags.join(', −')}`);
  if (c.dropped) parts.push(h('span', { class: 'bad-text' }, ` dropped: ${c.dropped.join('; ')}`));
  return parts.length ? parts.map((p) => (typeof p === 'string' ? `${p} ` : p)) : '—';
}
