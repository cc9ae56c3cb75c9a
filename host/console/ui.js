// DOM helpers. Every text goes in through textContent (never innerHTML), so nothing the
// API returns can become markup; no inline script or style (the CSP forbids both).

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** `h('button', {class: 'x', onclick: f}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'value') {
      el.value = value;
    } else if (key === 'checked' || key === 'selected' || key === 'disabled') {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Appends children, skipping null/false (the native append would write "null"). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A page heading that takes focus after navigation. */
export function title(text, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, text), ...extra);
}

/** The API's refusal, in its own words. */
export function errorBox(error, what) {
  const box = h('div', { class: 'error', role: 'alert' });
  if (what) box.append(h('strong', {}, `${what}: `));
  box.append(h('span', { class: 'api-message' }, error && error.message ? error.message : String(error)));
  if (error && error.status) {
    const id = error.errorId ? `, error ${error.errorId}` : '';
    box.append(h('span', { class: 'muted' }, ` (HTTP ${error.status}${id})`));
  }
  return box;
}

export function empty(text, ...more) {
  return h('div', { class: 'empty' }, h('p', {}, text), ...more);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'muted', role: 'status' }, text);
}

/** A labelled field: `field('Note', input)`, the label bound to the input. */
export function field(label, input, hint) {
  if (!input.id) input.id = nextId();
  const parts = [h('label', { for: input.id }, label), input];
  if (hint) {
    const hintId = `${input.id}-hint`;
    input.setAttribute('aria-describedby', hintId);
    parts.push(h('small', { id: hintId, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, ...parts);
}

/** A table; `columns` are [heading, row => cell content, class?]. */
export function table(columns, rows, caption) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map(([heading, , cls]) => h('th', { scope: 'col', class: cls }, heading)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell, cls]) => h('td', { class: cls }, cell(row))))))));
}

/** Definition list from [term, value] pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

export function code(value) {
  return h('pre', { class: 'code', tabindex: '0' }, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

export function badge(outcome) {
  const kind = outcome === 'answer' ? 'ok' : (outcome === 'no_policy' ? 'neutral' : 'bad');
  return h('span', { class: `badge ${kind}` }, outcome || '—');
}

/** Asks before a change; resolves true when confirmed. */
export function confirm(heading, body, okText = 'Confirm') {
  const dialog = document.getElementById('confirm');
  clear(document.getElementById('confirm-title'), heading);
  clear(document.getElementById('confirm-body'), body);
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  ok.textContent = okText;
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener('click', yes);
      cancel.removeEventListener('click', no);
      dialog.removeEventListener('cancel', no);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = (event) => { if (event) event.preventDefault(); done(false); };
    ok.addEventListener('click', yes);
    cancel.addEventListener('click', no);
    dialog.addEventListener('cancel', no);
    dialog.showModal();
    cancel.focus();
  });
}

/** Runs `action` for a button, disabling it meanwhile; returns what `action` returns. */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** A form whose submit runs `onsubmit` (never a real submission). */
export function form(attrs, onsubmit, ...children) {
  return h('form', {
    ...attrs,
    novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      onsubmit(event);
    },
  }, ...children);
}
