// Test helper: a TCP proxy in front of nats-server that can drop chosen server-to-client messages (a server that forgets).
import net from 'node:net';

export interface NatsProxy {
  /** nats://127.0.0.1:PORT of the proxy. */
  readonly url: string;
  /**
   * Drops the next "408 Request Timeout" the server sends (an expired pull request) and resolves when it has: the
   * client goes on counting the request's messages as asked for, as it does when nats-server before 2.9.16 forgets an
   * expired request without a word.
   */
  dropNextRequestTimeout(): Promise<void>;
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');

/** Splits the server's byte stream into whole protocol frames (a control line, or MSG/HMSG with its payload). */
function frameLength(buffer: Buffer): number | undefined {
  const lineEnd = buffer.indexOf(CRLF);
  if (lineEnd < 0) return undefined;
  const line = buffer.subarray(0, lineEnd).toString('latin1');
  const [op = '', ...args] = line.split(' ').filter((part) => part.length > 0);
  let payload = -1;
  if (op.toUpperCase() === 'MSG') payload = Number(args.at(-1));
  if (op.toUpperCase() === 'HMSG') payload = Number(args.at(-1));
  const length = payload < 0 ? lineEnd + 2 : lineEnd + 2 + payload + 2;
  return buffer.length >= length ? length : undefined;
}

export async function startNatsProxy(serverUrl: string): Promise<NatsProxy> {
  const target = new URL(serverUrl.replace(/^nats:/, 'http:'));
  const sockets = new Set<net.Socket>();
  let dropArmed: (() => void) | undefined;

  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let pending: Buffer = Buffer.alloc(0);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      for (let length = frameLength(pending); length !== undefined; length = frameLength(pending)) {
        const frame = pending.subarray(0, length);
        pending = pending.subarray(length);
        if (dropArmed && frame.subarray(0, 5).toString('latin1') === 'HMSG ' && frame.includes('408 Request Timeout')) {
          const dropped = dropArmed;
          dropArmed = undefined;
          dropped();
          continue;
        }
        out.push(frame);
      }
      if (out.length > 0) client.write(Buffer.concat(out));
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `nats://127.0.0.1:${port}`,
    dropNextRequestTimeout: () => new Promise<void>((resolve) => (dropArmed = resolve)),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
