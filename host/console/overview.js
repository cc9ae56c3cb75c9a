// Overview: the active policy, and the last days at the till as charts.
import { call, m, query, OUTCOMES } from './api.js';
import { barChart } from './chart.js';
import { budgetBar } from './campaigns.js';
import { approx, count, money, time, minorUnits } from './fmt.js';
import { clear, empty, errorBox, facts, field, h, loading, title, table, add } from './ui.js';

const FAILURE_CLASSES = {
  answer: 'ok', no_policy: 'neutral', busy: 'warn',
};

export async function overview(page, params, ctx) {
  const days = h('select', { name: 'days' }, [7, 14, 30, 90].map((n) => h('option', { value: n, selected: n === 14 }, `Last ${n} days`)));
  const charts = h('section', { 'aria-labelledby': 'charts-head' });
  const active = h('section', { class: 'card-panel', 'aria-labelledby': 'active-head' }, loading());
  const budgets = h('section', { class: 'card-panel', 'aria-labelledby': 'budgets-head' });
  add(page, title('Overview'), active, budgets,
    h('div', { class: 'toolbar' }, h('h2', { id: 'charts-head' }, 'At the till'), field('Period', days)), charts);
  days.addEventListener('change', () => showCharts(charts, Number(days.value)));
  await Promise.all([showActive(active), showBudgets(budgets), showCharts(charts, 14)]);
}

/** A bar per campaign with a budget (hidden when none has one). */
async function showBudgets(box) {
  box.hidden = true;
  try {
    const list = await call('GET', m('/campaigns'));
    const budgeted = list.items.filter((c) => c.state !== 'ended' && c.limits && c.limits.budget);
    if (budgeted.length === 0) return;
    const uses = await Promise.all(budgeted.map((c) => call('GET', m(`/campaigns/${c.id}/budget`))));
    clear(box, h('h2', { id: 'budgets-head' }, 'Campaign budgets'));
    budgeted.forEach((c, i) => {
      if (uses[i].budget) add(box, h('div', { class: 'budget-row' }, h('strong', {}, c.name), budgetBar(c.name, uses[i].budget)));
    });
    box.hidden = false;
  } catch (error) {
    clear(box, h('h2', { id: 'budgets-head' }, 'Campaign budgets'), errorBox(error));
    box.hidden = false;
  }
}

async function showActive(box) {
  try {
    const [merchant, list, trail] = await Promise.all([
      call('GET', m()),
      call('GET', m('/policies')),
      call('GET', m(`/audit${query({ limit: 200 })}`)),
    ]);
    const version = list.items.find((p) => p.active);
    clear(box, h('h2', { id: 'active-head' }, `${merchant.name} (${merchant.id})`));
    if (!version) {
      add(box, empty('No policy is active: the tills get no discount.',
        h('a', { href: '#/policies', class: 'button' }, 'Upload and activate a policy')));
      return;
    }
    const activation = trail.items.find((e) => e.action === 'policy.activate' && e.detail && e.detail.version === version.version);
    add(box, facts([
      ['Active version', h('strong', { class: 'active-version' }, `v${version.version}`)],
      ['Note', version.note || '—'],
      ['Activated', activation ? `${time(activation.at)} by ${activation.actor}` : 'not in the audit trail'],
      ['Uploaded', time(version.createdAt)],
      ['Versions', String(list.items.length)],
    ]));
  } catch (error) {
    clear(box, h('h2', { id: 'active-head' }, 'Active policy'), errorBox(error));
  }
}

async function showCharts(box, days) {
  clear(box, loading());
  let stats;
  try {
    stats = await call('GET', m(`/stats${query({ days })}`));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  const labels = stats.items.map((d) => d.day);
  const calls = stats.items.reduce((sum, d) => sum + d.calls, 0);
  clear(box);
  if (calls === 0) {
    add(box, empty(`No endpoint-1 calls in the last ${days} days. Once tills ask for discounts, they show here.`));
    return;
  }
  const seen = OUTCOMES.filter((o) => stats.items.some((d) => d.outcomes[o]));
  const failures = stats.items.reduce((sum, d) => sum + Object.entries(d.outcomes)
    .filter(([o]) => o !== 'answer').reduce((a, [, n]) => a + n, 0), 0);
  add(box, h('div', { class: 'kpis' },
    kpi('Endpoint-1 calls', count(calls)),
    kpi('Failures and fail-safe answers', count(failures)),
  ));
  add(box, h('h3', {}, 'Endpoint-1 calls per day, by outcome'));
  add(box, barChart({
    labels,
    label: `Endpoint-1 calls per day by outcome, last ${days} days`,
    series: seen.map((o) => ({ name: o, cls: FAILURE_CLASSES[o] || `bad o-${o}`, values: stats.items.map((d) => d.outcomes[o] || 0) })),
    format: (n) => String(Math.round(n)),
    integer: true,
  }));
  const currencies = [...new Set(stats.items.flatMap((d) => d.discounts.map((x) => x.currency)))].sort();
  if (currencies.length === 0) {
    add(box, empty('No discount was answered in this period.'));
  }
  for (const currency of currencies) {
    const row = (d) => d.discounts.find((x) => x.currency === currency);
    add(box, h('h3', {}, `Discounts per day (${currency || 'no currency'})`));
    add(box, h('div', { class: 'grid2' },
      barChart({
        labels,
        label: `Discount amount per day in ${currency}`,
        width: 480,
        series: [{ name: 'amount', cls: 'money', values: stats.items.map((d) => approx(row(d) ? row(d).amount : 0)) }],
        format: (n) => n.toFixed(Math.min(2, minorUnits(currency))),
      }),
      barChart({
        labels,
        label: `Discounted answers per day in ${currency}`,
        width: 480,
        integer: true,
        series: [{ name: 'count', cls: 'count', values: stats.items.map((d) => (row(d) ? row(d).count : 0)) }],
        format: (n) => String(Math.round(n)),
      })));
    const withData = stats.items.filter((d) => row(d));
    add(box, h('details', {}, h('summary', {}, `The figures (${currency})`),
      table([
        ['Day', (d) => d.day],
        ['Discounts', (d) => count(row(d).count), 'num'],
        ['Amount', (d) => money(row(d).amount, currency), 'num'],
      ], withData)));
  }
  add(box, h('details', {}, h('summary', {}, 'Calls per day and outcome'),
    table([['Day', (d) => d.day], ['Calls', (d) => count(d.calls), 'num'],
      ['By outcome', (d) => Object.entries(d.outcomes).map(([o, n]) => `${o} ${n}`).join(', ') || '—']],
    stats.items.filter((d) => d.calls > 0))));
}

function kpi(label, value) {
  return h('div', { class: 'kpi' }, h('span', { class: 'kpi-value' }, value), h('span', { class: 'kpi-label' }, label));
}
