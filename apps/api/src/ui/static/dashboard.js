// The dashboard's only script: reads the inventory through /ui/api (same origin, the page's own
// credentials) and draws it with Chart.js (window.Chart, loaded before this module runs).
const API = '/ui/api';
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNKNOWN'];
const COLOURS = { CRITICAL: '#8b0000', HIGH: '#e4572e', MEDIUM: '#f3a712', LOW: '#4f86c6', INFORMATIONAL: '#9aa5b1', UNKNOWN: '#c8ced6' };

async function getJson(path) {
  const res = await fetch(API + path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${body?.message ?? res.statusText}`);
  return body;
}

function showError(err) {
  const el = document.getElementById('error');
  el.textContent = String(err.message ?? err);
  el.hidden = false;
}

/** A table row from cell values; text only (never HTML), numbers right-aligned. */
function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    const { text, cls } = typeof cell === 'object' && cell !== null ? cell : { text: cell };
    td.textContent = text ?? '—';
    if (cls) td.className = cls;
    else if (typeof text === 'number') td.className = 'num';
    tr.append(td);
  }
  return tr;
}

function fill(tableId, rows, empty) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...(rows.length ? rows.map(row) : [row([empty])]));
}

const shortDigest = (d) => ({ text: d ? d.slice(0, 19) : null, cls: 'mono' });
const when = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : null);

function drawByAccount(summary) {
  const labels = summary.byAccount.map((g) => `${g.provider} / ${g.account}`);
  new window.Chart(document.getElementById('by-account'), {
    type: 'bar',
    data: { labels, datasets: SEVERITIES.map((s) => ({ label: s, data: summary.byAccount.map((g) => g.severityCounts[s]), backgroundColor: COLOURS[s] })) },
    options: { animation: false, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'findings' } } } },
  });
}

function drawTopCves(summary) {
  const top = summary.topVulnerabilities;
  new window.Chart(document.getElementById('top-cves'), {
    type: 'bar',
    data: { labels: top.map((v) => v.id), datasets: [{ label: 'images affected', data: top.map((v) => v.images), backgroundColor: top.map((v) => COLOURS[v.severity] ?? COLOURS.UNKNOWN) }] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      indexAxis: 'y',
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'images' } } },
      // A click on a bar searches for that vulnerability.
      onClick: (_event, elements) => elements[0] && search(top[elements[0].index].id),
    },
  });
}

async function loadOverview() {
  const [summary, critical, troubled] = await Promise.all([getJson('/vulnerabilities/summary?top=10'), getJson('/images/most-critical?limit=10'), getJson('/scans/troubled?hours=24&stuckMinutes=60')]);
  const c = summary.severityCounts;
  document.getElementById('totals').textContent =
    `${summary.images} images, ${summary.findings} current findings (${c.CRITICAL} critical, ${c.HIGH} high), ${Math.round(summary.fixableShare * 100)}% fixable`;
  drawByAccount(summary);
  drawTopCves(summary);
  fill('most-critical', critical.items.map((i) => [i.provider, i.account, i.repository, shortDigest(i.digest), i.tags.join(', '), i.severityCounts.CRITICAL, i.severityCounts.HIGH, when(i.lastScan.scannedAt)]), 'No image has a critical finding.');
  fill('troubled', troubled.items.map((s) => [{ text: s.id, cls: 'mono' }, s.provider, s.account, s.problem, s.status, s.reason ?? s.error, when(s.createdAt), when(s.finishedAt)]), 'No scan failed or stuck.');
}

async function search(cve) {
  const input = document.getElementById('cve');
  input.value = cve;
  const status = document.getElementById('search-status');
  const table = document.getElementById('search-results');
  status.textContent = `Searching for ${cve}…`;
  try {
    const page = await getJson(`/vulnerabilities?cve=${encodeURIComponent(cve)}&images=100&limit=10`);
    const hits = page.items.flatMap((v) => v.images.map((i) => ({ v, i })));
    const total = page.items.reduce((n, v) => n + v.imageCount, 0);
    const clouds = new Set(hits.map((h) => h.i.provider));
    const accounts = new Set(hits.map((h) => `${h.i.provider}/${h.i.account}`));
    status.textContent = page.items.length === 0
      ? `${cve} affects no image now.`
      : `${page.items.map((v) => v.id).join(', ')}: ${total} image(s) in ${accounts.size} account(s) on ${clouds.size} cloud(s)${hits.length < total ? ` (first ${hits.length} listed)` : ''}.`;
    fill('search-results', hits.map(({ i }) => [i.provider, i.account, i.registry, i.repository, shortDigest(i.digest), i.tags.join(', '), i.packageName, i.installedVersion, i.fixedVersion, i.severity]), 'No image.');
    table.hidden = page.items.length === 0;
  } catch (err) {
    status.textContent = '';
    showError(err);
  }
  document.body.dataset.search = 'done';
}

document.getElementById('search').addEventListener('submit', (event) => {
  event.preventDefault();
  const cve = document.getElementById('cve').value.trim();
  if (cve) void search(cve);
});

loadOverview()
  .catch(showError)
  .finally(() => (document.body.dataset.loaded = 'true'));
