// The console's shell: sign-in and sign-out, the navigation, and hash routes
// (`#/policies`, `#/cards/ABC`, …) to the pages.
import { ApiError, call, clearSession, currentSession, loadSession, m, saveSession } from './api.js';
import { clear, errorBox, field, form, h, busy, title, facts, add } from './ui.js';
import { overview } from './overview.js';
import { policies, tryIt, replay } from './policies.js';
import { campaigns } from './campaigns.js';
import { coupons, batch } from './coupons.js';
import { cards, card } from './cards.js';
import { evaluations, evaluation, audit } from './history.js';
import { config, tokens, bifit } from './settings.js';
import { pointsRules } from './points.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signout = document.getElementById('signout');

const routes = [
  [/^overview$/, overview],
  [/^policies$/, policies],
  [/^policies\/(\d+)\/try$/, tryIt],
  [/^policies\/(\d+)\/replay$/, replay],
  [/^campaigns$/, campaigns],
  [/^coupons$/, coupons],
  [/^coupons\/(\d+)$/, batch],
  [/^config$/, config],
  [/^points-rules$/, pointsRules],
  [/^cards$/, cards],
  [/^cards\/(.+)$/, card],
  [/^evaluations$/, evaluations],
  [/^evaluations\/(\d+)$/, evaluation],
  [/^audit$/, audit],
  [/^tokens$/, tokens],
  [/^bifit$/, bifit],
];

let renders = 0;

function routeName() {
  const raw = location.hash.replace(/^#\/?/, '');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export function go(path) {
  if (location.hash === `#/${path}`) {
    render();
  } else {
    location.hash = `#/${path}`;
  }
}

async function render() {
  renders += 1;
  const mine = renders;
  const session = currentSession();
  const path = routeName();
  const signedIn = Boolean(session);
  nav.hidden = !(session && session.kind === 'merchant');
  signout.hidden = !signedIn;
  clear(who, session ? (session.kind === 'operator' ? 'Operator' : `Merchant ${session.merchant}`) : '');
  for (const link of nav.querySelectorAll('a')) {
    const current = path === link.getAttribute('href').slice(2) || path.startsWith(`${link.getAttribute('href').slice(2)}/`);
    if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  const page = h('div', { class: 'page' });
  clear(main, page);
  if (!session) {
    signIn(page);
  } else if (session.kind === 'operator') {
    operator(page);
  } else {
    const found = routes.find(([pattern]) => pattern.test(path));
    if (!found) {
      go('overview');
      return;
    }
    const [pattern, show] = found;
    const params = pattern.exec(path).slice(1);
    try {
      await show(page, params, { stale: () => mine !== renders, go });
    } catch (error) {
      if (mine === renders) add(page, errorBox(error));
    }
  }
  if (mine === renders) {
    const heading = main.querySelector('h1');
    if (heading) heading.focus({ preventScroll: false });
  }
}

function signIn(page) {
  const merchant = h('input', { name: 'merchant', autocomplete: 'username', required: true, spellcheck: 'false' });
  const key = h('input', { name: 'apiKey', type: 'password', autocomplete: 'off', required: true });
  const message = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const merchantForm = form({ class: 'card-panel', 'aria-labelledby': 'signin-merchant' }, () => busy(submit, async () => {
    clear(message);
    const id = merchant.value.trim();
    const secret = key.value.trim();
    if (!id || !secret) {
      add(message, errorBox(new Error('Enter the merchant id and its API key.')));
      return;
    }
    try {
      await call('GET', m('', id), { token: secret });
    } catch (error) {
      add(message, errorBox(error, 'Not signed in'));
      return;
    }
    key.value = '';
    saveSession({ kind: 'merchant', merchant: id, key: secret });
    go('overview');
  }),
  h('h2', { id: 'signin-merchant' }, 'Merchant'),
  field('Merchant id', merchant),
  field('API key', key, 'Kept in this tab only (sessionStorage) and sent as a bearer token; never in a URL or a cookie.'),
  h('div', { class: 'actions' }, submit), message);

  const token = h('input', { name: 'operatorToken', type: 'password', autocomplete: 'off' });
  const opMessage = h('div', { 'aria-live': 'polite' });
  const opSubmit = h('button', { type: 'submit', class: 'secondary' }, 'Sign in as operator');
  const operatorForm = form({ class: 'card-panel', 'aria-labelledby': 'signin-operator' }, () => busy(opSubmit, async () => {
    clear(opMessage);
    const secret = token.value.trim();
    if (!secret) {
      add(opMessage, errorBox(new Error('Enter the operator token.')));
      return;
    }
    // Auth runs before the body is read: an empty body tells a valid operator token
    // (400, a field is missing) from an invalid one (401/403), and creates nothing.
    try {
      await call('POST', '/admin/v1/merchants', { token: secret, json: {} });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401 || error.status === 403 || error.status === 0) {
        add(opMessage, errorBox(error, 'Not signed in'));
        return;
      }
    }
    token.value = '';
    saveSession({ kind: 'operator', key: secret });
    go('operator');
  }),
  h('h2', { id: 'signin-operator' }, 'Operator'),
  field('Operator token', token),
  h('div', { class: 'actions' }, opSubmit), opMessage);

  add(page, title('Sign in'), h('p', { class: 'lead' }, 'The rabat console: your loyalty policy, cards and what happened at the till.'),
    h('div', { class: 'grid2' }, merchantForm, operatorForm));
}

function operator(page) {
  const id = h('input', { name: 'id', spellcheck: 'false' });
  const name = h('input', { name: 'name' });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Create merchant');
  add(page, title('Operator'), h('p', {}, 'Create a merchant. Its API key and first POS token are shown once, here: copy them now.'),
    form({ class: 'card-panel' }, () => busy(submit, async () => {
      clear(out);
      try {
        const created = await call('POST', '/admin/v1/merchants', { json: { id: id.value.trim(), name: name.value.trim() } });
        add(out, h('div', { class: 'secret', role: 'status' },
          h('h2', {}, `Merchant ${created.id} created`),
          h('p', {}, 'Shown once: rabat keeps only hashes of these.'),
          facts([
            ['Merchant id', h('code', { class: 'merchant-id' }, created.id)],
            ['Name', created.name],
            ['API key', h('code', { class: 'api-key' }, created.apiKey)],
            ['POS token', h('code', { class: 'pos-token' }, created.posToken)],
            ['POS token id', h('code', {}, created.posTokenId)],
          ])));
        id.value = '';
        name.value = '';
      } catch (error) {
        add(out, errorBox(error, 'Not created'));
      }
    }), field('Merchant id', id, 'Letters, digits, - and _'), field('Name', name), h('div', { class: 'actions' }, submit)), out);
}

signout.addEventListener('click', () => {
  clearSession();
  location.hash = '#/signin';
  render();
});

window.addEventListener('hashchange', render);
loadSession();
render();
