// Charts as inline SVG built with DOM calls (no library, no inline style: colours come
// from classes in console.css). Each chart has a text alternative.
import { h } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A round step for `ticks` grid lines covering `value` (whole numbers when `integer`). */
function niceStep(value, ticks, integer) {
  const raw = value / ticks;
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const step = m * power;
    if (step >= raw && (!integer || Number.isInteger(step))) return step;
  }
  return 10 * power;
}

/**
 * Stacked bars: `labels` along x; `series` = [{name, cls, values}] stacked bottom-up.
 * `format(n)` writes a y value; `label` is the chart's accessible name.
 */
export function barChart({
  labels, series, label, format = String, height = 220, width = 960, integer = false,
}) {
  const pad = { left: 56, right: 12, top: 12, bottom: 36 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const totals = labels.map((_, i) => series.reduce((sum, one) => sum + Math.max(0, one.values[i] || 0), 0));
  const max = 4 * niceStep(Math.max(0, ...totals), 4, integer);
  const slot = plotW / Math.max(1, labels.length);
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'chart',
    preserveAspectRatio: 'xMidYMid meet',
  }, s('title', {}, label));
  for (let k = 0; k <= 4; k += 1) {
    const value = (max * k) / 4;
    const y = pad.top + plotH - (plotH * k) / 4;
    svg.append(s('line', { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: pad.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, format(value)));
  }
  const every = Math.ceil(labels.length / 10);
  labels.forEach((text, i) => {
    const x = pad.left + slot * i + (slot - barW) / 2;
    let base = pad.top + plotH;
    for (const one of series) {
      const value = Math.max(0, one.values[i] || 0);
      if (value <= 0) continue;
      const barH = (plotH * value) / max;
      base -= barH;
      svg.append(s('rect', { x, y: base, width: barW, height: barH, class: `bar ${one.cls || ''}` },
        s('title', {}, `${text}: ${one.name} ${format(value)}`)));
    }
    if (i % every === 0) {
      svg.append(s('text', { x: x + barW / 2, y: height - pad.bottom + 16, class: 'axis', 'text-anchor': 'middle' }, text.slice(5)));
    }
  });
  const legend = h('ul', { class: 'legend' }, series.map((one) => h('li', {}, h('span', { class: `swatch ${one.cls || ''}`, 'aria-hidden': 'true' }), one.name)));
  const caption = series.length === 1 ? h('figcaption', { class: 'chart-caption' }, label) : legend;
  return h('figure', { class: 'chart-box' }, svg, caption);
}

/** Bars around a zero line, one per value (e.g. per-order discount differences). */
export function diffChart({ values, label, format = String, height = 200, width = 960 }) {
  const pad = { left: 56, right: 12, top: 12, bottom: 12 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = 2 * niceStep(Math.max(0, ...values.map((v) => Math.abs(v))), 2, false);
  const zero = pad.top + plotH / 2;
  const slot = plotW / Math.max(1, values.length);
  const barW = Math.max(1, Math.min(24, slot * 0.8));
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'chart' }, s('title', {}, label));
  for (const value of [max, max / 2, 0, -max / 2, -max]) {
    const y = zero - (plotH / 2) * (value / max);
    svg.append(s('line', { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: value === 0 ? 'zero' : 'grid' }));
    svg.append(s('text', { x: pad.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, format(value)));
  }
  values.forEach((value, i) => {
    const x = pad.left + slot * i + (slot - barW) / 2;
    const barH = Math.max(1, (plotH / 2) * (Math.abs(value) / max));
    const y = value >= 0 ? zero - barH : zero;
    svg.append(s('rect', { x, y, width: barW, height: barH, class: `bar ${value >= 0 ? 'more' : 'less'}` },
      s('title', {}, `order ${i + 1}: ${format(value)}`)));
  });
  return h('figure', { class: 'chart-box' }, svg,
    h('figcaption', { class: 'legend' },
      h('span', {}, h('span', { class: 'swatch more', 'aria-hidden': 'true' }), 'more discount than the till got'),
      h('span', {}, h('span', { class: 'swatch less', 'aria-hidden': 'true' }), 'less discount')));
}
