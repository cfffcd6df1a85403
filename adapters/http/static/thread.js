// A conversation: its whole history (older pages while scrolling up), the composer,
// and the actions (bell, leave, archive, print, block).
import { get, post, ApiError } from "./api.js";
import { BODY_LIMIT, el, phoneForPeople, smsSize } from "./format.js";
import { conversationTitle } from "./inbox.js";
import { messageItem } from "./messages.js";
import { printConversation } from "./print.js";

export class Thread {
  /** `app`: {firm, users (Map id→name), inbox, notify(text, kind), go(route)}. */
  constructor(pane, app) { Object.assign(this, { pane, app, conversation: null, messages: [], older: null }); }

  async open(id) {
    this.id = id;
    const [conversation, page] = await Promise.all([
      get(`/v1/conversations/${id}`), get(`/v1/conversations/${id}/messages`, { limit: 50 })]);
    if (this.id !== id) return;
    Object.assign(this, { conversation, messages: page.messages, older: page.next_cursor });
    this.render();
    this.list.scrollTop = this.list.scrollHeight;
    this.markRead();
  }

  close() { this.id = null; }

  markRead() {
    if (this.id && document.visibilityState === "visible") {
      post(`/v1/conversations/${this.id}/read`).then(() => this.app.inbox.refresh()).catch(() => {});
    }
  }

  /** Live change: re-read the conversation and its newest page, merging by id. */
  async refresh() {
    const id = this.id;
    if (!id) return;
    try {
      const [conversation, page] = await Promise.all([
        get(`/v1/conversations/${id}`), get(`/v1/conversations/${id}/messages`, { limit: 50 })]);
      if (this.id !== id) return;
      const fresh = new Map(page.messages.map((m) => [m.id, m]));
      const known = new Set(this.messages.map((m) => m.id));
      const arrived = page.messages.filter((m) => !known.has(m.id));
      this.messages = this.messages.map((m) => fresh.get(m.id) || m).concat(arrived);
      const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
      this.conversation = conversation;
      this.render();
      if (atBottom || arrived.some((m) => m.direction === "outbound")) this.list.scrollTop = this.list.scrollHeight;
      if (arrived.some((m) => m.direction === "inbound")) this.markRead();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.gone("This conversation no longer exists.");
    }
  }

  async loadOlder() {
    if (!this.older || this.loading) return;
    this.loading = true;
    try {
      const page = await get(`/v1/conversations/${this.id}/messages`, { limit: 50, before: this.older });
      const height = this.list.scrollHeight;
      this.messages = page.messages.concat(this.messages);
      this.older = page.next_cursor;
      this.render();
      this.list.scrollTop = this.list.scrollHeight - height; // keep the reader's place
    } finally { this.loading = false; }
  }

  gone(text) { this.app.notify(text, "info"); this.app.go("#/inbox"); this.app.inbox.refresh(); }

  async act(action) {
    try {
      const conversation = await post(`/v1/conversations/${this.id}/${action}`);
      if (action === "leave") return this.gone("You left the conversation. It stays in your colleagues' inboxes.");
      if (action === "archive") return this.gone("Conversation archived: it is off everyone's inbox until it is used again.");
      if (action === "block") return this.gone("The number is blocked and the conversation was deleted.");
      this.conversation = { ...this.conversation, ...conversation };
      this.render();
      this.app.inbox.refresh();
    } catch (error) { this.app.notify(error.message); }
  }

  confirmBlock() {
    const dialog = document.getElementById("block-dialog");
    const confirm = document.getElementById("block-confirm");
    const cancel = document.getElementById("block-cancel");
    const done = (yes) => { confirm.onclick = cancel.onclick = null; dialog.close(); if (yes) this.act("block"); };
    confirm.onclick = () => done(true);
    cancel.onclick = () => done(false);
    dialog.showModal();
    cancel.focus();
  }

  enlarge(media) {
    const dialog = document.getElementById("image-dialog");
    document.getElementById("image-large").src = media.url;
    document.getElementById("image-large").alt = "Image from the client, enlarged";
    document.getElementById("image-open").href = media.url;
    document.getElementById("image-close").onclick = () => dialog.close();
    dialog.showModal();
  }

  async print() {
    try { await printConversation(this.conversation, this.app.firm, this.app.users); }
    catch (error) { this.app.notify(error.message); }
  }

  render() {
    const c = this.conversation;
    const links = [...(c.contacts || []).map((x) => el("a", { href: `#/contact/${encodeURIComponent(x.id)}` }, x.name)),
                   ...(c.cases || []).map((x) => el("a", { href: `#/case/${encodeURIComponent(x.id)}` }, `Case: ${x.name}`))];
    const button = (label, onclick, extra = {}) => el("button", { type: "button", onclick, ...extra }, label);
    const place = this.list?.isConnected ? this.list.scrollTop : null; // the reader's place survives a re-render
    this.list = el("ol", { class: "messages", "aria-label": "Messages", tabindex: "0",
                           onscroll: () => { if (this.list.scrollTop < 60) this.loadOlder(); } },
      this.older ? el("li", { class: "load-older" }, button("Load older messages", () => this.loadOlder())) : null,
      this.messages.map((m) => messageItem(m, c, this.app.users, (media) => this.enlarge(media))));
    const head = el("div", { class: "thread-head" },
        el("h2", { id: "thread-title" }, conversationTitle(c)),
        el("p", { class: "links" }, phoneForPeople(c.phone), ...links.flatMap((a) => [" · ", a])),
        el("div", { class: "actions", role: "toolbar", "aria-label": "Conversation actions" },
          el("button", { type: "button", class: "bell", onclick: () => this.act(c.muted ? "unmute" : "mute"),
                         "aria-pressed": String(!!c.muted), title: c.muted ? "Notifications are muted" : "Notifications are on" },
            el("img", { src: c.muted ? "bell-off.svg" : "bell.svg", alt: "", width: "16", height: "16" }),
            c.muted ? "Unmute" : "Mute"),
          button("Leave", () => this.act("leave")), button("Archive", () => this.act("archive")),
          button("Print", () => this.print()), button("Block", () => this.confirmBlock(), { class: "danger" })));
    const composer = this.composerFor(c);
    const shown = this.article && this.article.isConnected && this.article.lastChild === composer;
    if (shown) {
      // Swap head and history around the composer: moving a focused textarea in the
      // DOM drops its focus, and a live update must never steal the keyboard from a writer.
      this.article.firstChild.replaceWith(head);
      this.article.children[1].replaceWith(this.list);
      if (place !== null) this.list.scrollTop = place;
    } else {
      this.article = el("article", { class: "thread", "aria-labelledby": "thread-title" }, head, this.list, composer);
      this.pane.replaceChildren(this.article);
    }
  }

  /** The composer is kept across re-renders (focus and typing survive live updates)
   *  and rebuilt only when the conversation changes or its opt-out flips. */
  composerFor(c) {
    const key = `${c.id}:${!!c.opted_out}`;
    if (this.composerKey !== key) { this.composerKey = key; this.composerEl = this.composer(); }
    return this.composerEl;
  }

  composer() {
    const c = this.conversation;
    if (c.opted_out) {
      return el("p", { class: "composer disabled-reason", role: "status" },
        "This number replied STOP and no longer receives texts from the firm. Texting resumes if they reply START.");
    }
    const box = el("textarea", { id: "composer-body", rows: "3", "aria-describedby": "composer-counter sms-only" });
    const counter = el("p", { class: "counter", id: "composer-counter", "aria-live": "polite" });
    const send = el("button", { type: "submit", class: "primary" }, "Send");
    const error = el("p", { class: "notice", role: "alert", hidden: true });
    const update = () => {
      const { characters, segments } = smsSize(box.value);
      counter.textContent = `${characters.toLocaleString()} / ${BODY_LIMIT.toLocaleString()} characters · ` +
        `${segments} SMS segment${segments === 1 ? "" : "s"}`;
      counter.classList.toggle("over", characters > BODY_LIMIT);
      send.disabled = !box.value.trim() || characters > BODY_LIMIT;
    };
    const submit = async () => {
      if (send.disabled) return;
      send.disabled = true;
      try {
        const { message } = await post(`/v1/conversations/${this.id}/messages`, { body: box.value });
        box.value = "";
        error.hidden = true;
        update();
        if (!this.messages.some((m) => m.id === message.id)) this.messages.push(message);
        this.render();
        this.list.scrollTop = this.list.scrollHeight;
        box.focus();
        this.app.inbox.refresh();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
        update();
        if (failure.code === "opted_out" || failure.code === "blocked") this.refresh();
      }
    };
    box.addEventListener("input", update);
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
    });
    update();
    return el("form", { class: "composer", onsubmit: (event) => { event.preventDefault(); submit(); } },
      el("label", { for: "composer-body" }, "Message (Enter sends, Shift+Enter adds a line)"), box,
      el("div", { class: "composer-row" }, counter, send),
      el("p", { class: "sms-only", id: "sms-only" }, "Texting out is SMS only: images cannot be sent to clients."),
      error);
  }
}
