// Prometheus metrics of the embedded registry: requests by route and status, latency, bytes in and
// out, and open upload sessions, on a registry of its own (never prom-client's global one).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The registry's metrics; `observe` is called once per finished response. */
export class RegistryMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #duration: Histogram<'route' | 'method'>;
  readonly #bytesIn: Counter;
  readonly #bytesOut: Counter;
  readonly #seenRead = new WeakMap<Socket, number>();
  readonly #seenWritten = new WeakMap<Socket, number>();

  /** `uploadSessions` is asked for the number of open upload sessions when metrics are scraped. */
  constructor(uploadSessions: () => Promise<number>) {
    this.#requests = new Counter({ name: 'sigil_registry_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
    this.#duration = new Histogram({
      name: 'sigil_registry_http_request_duration_seconds',
      help: 'HTTP request duration by route and method',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    this.#bytesIn = new Counter({ name: 'sigil_registry_received_bytes_total', help: 'Bytes received, headers included', registers: [this.registry] });
    this.#bytesOut = new Counter({ name: 'sigil_registry_sent_bytes_total', help: 'Bytes sent, headers included', registers: [this.registry] });
    new Gauge({
      name: 'sigil_registry_upload_sessions',
      help: 'Open blob upload sessions',
      registers: [this.registry],
      async collect() {
        this.set(await uploadSessions());
      },
    });
  }

  /** Records one finished exchange; bytes are the socket's since its previous exchange (keep-alive safe). */
  observe(req: IncomingMessage, res: ServerResponse, route: string, seconds: number): void {
    const method = req.method ?? 'GET';
    this.#requests.inc({ route, method, status: String(res.statusCode) });
    this.#duration.observe({ route, method }, seconds);
    const socket = req.socket;
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    this.#bytesIn.inc(Math.max(0, read - (this.#seenRead.get(socket) ?? 0)));
    this.#bytesOut.inc(Math.max(0, written - (this.#seenWritten.get(socket) ?? 0)));
    this.#seenRead.set(socket, read);
    this.#seenWritten.set(socket, written);
  }
}
