/* Telling an operator something happened while the console tab is in the background: a
 * desktop notification (Notification API) and a short sound, each of which the operator
 * can turn off (kept in this browser, per operator). Permission is asked when the operator
 * turns desktop notifications on, or on their first click, never on load (browsers
 * ignore or penalise unprompted requests); the sound is made with Web Audio, which a
 * browser lets start only after a user gesture, so it is unlocked on the first one.
 */
import { t, $ } from "./page.js";
import { parseDate } from "./dates.js";

const DEFAULTS = { sound: true, desktop: true };

export class Notifier {
  constructor(operator) {
    this.key = "fd-notify:" + (operator ? operator.id : "");
    this.prefs = { ...DEFAULTS };
    try { Object.assign(this.prefs, JSON.parse(localStorage.getItem(this.key) || "{}")); } catch (e) { /* defaults */ }
    this.audio = null;
  }

  start() {
    const sound = $("fd-notify-sound");
    const desktop = $("fd-notify-desktop");
    if (sound) {
      sound.checked = !!this.prefs.sound;
      sound.addEventListener("change", () => { this.save({ sound: sound.checked }); if (sound.checked) this.beep(); });
    }
    if (desktop) {
      desktop.checked = !!this.prefs.desktop;
      desktop.addEventListener("change", () => {
        this.save({ desktop: desktop.checked });
        if (desktop.checked) this.askPermission();
        this.showPermission();
      });
    }
    this.showPermission();
    const unlock = () => {
      this.unlockAudio();
      if (this.prefs.desktop) this.askPermission();
    };
    document.addEventListener("click", unlock, { once: true });
    document.addEventListener("keydown", () => this.unlockAudio(), { once: true });
  }

  save(change) {
    Object.assign(this.prefs, change);
    try { localStorage.setItem(this.key, JSON.stringify(this.prefs)); } catch (e) { /* this page only */ }
  }

  askPermission() {
    if (!("Notification" in window) || Notification.permission !== "default") return;
    try {
      const asked = Notification.requestPermission();
      if (asked && asked.then) asked.then(() => this.showPermission());
    } catch (e) { /* old Safari: callback form */ }
  }

  // Say so when the browser blocks what the operator turned on.
  showPermission() {
    const note = $("fd-notify-blocked");
    if (!note) return;
    const blocked = this.prefs.desktop && (!("Notification" in window) || Notification.permission === "denied");
    note.hidden = !blocked;
  }

  unlockAudio() {
    if (this.audio || !(window.AudioContext || window.webkitAudioContext)) return;
    try { this.audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { this.audio = null; }
  }

  // Two short soft tones: noticeable, not alarming.
  beep() {
    if (!this.audio) return;
    try {
      if (this.audio.state === "suspended") this.audio.resume();
      const now = this.audio.currentTime;
      [[660, 0], [880, 0.16]].forEach(([freq, at]) => {
        const osc = this.audio.createOscillator();
        const gain = this.audio.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, now + at);
        gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.14);
        osc.connect(gain).connect(this.audio.destination);
        osc.start(now + at);
        osc.stop(now + at + 0.15);
      });
    } catch (e) { /* no sound this time */ }
  }

  // Something new while the tab is in the background; onClick opens it.
  alert(title, body, at, tag, onClick) {
    if (document.visibilityState !== "hidden") return;
    const when = parseDate(at);
    if (when && Date.now() - when.getTime() > 120000) return;   // an old event in a replay
    if (this.prefs.sound) this.beep();
    if (!this.prefs.desktop || !("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const n = new Notification(title, { body: String(body || "").slice(0, 140), tag });
      n.onclick = () => { window.focus(); onClick(); n.close(); };
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }
}

export function notificationTitle(kind, name) {
  return t(kind === "new" ? "notify.new_conversation" : "notify.title", { name });
}
