/* The console's HTTP API (/api/console/v1). A 401 means the session ended: the page
 * that started decides what that means (the inbox keeps the draft and says so).
 */
let onSessionEnded = () => { location.assign("/console/login"); };

export function setSessionEndedHandler(fn) { onSessionEnded = fn; }

async function request(url, init) {
  const r = await fetch(url, { credentials: "same-origin", ...init });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) onSessionEnded();
  if (!r.ok) {
    const err = (body && body.error) || { code: "error" };
    err.status = r.status;
    throw err;
  }
  return body;
}

export function getJSON(url) {
  return request(url, { headers: { Accept: "application/json" } });
}

// Changes carry the page's CSRF token (the one its forms carry) in a header: the session
// cookie alone is no proof that this page sent the request.
function csrfToken() {
  const input = document.querySelector("input[name=csrf_token]");
  return input ? input.value : "";
}

export function sendJSON(method, url, payload) {
  return request(url, {
    method,
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
}
