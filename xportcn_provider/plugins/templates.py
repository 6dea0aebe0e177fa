# ruff: noqa: E501  (HTML templates: one table row per line reads better than wrapped markup)
"""The monitoring pages' HTML (Jinja2, autoescaped; no external assets, light and dark mode)."""

from __future__ import annotations

from jinja2 import Environment, select_autoescape

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

STYLE = """
:root { color-scheme: light dark; --fg:#1f2328; --bg:#ffffff; --muted:#59636e; --line:#d1d9e0;
  --head:#f6f8fa; --bad:#b42318; --ok:#1a7f37; --link:#0969da; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --bg:#0d1117; --muted:#9198a1;
  --line:#3d444d; --head:#151b23; --bad:#ff7b72; --ok:#3fb950; --link:#4493f8; } }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 16px; }
h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid var(--line);
  padding: 4px 8px; text-align: left; vertical-align: top; } th { background: var(--head); }
a { color: var(--link); } .muted { color: var(--muted); } .bad { color: var(--bad); }
.ok { color: var(--ok); } code, pre { font-family: ui-monospace, monospace; font-size: 12px; }
pre { background: var(--head); padding: 8px; overflow: auto; }
form { display: flex; gap: 8px; align-items: end; flex-wrap: wrap; }
label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
"""

PAGE = _env.from_string(
    """<!doctype html><html><head><meta charset="utf-8"><title>Xportcn</title>
<style>{{ style }}</style></head><body>
<h1>Xportcn</h1>
<p class="muted">Signed in as {{ user }} · {{ now }} UTC · DAGs you may read: {{ dag_count }}</p>
<h2 id="in-flight">In flight ({{ waits|length }}{% if truncated %}, first {{ max_waits }}{% endif %})</h2>
<form method="get">
  <label>DAG<select name="dag_id"><option value="">all</option>
    {% for d in dag_ids %}<option {% if d == f_dag %}selected{% endif %}>{{ d }}</option>{% endfor %}</select></label>
  <label>Kind<select name="kind"><option value="">all</option>
    {% for k in kinds %}<option {% if k == f_kind %}selected{% endif %}>{{ k }}</option>{% endfor %}</select></label>
  <label>Waiting longer than (hours)<input name="older_than_hours" value="{{ f_hours or '' }}" size="6"></label>
  <button type="submit">Filter</button>
</form>
<table><thead><tr><th>Kind</th><th>Remote id</th><th>Target</th><th>Failure</th><th>Last status</th>
<th>Waiting since</th><th>State</th><th>DAG / run / task</th><th>Console</th></tr></thead><tbody>
{% for w in waits %}<tr class="wait">
<td>{{ w.kind }}</td>
<td>{% for k, v in w.ids.items() %}<code>{{ k }}={{ v }}</code><br>{% endfor %}</td>
<td>{{ w.target|join(", ") or "—" }}{% if w.target_is_default %} <span class="muted">(default)</span>{% endif %}</td><td>{{ w.failure|join(", ") or "—" }}{% if w.failure_is_default %} <span class="muted">(default)</span>{% endif %}</td>
<td>{% if w.last_status %}<span class="last-status">{{ w.last_status.status }}</span><br><span class="muted">{{ w.last_status.via }}{% if w.last_status.seen_at %}, {{ w.last_status.seen_at.strftime("%m-%d %H:%M") }}{% endif %}</span>{% else %}—{% endif %}</td>
<td>{% if w.since %}{{ w.since.strftime("%Y-%m-%d %H:%M") }} <span class="muted">({{ "%.1f"|format(w.age_hours(now_dt)) }} h)</span>{% else %}—{% endif %}</td>
<td>{{ w.state }}</td>
<td><a target="_top" href="{{ ti_url(w) }}">{{ w.dag_id }} / {{ w.run_id }} / {{ w.task_id }}{% if w.map_index >= 0 %}[{{ w.map_index }}]{% endif %}</a></td>
<td>{% if console(w) %}<a target="_blank" rel="noopener" href="{{ console(w) }}">open</a>{% endif %}</td>
</tr>{% else %}<tr><td colspan="9" class="muted">Nothing in flight.</td></tr>{% endfor %}
</tbody></table>
<h2 id="created">Recently created</h2>
<table><thead><tr><th>Kind</th><th>Id</th><th>When</th><th>DAG / run / task</th></tr></thead><tbody>
{% for c in created %}<tr class="created"><td>{{ c.kind }}</td><td><code>{{ c.object_id }}</code></td>
<td>{{ c.at.strftime("%Y-%m-%d %H:%M:%S") if c.at else "—" }}</td>
<td><a target="_top" href="{{ ti_url(c) }}">{{ c.dag_id }} / {{ c.run_id }} / {{ c.task_id }}</a></td></tr>
{% else %}<tr><td colspan="4" class="muted">Nothing yet.</td></tr>{% endfor %}
</tbody></table>
<h2 id="messages">Recent push messages</h2>
{% if messages is none %}<p class="muted">You may not read assets.</p>{% else %}
<table><thead><tr><th>Received</th><th>Asset</th><th>Type</th><th>Object</th><th>Status</th><th></th></tr></thead><tbody>
{% for m in messages %}<tr class="message"><td>{{ m.at }}</td><td><code>{{ m.uri }}</code></td><td>{{ m.type }}</td>
<td><code>{{ m.object }}</code></td><td>{{ m.status }}</td><td>{% if m.stale %}<span class="bad">stale</span>{% endif %}</td></tr>
{% else %}<tr><td colspan="6" class="muted">No pushed messages.</td></tr>{% endfor %}
</tbody></table>{% endif %}
</body></html>"""
)

TAB = _env.from_string(
    """<!doctype html><html><head><meta charset="utf-8"><title>Xportcn · {{ task_id }}</title>
<style>{{ style }}</style></head><body>
<h1>Xportcn objects of {{ dag_id }} / {{ task_id }}</h1>
<p class="muted">Run {{ run_id }}{% if map_index >= 0 %}, map index {{ map_index }}{% endif %} ·
connection <code>{{ conn_id }}</code>{% if base_url %} · API {{ base_url }}{% endif %}</p>
{% for o in objects %}<h2 class="object">{{ o.kind }} <code>{{ o.id }}</code> <span class="muted">({{ o.source }})</span></h2>
{% if o.error %}<p class="bad live-error">{{ o.error }}</p>{% elif o.note %}
<p class="muted live-note">{{ o.note }}{% if o.console %} · <a target="_blank" rel="noopener" href="{{ o.console }}">open in the Xport console</a>{% endif %}</p>{% else %}
<p>Live status: <strong class="live-status">{{ o.status or "—" }}</strong>
<span class="muted">read {{ o.read_at }} UTC{% if o.cached %} (cached){% endif %}{% if o.reason %} · {{ o.reason }}{% endif %}</span>
{% if o.console %} · <a target="_blank" rel="noopener" href="{{ o.console }}">open in the Xport console</a>{% endif %}</p>
<pre>{{ o.record }}</pre>{% endif %}
{% else %}<p class="muted">This task neither created nor waits on an Xportcn object.</p>{% endfor %}
</body></html>"""
)
