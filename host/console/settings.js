// The policy config, POS tokens and the BIFIT connector.
import { ApiError, call, m, parseJson, pretty, query } from './api.js';
import { count, time } from './fmt.js';
import {
  busy, clear, confirm, empty, errorBox, facts, field, form, h, loading, table, title,
  add,
} from './ui.js';

export async function config(page, params, ctx) {
  add(page, title('Policy config', h('p', { class: 'muted' }, 'The JSON object every version of your policy reads (ctx.config()). Saved at once for every till.')));
  let current;
  try {
    current = await call('GET', m('/policy-config'));
  } catch (error) {
    add(page, errorBox(error));
    return;
  }
  const text = h('textarea', { name: 'config', rows: '16', spellcheck: 'false', class: 'json' });
  text.value = pretty(current);
  const problem = h('div', { id: 'config-problem', 'aria-live': 'assertive' });
  text.setAttribute('aria-describedby', 'config-problem');
  const submit = h('button', { type: 'submit' }, 'Save config');
  add(page, form({ class: 'card-panel' }, () => busy(submit, async () => {
    clear(problem);
    text.removeAttribute('aria-invalid');
    try {
      parseJson(text.value);
    } catch (error) {
      text.setAttribute('aria-invalid', 'true');
      problem.append(errorBox(new Error(`Not JSON: ${error.message}`)));
      return;
    }
    try {
      const saved = await call('PUT', m('/policy-config'), { json: text.value });
      text.value = pretty(saved);
      problem.append(h('p', { class: 'success', role: 'status' }, 'Saved.'));
    } catch (error) {
      text.setAttribute('aria-invalid', 'true');
      problem.append(errorBox(error, 'Not saved'));
    }
  }), field('Config (JSON object)', text), problem, h('div', { class: 'actions' }, submit)));
}

export async function tokens(page, params, ctx) {
  const out = h('div', { 'aria-live': 'polite' });
  const list = h('section', { 'aria-label': 'POS tokens' }, loading());
  const issue = h('button', { type: 'button' }, 'Issue a POS token');
  issue.addEventListener('click', () => busy(issue, async () => {
    clear(out);
    try {
      const made = await call('POST', m('/pos-tokens'));
      add(out, h('div', { class: 'secret', role: 'status' },
        h('h2', {}, `Token ${made.tokenId} issued`),
        h('p', {}, 'Shown once: put it in the till’s settings now. rabat keeps only its hash.'),
        facts([['POS token', h('code', { class: 'pos-token' }, made.posToken)], ['Token id', made.tokenId]])));
      await showTokens(list, out);
    } catch (error) {
      add(out, errorBox(error, 'Not issued'));
    }
  }));
  add(page, title('POS tokens', h('p', { class: 'muted' }, 'Each till authenticates with a POS token. A revoked token stops working at once.')),
    h('div', { class: 'actions' }, issue), out, list);
  await showTokens(list, out);
}

async function showTokens(box, out) {
  let data;
  try {
    data = await call('GET', m('/pos-tokens'));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  clear(box);
  if (data.items.length === 0) {
    add(box, empty('No POS token: no till can call rabat. Issue one above.'));
    return;
  }
  add(box, table([
    ['Token id', (t) => h('code', {}, t.tokenId)],
    ['Issued', (t) => time(t.createdAt)],
    ['Revoked', (t) => (t.revokedAt ? time(t.revokedAt) : '—')],
    ['', (t) => (t.revokedAt ? null : h('button', {
      type: 'button', class: 'small danger',
      onclick: async (event) => {
        const button = event.currentTarget;
        const ok = await confirm(`Revoke ${t.tokenId}?`, h('p', {}, 'Every till using this token is refused from now on (401), on every replica. This cannot be undone; issue a new token for the till.'), 'Revoke');
        if (!ok) return;
        await busy(button, async () => {
          try {
            await call('DELETE', m(`/pos-tokens/${encodeURIComponent(t.tokenId)}`));
            await showTokens(box, out);
          } catch (error) {
            add(out, errorBox(error, 'Not revoked'));
          }
        });
      },
    }, 'Revoke'))],
  ], data.items));
}

export async function bifit(page, params, ctx) {
  add(page, title('BIFIT Kassa connector'));
  const settings = h('section', { class: 'card-panel', 'aria-labelledby': 'bifit-settings' }, loading());
  const orders = h('section', { 'aria-labelledby': 'bifit-orders' });
  add(page, settings, orders);
  await showSettings(settings);
  const state = h('select', { name: 'state' }, h('option', { value: '' }, 'All states'),
    ['tracking', 'recorded', 'voided', 'expired', 'failed'].map((s) => h('option', { value: s }, s)));
  const list = h('div', {}, loading());
  add(orders, h('div', { class: 'toolbar' }, h('h2', { id: 'bifit-orders' }, 'Tracked orders'), field('State', state)), list);
  state.addEventListener('change', () => showOrders(list, state.value, null));
  await showOrders(list, '', null);
}

async function showSettings(box) {
  let view = null;
  let problem = null;
  try {
    view = await call('GET', m('/connectors/bifit'));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) problem = error;
  }
  clear(box, h('h2', { id: 'bifit-settings' }, 'Settings'));
  if (problem) {
    add(box, errorBox(problem));
    return;
  }
  if (view) {
    add(box, facts([
      ['Base URL', view.baseUrl],
      ['Card lookup', view.cardLookup],
      ['Token URL', view.tokenUrl || '—'],
      ['OAuth client id', view.oauthClientId || '—'],
      ['Access token', view.accessTokenSet ? 'set (never shown)' : 'not set'],
      ['Refresh token', view.refreshTokenSet ? 'set (never shown)' : 'not set'],
      ['OAuth client secret', view.oauthClientSecretSet ? 'set (never shown)' : 'not set'],
      ['Updated', time(view.updatedAt)],
      ['Tokens refreshed', time(view.tokensRefreshedAt)],
    ]));
  } else {
    add(box, empty('No BIFIT connector is set up. Fill in the form to connect BIFIT Kassa.'));
  }
  const baseUrl = h('input', { name: 'baseUrl', value: view ? view.baseUrl : 'https://kassa.bifit.com' });
  const lookup = h('select', { name: 'cardLookup' }, ['clientId', 'caller'].map((v) => h('option', { value: v, selected: view && view.cardLookup === v }, v)));
  const tokenUrl = h('input', { name: 'tokenUrl', value: (view && view.tokenUrl) || '' });
  const clientId = h('input', { name: 'oauthClientId', value: (view && view.oauthClientId) || '' });
  const secrets = ['accessToken', 'refreshToken', 'oauthClientSecret'].map((name) => [name, h('input', { name, type: 'password', autocomplete: 'off' })]);
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, view ? 'Save settings' : 'Connect');
  add(box, h('details', { open: !view }, h('summary', {}, view ? 'Change the settings' : 'Set up'),
    form({}, () => busy(submit, async () => {
      clear(out);
      const body = { baseUrl: baseUrl.value.trim(), cardLookup: lookup.value };
      if (tokenUrl.value.trim()) body.tokenUrl = tokenUrl.value.trim();
      if (clientId.value.trim()) body.oauthClientId = clientId.value.trim();
      // A token left empty is left out, so the stored one is kept (never shown here).
      for (const [name, input] of secrets) if (input.value) body[name] = input.value;
      try {
        await call('PUT', m('/connectors/bifit'), { json: body });
        await showSettings(box);
      } catch (error) {
        add(out, errorBox(error, 'Not saved'));
      }
    }),
    h('div', { class: 'grid2' }, field('Base URL', baseUrl), field('Card lookup', lookup), field('Token URL', tokenUrl), field('OAuth client id', clientId)),
    h('div', { class: 'grid3' }, secrets.map(([name, input]) => field(name === 'accessToken' ? 'Access token' : name === 'refreshToken' ? 'Refresh token' : 'OAuth client secret', input, 'Empty keeps the stored one.'))),
    h('div', { class: 'actions' }, submit), out)));
}

async function showOrders(box, state, cursor) {
  let data;
  try {
    data = await call('GET', m(`/connectors/bifit/orders${query({ state, limit: 50, cursor })}`));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  if (!cursor) clear(box);
  box.querySelector('.more')?.remove();
  if (!cursor && data.items.length === 0) {
    add(box, empty(state ? `No tracked order is ${state}.` : 'No BIFIT order tracked yet.'));
    return;
  }
  add(box, table([
    ['Order', (o) => o.orderId],
    ['Card', (o) => o.cardId || '—'],
    ['State', (o) => h('span', { class: `badge ${o.state === 'recorded' ? 'ok' : o.state === 'failed' || o.state === 'expired' ? 'bad' : 'neutral'}` }, o.state)],
    ['BIFIT status', (o) => o.bifitStatus || '—'],
    ['Polls', (o) => count(o.attempts), 'num'],
    ['First seen', (o) => time(o.firstSeenAt)],
    ['Next poll', (o) => time(o.nextPollAt)],
    ['Last error', (o) => o.lastError || '—'],
  ], data.items));
  if (data.nextCursor) {
    add(box, h('button', { type: 'button', class: 'secondary more', onclick: () => showOrders(box, state, data.nextCursor) }, 'More orders'));
  }
}
