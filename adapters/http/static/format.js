// Formatting for people: phone numbers, times in the firm's zone, SMS segments.

/** +15551230001 → (555) 123-0001; other countries keep their E.164 form. */
export function phoneForPeople(e164) {
  const us = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164 || "");
  return us ? `(${us[1]}) ${us[2]}-${us[3]}` : (e164 || "");
}

let zone = "UTC";
export function useTimeZone(value) { zone = value || "UTC"; }

/** A time in the firm's time zone, e.g. "Dec 1, 3:04 PM EST". */
export function timeForPeople(iso) {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone, month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short",
  }).format(new Date(iso));
}

export const BODY_LIMIT = 1600;
// The GSM 03.38 alphabet: texts in it use 160 characters a segment (153 when split);
// anything else is sent as UCS-2, 70 a segment (67 when split).
const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** {characters, segments} of a body as the carrier will count them. */
export function smsSize(body) {
  const characters = [...body].length;
  if (!body) return { characters: 0, segments: 0 };
  let septets = 0, gsm = true;
  for (const ch of body) {
    if (GSM.includes(ch)) septets += 1;
    else if (GSM_EXTENDED.includes(ch)) septets += 2;
    else { gsm = false; break; }
  }
  if (gsm) return { characters, segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  const units = body.length; // UTF-16 code units, as UCS-2 counts them
  return { characters, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/** An element with text content only: message bodies are never parsed as markup. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}
