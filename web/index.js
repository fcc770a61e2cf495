// Keeps the two links in step with the server field, so ?server= reaches the pages.
import { defaultServer } from './common.js';

const server = document.getElementById('server');
const links = [document.getElementById('attendee-link'), document.getElementById('presenter-link')];

function update() {
  for (const a of links) {
    const url = new URL(a.getAttribute('href'), location.href);
    url.search = new URLSearchParams({ server: server.value.trim() }).toString();
    a.href = url.href;
  }
}
server.value = defaultServer();
server.addEventListener('input', update);
update();
