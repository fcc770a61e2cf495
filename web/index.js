// Keeps the links in step with the server field, and passes this page's tenant, room and admin
// (Admin API URL) parameters on, so the demo's printed address reaches every page.
import { defaultServer, params } from './common.js';

const server = document.getElementById('server');
const links = {
  attendee: [document.getElementById('attendee-link'), ['tenant', 'room']],
  presenter: [document.getElementById('presenter-link'), ['tenant', 'room']],
  dashboard: [document.getElementById('dashboard-link'), ['admin']],
};

function update() {
  for (const [a, names] of Object.values(links)) {
    const url = new URL(a.getAttribute('href'), location.href);
    const q = new URLSearchParams();
    if (a.id !== 'dashboard-link') q.set('server', server.value.trim());
    for (const name of names) if (params.has(name)) q.set(name, params.get(name));
    url.search = q.toString();
    a.href = url.href;
  }
}
server.value = defaultServer();
server.addEventListener('input', update);
update();
