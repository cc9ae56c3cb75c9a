// The admin API client. The console is only a client of the API the README documents:
// whatever the API refuses, the console shows in the API's own words (`message`).
//
// Credentials: the API key (or operator token) is kept in this module's memory and in
// sessionStorage (this tab only, gone when the tab closes), and sent as
// `Authorization: Bearer` by this code. Never in a URL, never in a cookie, never logged.
// A browser never attaches an Authorization header by itself, so another site cannot
// make a request that carries the key: there is no CSRF surface (no cookie, no ambient
// credential). Sign-out forgets it.

const STORE = 'rabat.console.session';
let session = null;

export function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    session = saved && typeof saved.key === 'string' ? saved : null;
  } catch {
    session = null;
  }
  return session;
}

export function currentSession() {
  return session;
}

export function saveSession(next) {
  session = next;
  sessionStorage.setItem(STORE, JSON.stringify(next));
}

export function clearSession() {
  session = null;
  sessionStorage.removeItem(STORE);
}

/** An answer the API refused: `message` is the API's own words. */
export class ApiError extends Error {
  constructor(status, body, text) {
    const message = body && typeof body.message === 'string'
      ? body.message
      : (text && text.length < 300 ? text : `The server answered ${status}`);
    super(message);
    this.status = status;
    this.body = body;
    this.errorId = body && body.error_id;
    this.error = body && body.error;
  }
}

// Decimals (money, percentages) are parsed from their JSON text, never through a
// float: each non-integer number becomes a JSON.rawJSON value that keeps the text
// (`50.00` stays `50.00`) and is written back unchanged by JSON.stringify.
const RAW = typeof JSON.rawJSON === 'function';

export function parseJson(text) {
  if (!RAW) return JSON.parse(text);
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === 'number' && context && typeof context.source === 'string'
      && !/^-?\d+$/.test(context.source)) {
      return JSON.rawJSON(context.source);
    }
    if (typeof value === 'number' && context && typeof context.source === 'string'
      && !Number.isSafeInteger(value)) {
      return JSON.rawJSON(context.source);
    }
    return value;
  });
}

/** The text of a decimal from the API (number, rawJSON or string). */
export function dec(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object' && typeof value.rawJSON === 'string') return value.rawJSON;
  return String(value);
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

// Sends a request with the signed-in credential; the response, or an ApiError when the
// server could not be reached.
async function send(method, path, options, accept) {
  const headers = { Accept: accept };
  const key = options.token || (session && session.key);
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (options.bytes !== undefined) {
    body = options.bytes;
    headers['Content-Type'] = options.contentType || 'application/octet-stream';
  } else if (options.json !== undefined) {
    body = typeof options.json === 'string' ? options.json : JSON.stringify(options.json);
    headers['Content-Type'] = 'application/json';
  }
  try {
    return await fetch(path, {
      method, headers, body, credentials: 'omit', cache: 'no-store', redirect: 'error',
    });
  } catch (error) {
    throw new ApiError(0, null, `The server could not be reached (${error.message})`);
  }
}

function parsed(text) {
  if (!text) return null;
  try {
    return parseJson(text);
  } catch {
    return null;
  }
}

/** Calls the API with the signed-in credential. */
export async function call(method, path, options = {}) {
  const response = await send(method, path, options, 'application/json');
  const text = await response.text();
  const data = parsed(text);
  if (!response.ok) throw new ApiError(response.status, data, text);
  return data;
}

/** A GET of a non-JSON answer (a CSV page): `{text, headers}`; refusals as `call`. */
export async function callText(path, accept = 'text/csv') {
  const response = await send('GET', path, {}, accept);
  const text = await response.text();
  if (!response.ok) throw new ApiError(response.status, parsed(text), text);
  return { text, headers: response.headers };
}

/** A path under the signed-in merchant: `m('/policies')`. */
export function m(path = '', merchant) {
  const id = merchant || (session && session.merchant) || '';
  return `/admin/v1/merchants/${encodeURIComponent(id)}${path}`;
}

export function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export const OUTCOMES = [
  'answer', 'no_policy', 'unavailable', 'policy_error', 'out_of_fuel', 'timeout',
  'memory_limit', 'trap', 'invalid_answer', 'busy',
];
