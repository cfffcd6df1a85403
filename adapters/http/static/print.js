// Print the whole conversation: every page of messages is loaded first (the seed's
// print covers only what was scrolled into view; ours never leaves a part out).
import { get } from "./api.js";
import { el, phoneForPeople } from "./format.js";
import { conversationTitle } from "./inbox.js";
import { messageItem } from "./messages.js";

export async function allMessages(conversationId) {
  const pages = [];
  let before = null;
  do {
    const page = await get(`/v1/conversations/${conversationId}/messages`, before ? { limit: 200, before } : { limit: 200 });
    pages.unshift(page.messages);
    before = page.next_cursor;
  } while (before);
  return pages.flat();
}

export async function printConversation(conversation, firm, users) {
  const view = document.getElementById("print-view");
  const messages = await allMessages(conversation.id);
  view.replaceChildren(
    el("h1", {}, `${firm.name}: text messages with ${conversationTitle(conversation)}`),
    el("p", {}, `Number ${phoneForPeople(conversation.phone)} · ${messages.length} messages`),
    el("ol", { class: "messages" }, messages.map((m) => messageItem(m, conversation, users, null))));
  // Wait for the images, or the printout would show empty boxes.
  await Promise.all([...view.querySelectorAll("img")].map((img) => { img.loading = "eager"; return img.decode().catch(() => {}); }));
  window.print();
  return messages.length;
}
