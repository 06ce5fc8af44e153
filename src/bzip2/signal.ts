// A wake-up call between the asynchronous parts of the streaming decoder (input arrived, a worker
// answered, the reader wants more): wait() resolves at the next notify().

export class Signal {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
