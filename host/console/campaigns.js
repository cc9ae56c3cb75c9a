// Campaigns: several policies live at once (list with state, schedule, mode, limits and
// budget bars; create, pause, resume, end; switch a campaign to another version).
import { call, m, parseJson } from './api.js';
import { time } from './fmt.js';
import { busy, clear, confirm, empty, errorBox, field, form, h, loading, table, title, add } from './ui.js';

export async function campaigns(page, params, ctx) {
  const list = h('section', { 'aria-labelledby': 'campaigns-head' }, loading());
  let versions = [];
  try {
    versions = (await call('GET', m('/policies'))).items;
  } catch (error) {
    add(page, errorBox(error, 'The policy versions could not be listed'));
  }
  add(page, title('Campaigns', h('p', { class: 'muted' },
    'Every live campaign runs on each bill, in priority order (higher first); stackable ones all apply, an exclusive one that gives stops the lower ones, a bestOf group gives only its best.')),
  list, createForm(versions, ctx));
  await showList(list, versions, ctx);
}

function schedule(c) {
  if (c.startsAt == null && c.endsAt == null) return 'always';
  const from = c.startsAt == null ? 'now' : time(c.startsAt);
  const to = c.endsAt == null ? 'no end' : time(c.endsAt);
  return `${from} → ${to}`;
}

function stateBadge(state) {
  const kind = state === 'active' ? 'ok' : (state === 'paused' ? 'neutral' : 'bad');
  return h('span', { class: `badge ${kind} campaign-state` }, state);
}

async function showList(box, versions, ctx) {
  let data;
  try {
    data = await call('GET', m('/campaigns'));
  } catch (error) {
    clear(box, errorBox(error));
    return;
  }
  clear(box, h('h2', { id: 'campaigns-head' }, 'In run order'));
  if (data.items.length === 0) {
    add(box, empty('No campaign yet. Activating a policy version makes the default campaign; create more below.'));
    return;
  }
  add(box, table([
    ['Name', (c) => h('span', { class: 'campaign-name' }, c.name, c.isDefault ? h('span', { class: 'muted' }, ' (default)') : null)],
    ['Version', (c) => h('span', { class: 'version' }, `v${c.policyVersion}`)],
    ['State', (c) => stateBadge(c.state)],
    ['Mode', (c) => (c.mode === 'bestOf' ? `bestOf “${c.group}”` : c.mode)],
    ['Priority', (c) => String(c.priority), 'num'],
    ['Schedule', (c) => schedule(c)],
    ['Limits', (c) => limitsText(c.limits)],
    ['Budget', (c) => budgetCell(c)],
    ['', (c) => rowActions(c, versions, ctx)],
  ], data.items, 'Campaigns in run order'));
}

const PER = { day: 'a day', week: 'a week', month: 'a month', lifetime: 'in all' };

/** "budget 500.00 a month · 1 per card a day", or "—". */
export function limitsText(limits) {
  if (!limits) return '—';
  const parts = [];
  const b = limits.budget;
  if (b) {
    const what = [b.amount, b.redemptions != null ? `${b.redemptions} redemptions` : null].filter(Boolean).join(' and ');
    parts.push(`budget ${what} ${PER[b.period]}`);
  }
  if (limits.perCard) parts.push(`${limits.perCard.redemptions} per card ${PER[limits.perCard.period]}`);
  if (limits.perBranch) parts.push(`${limits.perBranch.redemptions} per branch ${PER[limits.perBranch.period]}`);
  if (limits.timeZone) parts.push(limits.timeZone);
  return parts.length ? parts.join(' · ') : '—';
}

function budgetCell(c) {
  if (!c.limits || !c.limits.budget || c.state === 'ended') return '—';
  const cell = h('div', { class: 'budget-cell' }, loading());
  call('GET', m(`/campaigns/${c.id}/budget`))
    .then((data) => clear(cell, data.budget ? budgetBar(c.name, data.budget) : '—'))
    .catch((error) => clear(cell, errorBox(error)));
  return cell;
}

/** A bar of one budget: used, reserved by open bills, and left, of the period's limit. */
export function budgetBar(name, budget) {
  const use = budget.amount || budget.redemptions;
  const limit = Number(use.limit);
  // Widths only: the figures shown are the server's exact decimal strings.
  const pct = (x) => (limit > 0 ? Math.min(100, (100 * Number(x)) / limit) : 0);
  const what = budget.amount ? '' : ' redemptions';
  const label = `${use.used} used, ${use.reserved} reserved, ${use.left} left of ${use.limit}${what} ${PER[budget.period]}`;
  return h('div', { class: 'budget', role: 'img', 'aria-label': `${name} budget: ${label}` },
    h('div', { class: 'budget-track' },
      h('span', { class: 'budget-used', style: `width: ${pct(use.used)}%` }),
      h('span', { class: 'budget-reserved', style: `width: ${pct(use.reserved)}%` })),
    h('span', { class: 'budget-text muted' }, label));
}

function rowActions(c, versions, ctx) {
  if (c.state === 'ended') return '—';
  const act = (label, path, says) => h('button', {
    type: 'button',
    class: 'small secondary',
    onclick: async (event) => {
      const button = event.currentTarget;
      if (says) {
        const ok = await confirm(`${label} “${c.name}”?`, h('p', {}, says), label);
        if (!ok) return;
      }
      await busy(button, async () => {
        try {
          await call('POST', m(`/campaigns/${c.id}/${path}`));
          ctx.go('campaigns');
        } catch (error) {
          button.closest('section').prepend(errorBox(error, `Not ${path}d`));
        }
      });
    },
  }, label);
  const others = versions.filter((v) => v.version !== c.policyVersion);
  const pick = h('select', { name: `version-${c.id}`, 'aria-label': `New version for ${c.name}` },
    others.map((v) => h('option', { value: String(v.version) }, `v${v.version}${v.note ? ` ${v.note}` : ''}`)));
  const switchButton = h('button', {
    type: 'button',
    class: 'small',
    onclick: async (event) => {
      const button = event.currentTarget;
      const version = Number(pick.value);
      const ok = await confirm(`Switch “${c.name}” to version ${version}?`,
        h('p', {}, `The campaign runs version ${c.policyVersion} now; after this, version ${version}, on every replica within a second.`), 'Switch');
      if (!ok) return;
      await busy(button, async () => {
        try {
          await call('PATCH', m(`/campaigns/${c.id}`), { json: { policyVersion: version } });
          ctx.go('campaigns');
        } catch (error) {
          button.closest('section').prepend(errorBox(error, 'Not switched'));
        }
      });
    },
  }, 'Switch version');
  return h('div', { class: 'row-actions' },
    c.state === 'active' ? act('Pause', 'pause') : act('Resume', 'resume'),
    act('End', 'end', 'An ended campaign never runs again; this cannot be undone.'),
    others.length ? [pick, switchButton] : null);
}

/** Epoch ms of a `datetime-local` value read as UTC, or null when empty. */
function instant(input) {
  if (!input.value) return null;
  return Date.parse(`${input.value}:00Z`);
}

function createForm(versions, ctx) {
  const name = h('input', { name: 'campaignName', maxlength: '100', required: true });
  const version = h('select', { name: 'policyVersion' },
    versions.map((v) => h('option', { value: String(v.version) }, `v${v.version}${v.note ? ` ${v.note}` : ''}`)));
  const mode = h('select', { name: 'mode' },
    h('option', { value: 'stackable' }, 'stackable'),
    h('option', { value: 'exclusive' }, 'exclusive'),
    h('option', { value: 'bestOf' }, 'bestOf (in a group)'));
  const group = h('input', { name: 'group', maxlength: '100' });
  const priority = h('input', { name: 'priority', type: 'number', min: '-1000000', max: '1000000', value: '0' });
  const starts = h('input', { name: 'startsAt', type: 'datetime-local' });
  const ends = h('input', { name: 'endsAt', type: 'datetime-local' });
  const config = h('textarea', { name: 'campaignConfig', rows: '4', spellcheck: 'false', class: 'json', placeholder: '{}' });
  const limits = h('textarea', {
    name: 'campaignLimits', rows: '3', spellcheck: 'false', class: 'json',
    placeholder: '{"timeZone": "Europe/Bratislava", "budget": {"amount": "500.00", "period": "month"}, "perCard": {"redemptions": 1, "period": "day"}}',
  });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Create campaign');
  const groupField = field('Group', group, 'The bestOf group: of its campaigns, only the one giving the most applies.');
  const toggle = () => { groupField.hidden = mode.value !== 'bestOf'; };
  mode.addEventListener('change', toggle);
  toggle();
  return form({ class: 'card-panel', 'aria-labelledby': 'campaign-new-head' }, () => busy(submit, async () => {
    clear(out);
    const body = {
      name: name.value.trim(),
      policyVersion: Number(version.value),
      mode: mode.value,
      priority: Number(priority.value || '0'),
    };
    if (mode.value === 'bestOf') body.group = group.value.trim();
    const from = instant(starts);
    const to = instant(ends);
    if (from !== null) body.startsAt = from;
    if (to !== null) body.endsAt = to;
    if (config.value.trim()) {
      try {
        body.config = parseJson(config.value);
      } catch (error) {
        add(out, errorBox(new Error(`config is not JSON: ${error.message}`)));
        return;
      }
    }
    if (limits.value.trim()) {
      try {
        body.limits = parseJson(limits.value);
      } catch (error) {
        add(out, errorBox(new Error(`limits are not JSON: ${error.message}`)));
        return;
      }
    }
    try {
      await call('POST', m('/campaigns'), { json: body });
      ctx.go('campaigns');
    } catch (error) {
      add(out, errorBox(error, 'Not created'));
    }
  }),
  h('h2', { id: 'campaign-new-head' }, 'New campaign'),
  versions.length ? null : empty('Upload a policy version first.'),
  h('div', { class: 'grid2' }, field('Name', name), field('Policy version', version)),
  h('div', { class: 'grid3' }, field('Mode', mode), groupField, field('Priority', priority, 'Higher runs and applies first.')),
  h('div', { class: 'grid2' }, field('Starts (UTC, optional)', starts), field('Ends (UTC, optional)', ends)),
  field('Config (JSON object, optional)', config),
  field('Limits (JSON object, optional)', limits, 'A budget (amount as a decimal string, and/or redemptions) per day, week, month or lifetime; redemptions per card or per branch. The host keeps them exactly.'),
  h('div', { class: 'actions' }, submit), out);
}
