// Log lines (text and JSON, bound fields), URL redaction and W3C traceparent parsing.
import { describe, expect, it } from 'vitest';
import { childTrace, createLogger, formatTraceparent, parseTraceparent, redactUrl, routeProcessWarnings, traceIdOf } from './log.ts';

describe('redactUrl', () => {
  it('drops user:password@ from URLs, lists of URLs included', () => {
    expect(redactUrl('nats://user:pa%40ss@nats.example:4222')).toBe('nats://nats.example:4222');
    expect(redactUrl('nats://token@10.0.0.1:4222,nats://a:b@10.0.0.2:4222')).toBe('nats://10.0.0.1:4222,nats://10.0.0.2:4222');
    expect(redactUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
    expect(redactUrl('127.0.0.1:4222')).toBe('127.0.0.1:4222');
  });
});

describe('traceparent', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  it('parses the W3C format and refuses malformed or all-zero ids', () => {
    expect(parseTraceparent(valid)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: '01' });
    expect(traceIdOf(valid)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    for (const bad of [
      undefined,
      '',
      'garbage',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      `${valid}-extra`,
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01',
      `${valid}\r\nset-cookie: x`,
      'x'.repeat(10_000),
    ]) {
      expect(parseTraceparent(bad), String(bad).slice(0, 40)).toBeUndefined();
    }
    // A later version may append fields; its first four are still read.
    expect(parseTraceparent(`01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future`)?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('continues a trace with a new span, or starts one', () => {
    const child = childTrace(parseTraceparent(valid));
    expect(child.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(child.spanId).not.toBe('00f067aa0ba902b7');
    expect(formatTraceparent(childTrace(undefined))).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});

describe('routeProcessWarnings', () => {
  it("logs the process's warnings as the node's own lines (one JSON object each), not Node's raw stderr lines", async () => {
    const saved = process.listeners('warning');
    const lines: string[] = [];
    try {
      routeProcessWarnings(createLogger('spanda', 'info', (l) => lines.push(l), { format: 'json' }));
      process.emitWarning('the WAL checkpointer of a.sqlite stopped');
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: 'warn', component: 'spanda', message: 'the WAL checkpointer of a.sqlite stopped' })]);
    } finally {
      process.removeAllListeners('warning');
      for (const listener of saved) process.on('warning', listener);
    }
  });
});

describe('createLogger', () => {
  it('writes one JSON object per line with bound fields such as trace_id', () => {
    const lines: string[] = [];
    const log = createLogger('api', 'info', (l) => lines.push(l), { format: 'json' }).with({ trace_id: 'abc' });
    log.child('auth').warn('refused', { status: 401, error: new Error('bad key') });
    log.debug('hidden');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'warn', component: 'api/auth', message: 'refused', trace_id: 'abc', status: 401, error: 'bad key' });
  });

  it('takes SPANDA_LOG_FORMAT when created, and its request and component loggers keep that format', () => {
    const lines: string[] = [];
    const before = process.env.SPANDA_LOG_FORMAT;
    process.env.SPANDA_LOG_FORMAT = 'json';
    try {
      const root = createLogger('node', 'info', (l) => lines.push(l));
      process.env.SPANDA_LOG_FORMAT = 'text';
      root.with({ trace_id: 't1' }).child('api').info('served', { status: 200 });
      createLogger('other', 'info', (l) => lines.push(l)).info('plain');
    } finally {
      if (before === undefined) delete process.env.SPANDA_LOG_FORMAT;
      else process.env.SPANDA_LOG_FORMAT = before;
    }
    expect(JSON.parse(lines[0] as string)).toMatchObject({ component: 'node/api', message: 'served', trace_id: 't1', status: 200 });
    expect(lines[1]).toMatch(/ info  other: plain\n$/);
  });
});
