// The chat with the person at the other computer: messages both ways on the session's control
// channel (peer to peer, so the relay never sees them), each with its time, and a count of the
// messages that arrived while the panel was closed.

import { field, h, replace } from "./dom";
import { language, t } from "./i18n";

/** The longest message, in bytes of UTF-8, as the protocol allows. */
export const MAX_CHAT = 4096;

/** One message on screen. */
export interface ChatMessage {
  /** Written here (else at the other computer). */
  mine: boolean;
  text: string;
  /** When it was sent or received, unix milliseconds. */
  at: number;
}

/** Why a message cannot be sent, or null if it can. */
export function chatProblem(text: string): "empty" | "tooLong" | null {
  if (text.trim() === "") return "empty";
  return new TextEncoder().encode(text.trim()).length > MAX_CHAT ? "tooLong" : null;
}

/** The chat panel; `received` feeds it, `changed` is told when the unread count changes. */
export class ChatPanel {
  readonly root: HTMLElement;
  private readonly messages: ChatMessage[] = [];
  private draft = "";
  private problem: string | null = null;
  private unreadCount = 0;

  constructor(
    private readonly host: string,
    /** Sends a message; false if the session cannot carry it now. */
    private readonly send: (text: string) => boolean,
    private readonly changed: () => void,
  ) {
    this.root = h("section", { class: "chat card", hidden: true, "aria-labelledby": "chat-title" });
  }

  /** Messages sent and received so far: the count the relay keeps (never their content). */
  get count(): number {
    return this.messages.length;
  }

  /** Messages from the other computer not yet seen. */
  get unread(): number {
    return this.unreadCount;
  }

  get open(): boolean {
    return !this.root.hidden;
  }

  /** Opens or closes the panel; opening marks everything read. */
  toggle(open = !this.open): void {
    this.root.hidden = !open;
    if (open) {
      this.unreadCount = 0;
      this.render();
      this.root.querySelector("input")?.focus();
    }
    this.changed();
  }

  /** A message from the other computer. */
  received(text: string): void {
    this.messages.push({ mine: false, text, at: Date.now() });
    if (this.open) this.render();
    else this.unreadCount++;
    this.changed();
  }

  /** Re-renders every label. */
  render(): void {
    const lang = language();
    const time = (ms: number): string => new Date(ms).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    const log = h(
      "ol",
      { class: "chat-log", "aria-live": "polite", "aria-label": t("chat.log") },
      ...this.messages.map((m) =>
        h(
          "li",
          { class: m.mine ? "mine" : "theirs" },
          h("span", { class: "who" }, m.mine ? t("chat.you") : this.host),
          " ",
          h("time", { datetime: new Date(m.at).toISOString() }, time(m.at)),
          h("p", {}, m.text),
        ),
      ),
    );
    if (this.messages.length === 0) log.append(h("li", { class: "hint" }, t("chat.empty")));
    const input = h("input", { type: "text", autocomplete: "off", value: this.draft });
    input.addEventListener("input", () => (this.draft = input.value));
    const note = h("p", { class: "error", role: "alert" }, this.problem ?? "");
    note.hidden = this.problem === null;
    const form = h(
      "form",
      { class: "chat-form" },
      field(t("chat.message"), input),
      h("button", { type: "submit", class: "primary" }, t("chat.send")),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const problem = chatProblem(input.value);
      if (problem === "empty") return;
      if (problem === "tooLong") this.problem = t("chat.tooLong", { max: MAX_CHAT });
      else if (!this.send(input.value.trim())) this.problem = t("chat.notSent");
      else {
        this.messages.push({ mine: true, text: input.value.trim(), at: Date.now() });
        this.draft = "";
        this.problem = null;
      }
      this.render();
      this.root.querySelector("input")?.focus();
    });
    const close = h("button", { type: "button" }, t("chat.close"));
    close.addEventListener("click", () => this.toggle(false));
    replace(this.root, h("h2", { id: "chat-title" }, t("chat.title", { host: this.host })), log, form, note, close);
    log.scrollTop = log.scrollHeight;
  }
}
