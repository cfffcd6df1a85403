// The staff web inbox: sign-in from the URL fragment, the screens by route, live updates.
import { ApiError, get, listen, takeToken, useToken } from "./api.js";
import { showDesktopNotifications } from "./desktop.js";
import { el, phoneForPeople, useTimeZone } from "./format.js";
import { Inbox } from "./inbox.js";
import { composeScreen, linkedScreen, settingsScreen } from "./screens.js";
import { Thread } from "./thread.js";

const $ = (id) => document.getElementById(id);
const noticeBox = $("notice");
let live = null, desktop = null;

function notify(text, kind = "error") {
  noticeBox.textContent = text;
  noticeBox.className = `notice ${kind}`;
  noticeBox.hidden = !text;
}

/** The whole page becomes one sentence (signed out, no permission): nothing else to do. */
function only(sentence) {
  live?.abort();
  desktop?.abort();
  document.body.dataset.screen = "stopped";
  $("main").replaceChildren();
  document.querySelector(".top nav").hidden = true;
  notify(sentence);
}

function signedOut(error) {
  sessionStorage.removeItem("firmtext.token");
  only(error.message === "The token has expired."
    ? "Your session has expired. Open the text message inbox again from your firm's platform to sign in."
    : `You are not signed in (${error.message}) Open the text message inbox again from your firm's platform.`);
}

const go = (route) => { if (location.hash !== route) location.hash = route; else route_(); };

async function boot() {
  const token = takeToken();
  if (!token) return only("You are not signed in. Open the text message inbox from your firm's platform.");
  useToken(token, signedOut);
  // Everything the first screen needs, asked at once (the others fail alike without permission).
  const firstPage = get("/v1/inbox", { limit: 50 });
  const rest = Promise.all([get("/v1/firm"), get("/v1/users")]);
  firstPage.catch(() => {});
  rest.catch(() => {});
  const me = await get("/v1/me");
  if (!me.texting) {
    return only("You do not have the \u201cAdd/Edit Text Messaging\u201d permission, so you cannot read or send text messages.");
  }
  const [firm, staff] = await rest;
  useTimeZone(firm.time_zone);
  $("firm-number").textContent = `${firm.name} · texting number ${phoneForPeople(firm.number)}`;
  const app = { me, firm, notify, go, users: new Map(staff.users.map((u) => [u.id, u.name])) };
  app.inbox = new Inbox($("conversation-list"), $("inbox-empty"), $("inbox-more"), $("unread-only"));
  app.thread = new Thread($("detail-pane"), app);
  app.onPreferences = () => startDesktop(app);
  window.firmtextApp = app; // for a developer's console
  app.inbox.show(await firstPage);
  route_ = () => route(app).catch(fail);
  window.addEventListener("hashchange", route_);
  await route(app);
  startLive(app);
  startDesktop(app);
  document.addEventListener("visibilitychange", () => app.thread.markRead());
}

let route_ = () => {};

async function route(app) {
  const [, screen = "inbox", id] = location.hash.replace(/^#\/?/, "").match(/^([a-z]*)\/?(.*)$/) || [];
  const name = ["c", "compose", "contact", "case", "settings"].includes(screen) ? screen : "inbox";
  document.body.dataset.screen = name;
  const pane = $("detail-pane");
  if (name !== "c") { app.thread.close(); app.inbox.select(null); }
  if (name === "c") { app.inbox.select(id); await app.thread.open(id); }
  else if (name === "compose") composeScreen(pane, app);
  else if (name === "contact" || name === "case") await linkedScreen(pane, app, name, decodeURIComponent(id));
  else if (name === "settings") settingsScreen(pane, app);
  else pane.replaceChildren(el("p", { class: "empty" }, "Choose a conversation, or Compose a new message."));
}

/** The inbox stream says "something changed": re-read what is on screen (no reload). */
function startLive(app) {
  live = new AbortController();
  listen("/v1/inbox/stream", (event) => {
    if (event !== "inbox") return;
    app.inbox.refresh().catch(fail);
    app.thread.refresh();
  }, live.signal);
}

function startDesktop(app) {
  desktop?.abort();
  desktop = null;
  if (app.me.notify.desktop === "none" || !("Notification" in window)) return;
  desktop = new AbortController();
  showDesktopNotifications(desktop.signal, (item) => {
    const who = item.preview.contacts.length ? item.preview.contacts.join(", ") : phoneForPeople(item.preview.phone);
    return item.kind === "firm_message" ? `Text message to ${who} from ${app.users.get(item.sender_user_id) || "a colleague"}`
                                        : `New text message from ${who}`;
  }, go);
}

function fail(error) {
  if (error instanceof ApiError && error.status === 401) return; // signedOut has said it
  if (error instanceof ApiError && error.status === 403) {
    return only("You do not have the \u201cAdd/Edit Text Messaging\u201d permission, so you cannot read or send text messages.");
  }
  notify(error instanceof ApiError ? error.message : "Something went wrong; reload the page to try again.");
}

boot().catch(fail);
