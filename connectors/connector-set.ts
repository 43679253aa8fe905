// The connectors a process runs, each supervised, changed in place when the connectors file changes: new entries start, removed ones stop, the rest keep running.
import type { KV } from '@nats-io/kv';
import type { Logger } from '../lib/log.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { openConnectorBucket, type Connector, type ConnectorStatus, type RunningConnector } from './connector.ts';
import { superviseConnector, type SupervisorOptions } from './supervisor.ts';

/** A connector with the identity of the configuration it came from: the same key in the next file means unchanged. */
export interface ConfiguredConnector {
  readonly key: string;
  readonly connector: Connector;
}

export interface AppliedChange {
  readonly started: readonly string[];
  readonly stopped: readonly string[];
  readonly kept: number;
}

export class ConnectorSet {
  private readonly running = new Map<string, RunningConnector>();
  private applying: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly nats: NatsHandle,
    private readonly kv: KV,
    private readonly logger: Logger,
    private readonly options: Omit<SupervisorOptions, 'name'>,
  ) {}

  static async open(nats: NatsHandle, logger: Logger, options: Omit<SupervisorOptions, 'name'> = {}): Promise<ConnectorSet> {
    return new ConnectorSet(nats, await openConnectorBucket(nats), logger, options);
  }

  /**
   * Makes the running set match `configured`: stops (and waits for) the connectors whose key is gone, then starts the
   * new ones under supervisors. Calls run one after another. A second entry of a kind is named `rss-2` and so on; a
   * running connector keeps its name.
   */
  apply(configured: readonly ConfiguredConnector[]): Promise<AppliedChange> {
    const next = this.applying.then(() => this.applyNow(configured));
    this.applying = next.catch(() => undefined);
    return next;
  }

  private async applyNow(configured: readonly ConfiguredConnector[]): Promise<AppliedChange> {
    const wanted = new Set(configured.map((c) => c.key));
    const gone = [...this.running].filter(([key]) => !wanted.has(key));
    await Promise.all(gone.map(([, r]) => r.stop()));
    for (const [key] of gone) this.running.delete(key);
    const started: string[] = [];
    for (const { key, connector } of configured) {
      if (this.running.has(key)) continue;
      const name = this.freeName(connector.name);
      this.running.set(key, superviseConnector(connector, { nats: this.nats, kv: this.kv, logger: this.logger.child(`connector-${name}`) }, { ...this.options, name }));
      started.push(name);
    }
    return { started, stopped: gone.map(([, r]) => r.name), kept: this.running.size - started.length };
  }

  private freeName(base: string): string {
    const taken = new Set([...this.running.values()].map((r) => r.name));
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}-${n}`;
      if (!taken.has(name)) return name;
    }
  }

  status(): ConnectorStatus[] {
    return [...this.running.values()].map((r) => r.status());
  }

  async stop(): Promise<void> {
    await this.applying;
    await Promise.all([...this.running.values()].map((r) => r.stop()));
    this.running.clear();
  }
}
