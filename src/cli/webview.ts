/** The web view as `web`, `proxy --web` and `demo` start it: an event store, its page on 127.0.0.1, and the line with its address. */
import type { Sniffer } from '../proxy/sniffer.js';
import type { TapEvent } from '../tap/events.js';
import { startWebView, WebViewStartError, type WebView } from '../web/server.js';
import { EventStore } from '../web/store.js';
import { CliError, EXIT, listenErrorReason } from './errors.js';
import { parsePort } from './options.js';
import { color } from './output.js';

/** `--web [PORT]` or `--port N` of the page: a port, 0 (the default) for a free one. */
export function parseWebPort(value: string | boolean | undefined, option: string): number {
  return value === undefined || value === true ? 0 : parsePort(String(value), option);
}

/** Serves `store`; a port that cannot be listened on is a one-line error (exit code 1). */
export async function serveStore(store: EventStore, title: string, port: number, option: string): Promise<WebView> {
  try {
    return await startWebView({ store, title, port });
  } catch (e) {
    if (!(e instanceof WebViewStartError)) throw e;
    throw new CliError(`web view: cannot listen on ${e.target}: ${listenErrorReason(e.cause, `pick another with ${option}`)}`, EXIT.FAILURE);
  }
}

/** `web view http://127.0.0.1:PORT/TOKEN/`, for banners. */
export function webViewLine(view: WebView, label = 'web view'): string {
  return `${label} ${color.bold.underline(view.url)}`;
}

/** A running sniffer's web view: its store gets every event from the sniffer's start, its page comes up once the sniffer runs. */
export class LiveWebView {
  readonly store: EventStore;
  private readonly port: number;
  view?: WebView;

  /** `flag`: the option's value (`--web [PORT]`), checked at once. */
  constructor(flag: string | boolean, readonly option: string, showSecrets?: boolean) {
    this.port = parseWebPort(flag, option);
    this.store = new EventStore({ showSecrets, status: 'live' });
  }

  readonly onEvent = (ev: TapEvent): void => void this.store.add(ev);

  /** Starts the page; when its port cannot be had, stops the sniffer and throws the one-line error. */
  async serve(sniffer: Sniffer): Promise<WebView> {
    try {
      this.view = await serveStore(this.store, `proxy on ${sniffer.listening}`, this.port, this.option);
      return this.view;
    } catch (e) {
      await sniffer.stop();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.view?.close();
  }
}
