/** How every long-running subcommand (server, proxy, demo, client --listen) learns that it should stop. */

export interface StopSignal {
  /** Resolves with the first Ctrl-C (SIGINT) or SIGTERM. */
  received: Promise<NodeJS.Signals>;
  /** Stops waiting: the handlers go, so a later signal has its default effect again; `received` then never settles. */
  cancel(): void;
}

/** Install it before telling the user how to stop, so a signal sent at once is not lost. */
export function waitForSignal(): StopSignal {
  let cancel!: () => void;
  const received = new Promise<NodeJS.Signals>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      cancel();
      resolve(signal);
    };
    cancel = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return { received, cancel };
}
