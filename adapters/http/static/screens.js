// The smaller screens: Compose, a contact's or case's conversations, My Notifications.
import { get, post, call } from "./api.js";
import { el, phoneForPeople } from "./format.js";
import { conversationRow } from "./inbox.js";
import { askPermission, permissionNote } from "./desktop.js";

/** Compose: search contacts by name or phone, or type a new number; opens its thread. */
export function composeScreen(pane, app) {
  const input = el("input", { id: "compose-search", type: "search", autocomplete: "off",
                              placeholder: "Name or phone number", "aria-describedby": "compose-help" });
  const results = el("ul", { class: "results", "aria-label": "Matching contacts", "aria-live": "polite" });
  const open = async (body) => {
    try { app.go(`#/c/${(await post("/v1/conversations", body)).id}`); } catch (error) { app.notify(error.message); }
  };
  let timer = null, asked = 0;
  const search = async () => {
    const q = input.value.trim(), ticket = ++asked;
    const found = q ? (await get("/v1/contacts", { q, limit: 20 })).contacts : [];
    if (ticket !== asked) return; // a newer search is on its way
    const rows = found.flatMap((contact) => contact.phones.map((phone) => el("li", {},
      el("button", { type: "button", onclick: () => open({ contact_id: contact.id, phone }) },
        `${contact.name} (${contact.kind}) · ${phoneForPeople(phone)}`))));
    if (q.replace(/\D/g, "").length >= 7) {
      rows.push(el("li", {}, el("button", { type: "button", onclick: () => open({ phone: q }) }, `Text ${q}`)));
    }
    results.replaceChildren(...rows);
    if (q && !rows.length) results.append(el("li", { class: "empty" }, "No contact matches. Type a full phone number to text it."));
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search().catch((e) => app.notify(e.message)), 200); });
  pane.replaceChildren(el("section", { class: "search", "aria-labelledby": "compose-title" },
    el("h2", { id: "compose-title" }, "Compose SMS message"),
    el("label", { for: "compose-search" }, "Search for a client or lead, or type a new phone number"), input,
    el("p", { class: "sms-only", id: "compose-help" }, "Texting out is SMS only: images cannot be sent to clients."),
    results));
  input.focus();
}

/** A contact's or a case's page: the conversations linked to it. */
export async function linkedScreen(pane, app, kind, id) {
  const path = kind === "contact" ? `/v1/contacts/${encodeURIComponent(id)}/conversations`
                                  : `/v1/cases/${encodeURIComponent(id)}/conversations`;
  const { conversations } = await get(path);
  const key = kind === "contact" ? "contacts" : "cases";
  const name = conversations.flatMap((c) => c[key]).find((x) => x.id === id)?.name || id;
  pane.replaceChildren(el("section", { "aria-labelledby": "linked-title" },
    el("h2", { id: "linked-title" }, `${kind === "contact" ? "Contact" : "Case"}: ${name}`),
    el("h3", {}, "Text messages"),
    conversations.length ? el("ul", { class: "conversations" }, conversations.map((c) => conversationRow(c)))
                         : el("p", { class: "empty" }, "No text conversations are linked yet.")));
}

const CHOICES = [["none", "None"], ["clients", "Texts from clients and leads"],
                 ["firm", "Texts sent by other firm members"], ["both", "Both"]];

/** My Notifications: the signed-in user's own email and desktop preferences. */
export function settingsScreen(pane, app) {
  const note = el("p", { class: "notice info", role: "status", hidden: true });
  const select = (channel) => {
    const node = el("select", { id: `notify-${channel}` },
      CHOICES.map(([value, label]) => el("option", { value, selected: app.me.notify[channel] === value }, label)));
    node.addEventListener("change", async () => {
      try {
        if (channel === "desktop" && node.value !== "none") await askPermission();
        app.me = await call("PUT", "/v1/me", { notify: { [channel]: node.value } });
        app.onPreferences();
        const blocked = channel === "desktop" && node.value !== "none" ? permissionNote() : "";
        note.textContent = blocked || "Saved. It applies from the next text.";
        note.hidden = false;
      } catch (error) { app.notify(error.message); node.value = app.me.notify[channel]; }
    });
    return node;
  };
  pane.replaceChildren(el("section", { class: "settings", "aria-labelledby": "settings-title" },
    el("h2", { id: "settings-title" }, "My Notifications"),
    el("p", {}, "Choose which text messages notify you. \u201cClients\u201d are texts from clients and leads in " +
                "conversations you take part in; \u201cfirm\u201d are texts your colleagues send in them."),
    el("label", { for: "notify-email" }, "Email notifications"), select("email"),
    el("label", { for: "notify-desktop" }, "Desktop notifications"), select("desktop"),
    el("p", { id: "desktop-permission" }, permissionNote()), note));
}
