// One message as people read it: sender, time in the firm's zone, delivery status, images.
import { el, phoneForPeople, timeForPeople } from "./format.js";
import { conversationTitle } from "./inbox.js";

const STATUS = { accepted: "queued", scheduled: "queued", queued: "queued", sending: "queued", sent: "sent",
                 delivered: "delivered", read: "delivered", failed: "failed", undelivered: "failed",
                 canceled: "failed" };
// Twilio's error codes people meet most, in words; others show their number.
const REASONS = { 30003: "the phone is unreachable", 30004: "the message was blocked", 30005: "unknown number",
                  30006: "a landline or unreachable carrier", 30007: "filtered by the carrier as spam",
                  30008: "unknown error at the carrier", 21610: "the number replied STOP" };

export function senderName(message, conversation, users) {
  if (message.direction === "inbound") return conversationTitle(conversation) || phoneForPeople(conversation.phone);
  if (message.sender_user_id === "system") return "Automatic reply";
  return users.get(message.sender_user_id) || message.sender_user_id || "Firm";
}

export function statusText(message) {
  const status = STATUS[message.status] || message.status;
  if (status !== "failed") return status;
  const code = message.error_code;
  return code ? `failed: ${REASONS[code] || "carrier error " + code}` : "failed";
}

/** The message element; `onImage(media)` enlarges a thumbnail. */
export function messageItem(message, conversation, users, onImage) {
  const images = (message.media || []).filter((m) => m.url);
  return el("li", { class: `message ${message.direction}`, "data-id": message.id },
    el("p", { class: "meta" },
      el("span", { class: "sender" }, senderName(message, conversation, users)),
      el("time", { datetime: message.created_at }, timeForPeople(message.created_at)),
      message.direction === "outbound"
        ? el("span", { class: `status status-${STATUS[message.status] || message.status}` }, statusText(message))
        : null),
    message.body ? el("p", { class: "body" }, message.body) : null,
    images.length ? el("div", { class: "thumbs" }, images.map((media, n) =>
      el("button", { type: "button", class: "thumb", onclick: () => onImage && onImage(media),
                     "aria-label": `Enlarge image ${n + 1} of ${images.length}` },
        el("img", { src: media.url, alt: `Image ${n + 1} from the client`, loading: "lazy" })))) : null,
    (message.rejected_media || []).length
      ? el("p", { class: "meta" }, `${message.rejected_media.length} attachment(s) could not be kept`) : null);
}
