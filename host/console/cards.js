// Cards: find by card id or customer id, see one with its ledger, adjust points.
import { call, m, query } from './api.js';
import { count, decimal, money, time } from './fmt.js';
import { busy, clear, confirm, empty, errorBox, facts, field, form, h, loading, table, title, add } from './ui.js';

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
  add(page, h('section', { class: 'card-panel' }, facts([
    ['Name', c.name || '—'],
    ['Customer id', c.customerId || '—'],
    ['Tier', c.tier || '—'],
    ['Tags', c.tags.length ? c.tags.join(', ') : '—'],
    ['Points', h('strong', { class: 'points' }, count(c.points))],
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
  h('div', { class: 'actions' }, submit), out), ledger);
  await showLedger(ledger, cardId, null);
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

async function showLedger(box, cardId, cursor) {
  try {
    const data = await call('GET', m(`/transactions${query({ cardId, limit: 50, cursor })}`));
    if (!cursor) clear(box, h('h2', { id: 'ledger-head' }, 'Ledger'));
    box.querySelector('.more')?.remove();
    if (!cursor && data.items.length === 0) {
      add(box, empty('No ledger rows yet: completed bills (endpoint 2) and adjustments appear here.'));
      return;
    }
    add(box, table([
      ['When', (e) => time(e.occurredAt)],
      ['Kind', (e) => e.kind],
      ['Order', (e) => e.orderId || '—'],
      ['Bill total', (e) => (e.total === null || e.total === undefined ? '—' : money(e.total, e.request && e.request.currency)), 'num'],
      ['Points', (e) => (e.points > 0 ? `+${e.points}` : String(e.points)), 'num'],
      ['Balance', (e) => count(e.pointsBalance), 'num'],
      ['Reason', (e) => [e.reason || '', e.accrualError ? h('span', { class: 'bad-text' }, ` ${e.accrualError}`) : ''].filter(Boolean)],
      ['Card changes', (e) => cardChanges(e.cardChanges)],
    ], data.items, 'Ledger, newest first'));
    if (data.nextCursor) {
      add(box, h('button', { type: 'button', class: 'secondary more', onclick: () => showLedger(box, cardId, data.nextCursor) }, 'More rows'));
    }
  } catch (error) {
    clear(box, errorBox(error));
  }
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
