// A copy of the session's screen kept by the supporter's browser (MediaRecorder on the stream
// it already plays, no second encode at the computer), offered while the session is being
// recorded (the person at the computer has been told), and saved as WebM when it stops: by
// the supporter, when the recording stops, when the session ends, or past MAX_BYTES.

/** The most a copy holds in the page's memory before it is saved and stopped. */
export const MAX_BYTES = 1024 * 1024 * 1024;

/** A copy being made. */
export class LocalCopy {
  private readonly rec: MediaRecorder;
  private readonly chunks: Blob[] = [];
  private bytes = 0;

  /** Whether this browser can make one. */
  static supported(): boolean {
    return typeof MediaRecorder !== "undefined";
  }

  /** Starts copying `stream`; `name` is the file it is saved as; `stopped` is told once it is
   * saved, with whether it stopped because it was full. */
  constructor(
    stream: MediaStream,
    private readonly name: string,
    stopped: (full: boolean) => void,
  ) {
    const type = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"].find((t) => MediaRecorder.isTypeSupported(t));
    this.rec = new MediaRecorder(stream, type ? { mimeType: type } : {});
    let full = false;
    this.rec.addEventListener("dataavailable", (ev) => {
      if (ev.data.size === 0) return;
      this.chunks.push(ev.data);
      this.bytes += ev.data.size;
      if (this.bytes >= MAX_BYTES && !full) {
        full = true;
        this.stop();
      }
    });
    this.rec.addEventListener("stop", () => {
      this.save();
      stopped(full);
    });
    this.rec.start(1000);
  }

  /** Stops the copy; it is saved when the browser hands over its last piece. */
  stop(): void {
    if (this.rec.state !== "inactive") this.rec.stop();
  }

  private save(): void {
    if (this.chunks.length === 0) return;
    const blob = new Blob(this.chunks, { type: this.chunks[0].type || "video/webm" });
    this.chunks.length = 0;
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = this.name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    // The download holds its own reference by then.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}
