// Formatting: money from its decimal text (no float arithmetic), times, sizes.
import { dec } from './api.js';

// ISO 4217 currencies whose minor unit is not 2 places (as host/src/currency.rs).
const MINOR = {
  BHD: 3, BIF: 0, CLF: 4, CLP: 0, DJF: 0, GNF: 0, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KMF: 0,
  KRW: 0, KWD: 3, LYD: 3, OMR: 3, PYG: 0, RWF: 0, TND: 3, UGX: 0, UYI: 0, UYW: 4, VND: 0,
  VUV: 0, XAF: 0, XOF: 0, XPF: 0,
};

export function minorUnits(currency) {
  const code = String(currency || '').trim().toUpperCase();
  return Object.prototype.hasOwnProperty.call(MINOR, code) ? MINOR[code] : 2;
}

/** A decimal text as a BigInt of `scale` places (exact), or null if it is not one. */
export function scaled(text, scale) {
  const match = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(String(text).trim());
  if (!match || (!match[2] && !match[3])) return null;
  const whole = match[2] || '0';
  let frac = match[3] || '';
  let roundUp = false;
  if (frac.length > scale) {
    roundUp = frac[scale] >= '5'; // half away from zero (on the magnitude)
    frac = frac.slice(0, scale);
  }
  let n = BigInt(whole + frac.padEnd(scale, '0'));
  if (roundUp) n += 1n;
  return match[1] === '-' ? -n : n;
}

/** Writes a scaled BigInt back as decimal text with `scale` places. */
export function unscaled(n, scale, group = false) {
  const negative = n < 0n;
  let digits = (negative ? -n : n).toString().padStart(scale + 1, '0');
  let whole = scale ? digits.slice(0, -scale) : digits;
  const frac = scale ? digits.slice(-scale) : '';
  if (group) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative && n !== 0n ? '-' : ''}${whole}${scale ? `.${frac}` : ''}`;
}

/** `value` (decimal from the API) rounded to the currency's minor unit: `1,234.50 EUR`. */
export function money(value, currency) {
  const text = dec(value);
  if (text === '') return '—';
  const units = minorUnits(currency);
  const n = scaled(text, units);
  if (n === null) return `${text} ${currency || ''}`.trim();
  return `${unscaled(n, units, true)}${currency ? ` ${currency}` : ''}`;
}

/** `a - b` for two decimal texts, exactly, with the currency's places. */
export function moneyDiff(a, b, currency) {
  const units = Math.max(minorUnits(currency), places(dec(a)), places(dec(b)));
  const x = scaled(dec(a) || '0', units);
  const y = scaled(dec(b) || '0', units);
  if (x === null || y === null) return '';
  return unscaled(x - y, units);
}

function places(text) {
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** A decimal as a plain number, for chart geometry only (never for a shown amount). */
export function approx(value) {
  const n = Number(dec(value));
  return Number.isFinite(n) ? n : 0;
}

export function decimal(value) {
  const text = dec(value);
  return text === '' ? '—' : text;
}

export function time(ms) {
  if (ms === null || ms === undefined) return '—';
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return '—';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const value = Number(n);
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}

export function micros(us) {
  if (us === null || us === undefined) return '—';
  const value = Number(us);
  return value < 1000 ? `${value} µs` : `${(value / 1000).toFixed(2)} ms`;
}

export function count(n) {
  if (n === null || n === undefined) return '—';
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
