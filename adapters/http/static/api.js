// The public API, as the page uses it: the bearer token, JSON calls, and
// Server-Sent Events read with fetch (so the token travels in a header, never a URL).
const KEY = "firmtext.token";

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

/** Take the token from `#token=…` (then remove it from the address bar) or from sessionStorage. */
export function takeToken() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fresh = fragment.get("token");
  if (fresh) {
    sessionStorage.setItem(KEY, fresh);
    history.replaceState(null, "", location.pathname + location.search + "#/inbox");
  }
  return sessionStorage.getItem(KEY);
}

let token = null;
let onSignedOut = () => {};

export function useToken(value, signedOut) { token = value; onSignedOut = signedOut; }

function headers(extra = {}) { return { Authorization: `Bearer ${token}`, ...extra }; }

async function failure(response) {
  let code = "http_" + response.status, message = `The server answered ${response.status}.`;
  try { ({ code, message } = (await response.json()).error); } catch { /* not our error shape */ }
  const error = new ApiError(response.status, code, message);
  if (response.status === 401) onSignedOut(error);
  return error;
}

/** A JSON call; throws ApiError with the contract's code and message. */
export async function call(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

export const get = (path, params) => call("GET", params ? `${path}?${new URLSearchParams(params)}` : path);
export const post = (path, body = {}) => call("POST", path, body);

/**
 * Read a Server-Sent Events stream until `signal` aborts, reconnecting after drops
 * (with Last-Event-ID, so missed notifications are sent again).
 */
export async function listen(path, onEvent, signal) {
  let lastId = null, retry = 3000;
  while (!signal.aborted) {
    try {
      const response = await fetch(path, { headers: headers(lastId ? { "Last-Event-ID": lastId } : {}), signal });
      if (!response.ok) { await failure(response); if (response.status === 401 || response.status === 403) return; }
      else {
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const frame = parseFrame(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (frame.retry) retry = frame.retry;
            if (frame.id) lastId = frame.id;
            if (frame.event) onEvent(frame.event, frame.data);
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, retry));
  }
}

function parseFrame(text) {
  const frame = { data: "" };
  for (const line of text.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") frame.data += value;
    else if (field === "event") frame.event = value;
    else if (field === "id") frame.id = value;
    else if (field === "retry") frame.retry = Number(value) || 0;
  }
  if (frame.data) { try { frame.data = JSON.parse(frame.data); } catch { /* keep the text */ } }
  return frame;
}
