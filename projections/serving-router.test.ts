// GenerationRouter and a damaged store: a call that finds it damaged gets a 503 and queues one rebuild; damaged again soon after, it is left to the operator.
import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../lib/errors.ts';
import { silentLogger } from '../lib/log.ts';
import { eventually } from '../test/helpers/eventually.ts';
import type { GenerationRecord, Generations } from './generations.ts';
import { GenerationRouter, type GenerationOpener, type Served } from './serving.ts';

const record = { id: 'g1', spec: { role: 'inference', model: { id: 'hash-256', dims: 256 }, store: { kind: 'sqlite' } } } as unknown as GenerationRecord;

/** The parts of Generations a router reads, for one generation that stays active. */
const generations = {
  alias: async () => ({ alias: { generation: 'g1', switchedAt: '2026-12-05T00:00:00Z' }, revision: 1 }),
  get: async (_role: string, id: string) => (id === 'g1' ? record : undefined),
  watchAlias: async () => () => undefined,
} as unknown as Generations;

function damaged(): Error {
  return Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' });
}

describe('GenerationRouter with a damaged store', () => {
  it('answers 503 and reopens the generation over a new file once; damaged again soon after, it says to check the disk instead', async () => {
    const opened: string[] = [];
    let served = 0;
    const opener: GenerationOpener<Served & { n: number }> = {
      open: async (r) => (opened.push(`open ${r.id}`), { id: r.id, n: ++served }),
      close: async (s) => void opened.push(`close ${s.n}`),
      reopenDamaged: async (r, cause) => (opened.push(`reopen ${r.id} after ${(cause as Error).message}`), { id: r.id, n: ++served }),
    };
    const router = new GenerationRouter({ generations, logger: silentLogger }, 'inference', opener);
    await router.start({ spec: record.spec, vectorWeight: 0.5 });
    expect(router.current().n).toBe(1);

    // Errors that are not about the file pass through untouched.
    await expect(router.use(async () => Promise.reject(new RangeError('bad input')))).rejects.toThrow(RangeError);

    const first = router.use(async () => Promise.reject(damaged()));
    await expect(first).rejects.toThrow(UnavailableError);
    await expect(first).rejects.toThrow(/generation g1 is damaged \(database disk image is malformed\); it is set aside and built again from the log: retry shortly/);
    await eventually(() => opened.length === 3);
    expect(opened).toEqual(['open g1', 'close 1', 'reopen g1 after database disk image is malformed']);
    expect(router.current().n).toBe(2);
    expect(await router.use(async (g) => g.n)).toBe(2);

    // The new file damaged too within minutes: no second rebuild (each would leave another copy aside).
    await expect(router.use(async () => Promise.reject(damaged()))).rejects.toThrow(/restart the process that writes it \(after checking its disk\)/);
    await new Promise((r) => setTimeout(r, 50));
    expect(opened).toHaveLength(3);
    expect(router.current().n).toBe(2);
    await router.stop();
    expect(opened.at(-1)).toBe('close 2');
  });

  it('says a generation is being rebuilt while it reopens, and leaves a reader (no reopenDamaged) to the writer', async () => {
    let release: (() => void) | undefined;
    const opener: GenerationOpener<Served> = {
      open: async (r) => ({ id: r.id }),
      close: async () => undefined,
      reopenDamaged: (r) => new Promise((resolve) => (release = () => resolve({ id: r.id }))),
    };
    const router = new GenerationRouter({ generations, logger: silentLogger }, 'inference', opener);
    await router.start({ spec: record.spec, vectorWeight: 0.5 });
    await expect(router.use(async () => Promise.reject(damaged()))).rejects.toThrow(/set aside and built again/);
    await eventually(() => release !== undefined);
    expect(() => router.current()).toThrow(/the store of inference generation g1 was damaged and is being set aside to be built again from the log; retry shortly/);
    await expect(router.use(async () => 1)).rejects.toThrow(/being set aside to be built again/);
    release?.();
    await eventually(() => {
      try {
        return router.current().id === 'g1';
      } catch {
        return false;
      }
    });
    await router.stop();

    const reader = new GenerationRouter({ generations, logger: silentLogger }, 'inference', { open: async (r) => ({ id: r.id }), close: async () => undefined });
    await reader.start({ spec: record.spec, vectorWeight: 0.5 });
    await expect(reader.use(async () => Promise.reject(damaged()))).rejects.toThrow(/restart the process that writes it/);
    expect(reader.current().id).toBe('g1');
    await reader.stop();
  });
});
