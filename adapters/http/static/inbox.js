// The conversation list: the caller's inbox, and the lists on contact and case pages.
import { get } from "./api.js";
import { el, phoneForPeople, timeForPeople } from "./format.js";

/** How a conversation is named for people: its contacts, otherwise its number. */
export function conversationTitle(conversation) {
  const names = (conversation.contacts || []).map((c) => c.name);
  return names.length ? names.join(", ") : phoneForPeople(conversation.phone);
}

function preview(last) {
  if (!last) return "No messages yet";
  const prefix = last.direction === "outbound" ? "You: " : "";
  const images = last.media_count ? `[${last.media_count} image${last.media_count > 1 ? "s" : ""}] ` : "";
  return prefix + images + (last.body || "");
}

/** One row: a link to the thread, with name, cases, preview, unread badge and muted bell. */
export function conversationRow(conversation, currentId) {
  const cases = (conversation.cases || []).map((k) => k.name).join(", ");
  const unread = conversation.unread || 0;
  return el("li", { "data-id": conversation.id },
    el("a", { href: `#/c/${conversation.id}`, "aria-current": conversation.id === currentId ? "page" : null },
      el("span", { class: "who" }, conversationTitle(conversation)),
      el("span", { class: "flags" },
        conversation.muted ? el("img", { class: "muted-bell", src: "bell-off.svg", alt: "Notifications muted",
                                         title: "Notifications muted", width: "16", height: "16" }) : null,
        unread ? el("span", { class: "badge", "aria-label": `${unread} unread` }, String(unread)) : null),
      cases ? el("span", { class: "cases" }, cases) : null,
      conversation.last_message
        ? el("span", { class: "when" }, timeForPeople(conversation.last_message.created_at)) : null,
      el("span", { class: "preview" }, preview(conversation.last_message))));
}

/** The inbox list: first page on load and on every live change, more on demand. */
export class Inbox {
  constructor(list, empty, more, unreadToggle) {
    Object.assign(this, { list, empty, more, unreadToggle, rows: [], cursor: null, currentId: null });
    this.pending = null;
    unreadToggle.addEventListener("change", () => this.refresh(true));
    more.addEventListener("click", () => this.loadMore());
  }

  /** Re-read the first page (as many rows as are shown, up to 200): one request. */
  async refresh(reset = false) {
    if (this.pending) { this.again = true; return this.pending; }
    const limit = reset ? 50 : Math.min(200, Math.max(50, this.rows.length));
    this.pending = get("/v1/inbox", { unread_only: this.unreadToggle.checked, limit }).then((page) => this.show(page))
    .finally(() => {
      this.pending = null;
      if (this.again) { this.again = false; this.refresh(); }
    });
    return this.pending;
  }

  /** Draw a first page (also the one the page asked for while signing in). */
  show(page) {
    this.rows = page.conversations;
    this.cursor = page.next_cursor;
    this.render();
  }

  async loadMore() {
    if (!this.cursor) return;
    const page = await get("/v1/inbox", { unread_only: this.unreadToggle.checked, limit: 50, cursor: this.cursor });
    const known = new Set(this.rows.map((r) => r.id));
    this.rows.push(...page.conversations.filter((r) => !known.has(r.id)));
    this.cursor = page.next_cursor;
    this.render();
  }

  select(id) { this.currentId = id; this.render(); }

  render() {
    this.list.replaceChildren(...this.rows.map((row) => conversationRow(row, this.currentId)));
    this.empty.hidden = this.rows.length > 0;
    this.empty.textContent = this.unreadToggle.checked ? "No unread messages." : "No conversations.";
    this.more.hidden = !this.cursor;
  }
}
