// Desktop notifications: the browser's Notification API, fed by the notification stream.
import { listen } from "./api.js";

/** Ask the browser once, when the user first enables desktop notifications. */
export async function askPermission() {
  if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission();
}

/** A sentence about the browser's permission, or "" when all is well. */
export function permissionNote() {
  if (!("Notification" in window)) return "This browser cannot show desktop notifications.";
  if (Notification.permission === "denied") {
    return "Your browser blocks notifications from this site. Allow them in the browser's site settings " +
           "(the icon left of the address), then reload this page.";
  }
  if (Notification.permission === "default") return "Your browser will ask for permission when you enable them.";
  return "";
}

/** Show the stream's notifications while `signal` lives; a click opens the conversation. */
export function showDesktopNotifications(signal, describe, go) {
  listen("/v1/notifications/stream", (event, item) => {
    if (event !== "notification" || Notification.permission !== "granted" || !item.preview) return;
    const shown = new Notification(describe(item), { body: item.preview.body || "", tag: item.id });
    shown.onclick = () => { window.focus(); go(`#/c/${item.conversation_id}`); shown.close(); };
  }, signal);
}
