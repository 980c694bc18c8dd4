// The test page: Nango's frontend SDK, unmodified, against the service given in the query
// (`host`, `token`, `apiKey`). Each button starts one flow; the outcome lands in #result.
import Nango from '@nangohq/frontend';

const params = new URLSearchParams(location.search);
const host = params.get('host');
const nango = new Nango({ host, connectSessionToken: params.get('token') });
const result = document.getElementById('result');
const show = (kind, value) => {
    result.dataset.kind = kind;
    result.textContent = JSON.stringify(value);
};
const failed = (e) => show('error', { type: e.type, message: e.message });

document.getElementById('oauth').addEventListener('click', () => {
    nango.auth('github').then((r) => show('ok', r), failed);
});
document.getElementById('apikey').addEventListener('click', () => {
    nango.auth('keys', { credentials: { apiKey: params.get('apiKey') } }).then((r) => show('ok', r), failed);
});
document.getElementById('ui').addEventListener('click', () => {
    const events = document.getElementById('events');
    nango.openConnectUI({
        baseURL: `${host}/connect/ui`,
        apiURL: host,
        onEvent: (event) => {
            events.textContent += `${event.type}\n`;
        },
    });
});
