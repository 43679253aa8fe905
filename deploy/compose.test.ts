// Deployment files checked without a Docker engine: compose services/profiles/healthchecks/ports/env, a Dockerfile lint, nats.conf, the k8s YAML.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { findBinary } from '../test/helpers/binaries.ts';
import { connectorsFileSchema } from '../connectors/registry.ts';

/** Whether a version tag such as 1.32.9 is at least major.minor. */
const atLeast = (tag: string, [major, minor]: [number, number]) => {
  const [a = 0, b = 0] = tag.split('.').map(Number);
  return a > major || (a === major && b >= minor);
};

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  profiles?: string[];
  healthcheck?: { test: string[] };
  depends_on?: string[] | Record<string, { condition: string }>;
  container_name?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const loadCompose = async () => parse(await readFile('docker-compose.yml', 'utf8'), { merge: true }) as Compose;

/** Every environment variable lib/config.ts reads (Config.x('NAME'), Config.literal(…)('NAME')), so deployments set only keys that exist. */
async function configKeys(): Promise<Set<string>> {
  const text = await readFile('lib/config.ts', 'utf8');
  return new Set([...text.matchAll(/\(\s*'([A-Z][A-Z0-9_]+)'\s*\)/g)].map((m) => m[1] as string));
}

const dependsOn = (s: Service) => (Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, { condition: 'service_started' }])) : (s.depends_on ?? {}));

describe('docker-compose.yml', () => {
  it('has the pipeline services, and the qdrant profile', async () => {
    const { services } = await loadCompose();
    for (const name of ['nats', 'weaviate-indexing', 'weaviate-inference', 'spanda-processors', 'spanda-api', 'prometheus', 'grafana']) {
      expect(services[name], name).toBeDefined();
      expect(services[name]?.profiles, `${name} runs by default`).toBeUndefined();
    }
    expect(services.qdrant?.profiles).toEqual(['qdrant']);
    // Services of the cdc profile (postgres, debezium-server) belong to it alone.
    for (const [name, s] of Object.entries(services)) if (/postgres|debezium/.test(name)) expect(s.profiles, name).toContain('cdc');
    expect(services['spanda-processors']?.command).toEqual(['run', 'chunker', 'embedder', 'projector']);
    expect(services['spanda-api']?.command).toEqual(['run', 'api']);
  });

  it('gives every service a healthcheck and waits only on healthchecked dependencies', async () => {
    const { services } = await loadCompose();
    for (const [name, s] of Object.entries(services)) {
      expect(s.healthcheck?.test?.length ?? 0, `${name} healthcheck`).toBeGreaterThan(1);
      expect(['CMD', 'CMD-SHELL']).toContain(s.healthcheck?.test[0]);
      for (const [dep, { condition }] of Object.entries(dependsOn(s))) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(services[dep]?.healthcheck, `${dep} (awaited healthy by ${name})`).toBeDefined();
        // A profile service cannot be a hard dependency of a default one.
        if (!s.profiles) expect(services[dep]?.profiles, `${name} → ${dep}`).toBeUndefined();
      }
    }
  });

  it('keeps the processors scalable: no host ports, no container name, no shared named volume', async () => {
    const p = (await loadCompose()).services['spanda-processors'] as Service;
    expect(p.ports ?? []).toEqual([]);
    expect(p.container_name).toBeUndefined();
    expect((p.volumes ?? []).filter((v) => !v.startsWith('.'))).toEqual([]);
    expect(p.expose).toContain('8080');
  });

  it('publishes each host port once, pins image tags, mounts files that exist and declares its volumes', async () => {
    const compose = await loadCompose();
    const hostPorts = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':').slice(-2, -1)[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.image && !s.build) expect(s.image, name).toMatch(/:[\w.-]+$/);
      expect(s.image ?? '', name).not.toMatch(/:latest$/);
      for (const v of s.volumes ?? []) {
        const [source] = v.split(':') as [string];
        if (source.startsWith('.')) expect(existsSync(source), `${name} mounts ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes), `${name} volume ${source}`).toContain(source);
      }
      if (s.build) expect(existsSync(path.join(s.build.context, s.build.dockerfile)), `${name} Dockerfile`).toBe(true);
    }
    // The weaviate store switches generations with collection aliases, which Weaviate has since 1.32.
    const weaviateImages = Object.values(compose.services).flatMap((s) => (s.image?.includes('semitechnologies/weaviate:') ? [s.image] : []));
    expect(weaviateImages.length).toBeGreaterThan(0);
    for (const image of weaviateImages) expect(atLeast(image.split(':').at(-1) ?? '', [1, 32]), image).toBe(true);
    // The qdrant store counts tenants with the facet API, which Qdrant has since 1.12.
    const qdrantImage = Object.values(compose.services).find((s) => s.image?.startsWith('qdrant/qdrant:'))?.image ?? '';
    expect(atLeast(qdrantImage.split(':v').at(-1) ?? '', [1, 12]), qdrantImage).toBe(true);
  });

  it('sets only configuration keys lib/config.ts reads, pointing at services that exist', async () => {
    const compose = await loadCompose();
    const keys = await configKeys();
    expect(keys.size).toBeGreaterThan(10);
    for (const name of ['spanda-processors', 'spanda-api']) {
      const env = compose.services[name]?.environment ?? {};
      for (const key of Object.keys(env)) expect(keys, `${name} sets ${key}`).toContain(key);
      for (const value of Object.values(env)) {
        const host = /^(?:[a-z]+:\/\/)?([a-z][a-z0-9-]*):\d+/.exec(String(value))?.[1];
        if (host) expect(Object.keys(compose.services), `${name}: ${value}`).toContain(host);
      }
    }
  });

  it('scrapes the Spanda services it runs', async () => {
    const prom = parse(await readFile('deploy/prometheus/prometheus.yml', 'utf8')) as {
      scrape_configs: Array<{ static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[] }> }>;
    };
    const targets = prom.scrape_configs.flatMap((c) => [...(c.static_configs ?? []).flatMap((s) => s.targets.map((t) => t.split(':')[0])), ...(c.dns_sd_configs ?? []).flatMap((d) => d.names)]);
    expect(new Set(targets)).toEqual(new Set(['spanda-api', 'spanda-processors']));
  });
});

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

/** Dockerfile instructions with continuations joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) return;
    if (current !== '' && line.startsWith('#')) return;
    if (current === '') start = i + 1;
    current += (current ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      const [op = '', ...rest] = current.split(/\s+/);
      out.push({ op: op.toUpperCase(), args: rest.join(' '), line: start });
      current = '';
    }
  });
  return out;
}

describe('deploy/Dockerfile', () => {
  const load = async () => parseDockerfile(await readFile('deploy/Dockerfile', 'utf8'));
  const stagesOf = (ins: Instruction[]) => {
    const stages: Array<{ name: string; from: string; ins: Instruction[] }> = [];
    for (const i of ins) {
      if (i.op === 'FROM') {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
        stages.push({ from: m?.[1] ?? '', name: m?.[2] ?? String(stages.length), ins: [] });
      } else stages.at(-1)?.ins.push(i);
    }
    return stages;
  };

  it('uses only known instructions, pinned base images and named stages', async () => {
    const ins = await load();
    const known = ['FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'WORKDIR', 'USER', 'EXPOSE', 'VOLUME', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT', 'STOPSIGNAL', 'LABEL', 'SHELL', 'ONBUILD'];
    for (const i of ins) expect(known, `line ${i.line}: ${i.op}`).toContain(i.op);
    const stages = stagesOf(ins);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      const base = stages.find((o) => o.name === s.from);
      if (!base) expect(s.from, `stage ${s.name}`).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(s.from).not.toMatch(/:latest$/);
    }
    expect(ins.some((i) => i.op === 'ADD'), 'COPY rather than ADD').toBe(false);
  });

  it('runs as a non-root user with a healthcheck, exec-form entrypoint and the exposed port', async () => {
    const ins = await load();
    const runtime = stagesOf(ins).at(-1);
    const rIns = runtime?.ins ?? [];
    const user = rIns.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const health = rIns.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    expect(health).toMatch(/CMD/);
    expect(health).toMatch(/healthz/);
    for (const op of ['ENTRYPOINT', 'CMD']) {
      const args = rIns.find((i) => i.op === op)?.args ?? '';
      expect(() => JSON.parse(args), `${op} in exec form`).not.toThrow();
    }
    const port = /PORT=(\d+)/.exec(rIns.filter((i) => i.op === 'ENV').map((i) => i.args).join(' '))?.[1];
    expect(rIns.find((i) => i.op === 'EXPOSE')?.args).toBe(port);
  });

  it('installs packages tidily and copies every runtime source folder that exists', async () => {
    const ins = await load();
    for (const i of ins.filter((x) => x.op === 'RUN' && /apt-get install/.test(x.args))) {
      expect(i.args, `line ${i.line}`).toMatch(/--no-install-recommends/);
      expect(i.args, `line ${i.line}`).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
      expect(i.args, `line ${i.line}`).toMatch(/apt-get update/);
    }
    for (const i of ins.filter((x) => x.op === 'RUN' && /\bnpm (ci|install)\b/.test(x.args))) expect(i.args).not.toMatch(/npm install(?! --no-audit --no-fund --no-save)/);
    const stages = stagesOf(ins);
    const runtime = stages.at(-1)?.ins ?? [];
    const copied = new Set(runtime.filter((i) => i.op === 'COPY' && !i.args.includes('--from')).map((i) => i.args.replace(/--\S+\s*/g, '').split(/\s+/)[0]));
    for (const i of ins.filter((x) => x.op === 'COPY' && !x.args.includes('--from'))) {
      for (const src of i.args.replace(/--\S+\s*/g, '').split(/\s+/).slice(0, -1)) expect(existsSync(src), `COPY ${src}`).toBe(true);
    }
    for (const i of ins.filter((x) => x.op === 'COPY' && x.args.includes('--from='))) {
      const from = /--from=(\S+)/.exec(i.args)?.[1];
      expect(stages.map((s) => s.name), `COPY --from=${from}`).toContain(from);
    }
    // The CLI imports every one of these at run time; a folder missing from the image fails only when a command loads it.
    for (const dir of ['bin', 'lib', 'streams', 'processors', 'projections', 'inference', 'api', 'connectors', 'cli']) {
      if (existsSync(dir)) expect(copied, `runtime stage copies ${dir}`).toContain(dir);
    }
    const runtimeDirs = (await readdir('.', { withFileTypes: true })).filter((d) => d.isDirectory() && existsSync(path.join(d.name, 'index.ts')));
    for (const d of runtimeDirs) expect(copied).toContain(d.name);
  });

  it('is built with a .dockerignore that keeps the context small and secrets out', async () => {
    const ignore = (await readFile('.dockerignore', 'utf8')).split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', '.git', '.spanda']) expect(ignore).toContain(entry);
  });
});

const natsServer = findBinary('nats-server', 'NATS_SERVER_BIN') ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : undefined);

describe.skipIf(!natsServer)('deploy/nats.conf', () => {
  it('is a valid nats-server configuration with JetStream limits and monitoring', async () => {
    const { stdout, stderr } = await promisify(execFile)(natsServer as string, ['-c', 'deploy/nats.conf', '-t']);
    expect(`${stdout}${stderr}`).toMatch(/is valid/);
    const text = await readFile('deploy/nats.conf', 'utf8');
    expect(text).toMatch(/^http: 0\.0\.0\.0:8222/m);
    expect(text).toMatch(/max_file_store:/);
    expect(text).toMatch(/max_payload:/);
  });
});

describe('deploy/k8s', () => {
  const files = async () => (await readdir('deploy/k8s')).filter((f) => f.endsWith('.yaml')).map((f) => path.join('deploy/k8s', f));

  it('parses every manifest and values file', async () => {
    const list = await files();
    expect(list.length).toBeGreaterThanOrEqual(3);
    for (const file of list) {
      const docs = parseAllDocuments(await readFile(file, 'utf8'));
      for (const doc of docs) expect(doc.errors, file).toEqual([]);
    }
  });

  it('runs the processors as a stateless Deployment and the API as a Deployment behind a Service, non-root with probes', async () => {
    const docs = parseAllDocuments(await readFile('deploy/k8s/spanda.yaml', 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
    for (const d of docs) {
      expect(d.apiVersion, JSON.stringify(d).slice(0, 80)).toBeTruthy();
      expect((d.metadata as { name?: string }).name).toBeTruthy();
    }
    type Pod = { securityContext: { runAsNonRoot: boolean }; containers: Array<{ args: string[]; livenessProbe?: unknown; resources?: { requests?: unknown }; envFrom?: unknown[] }>; volumes?: Array<Record<string, unknown>> };
    const deployment = (name: string) => docs.find((d) => d.kind === 'Deployment' && (d.metadata as { name: string }).name === name) as { spec: { template: { spec: Pod } } } | undefined;
    const processors = deployment('spanda-processors')?.spec.template.spec;
    const api = deployment('spanda-api')?.spec.template.spec;
    expect(processors?.containers[0]?.args).toEqual(['run', 'chunker', 'embedder', 'projector']);
    expect(api?.containers[0]?.args).toEqual(['run', 'api']);
    for (const pod of [processors, api]) {
      expect(pod?.securityContext.runAsNonRoot).toBe(true);
      expect(pod?.containers[0]?.livenessProbe).toBeDefined();
      expect(pod?.containers[0]?.resources?.requests).toBeDefined();
    }
    // Connectors: one process following a ConfigMap mounted as a directory (a subPath mount would not see edits),
    // whose file the connectors file schema accepts.
    const connectors = deployment('spanda-connectors') as { spec: { replicas: number; template: { spec: Pod & { containers: Array<{ env?: Array<{ name: string; value: string }>; volumeMounts?: Array<Record<string, unknown>> }> } } } } | undefined;
    expect(connectors?.spec.replicas).toBe(1);
    const pod = connectors?.spec.template.spec;
    expect(pod?.containers[0]?.args).toEqual(['run', 'connectors']);
    const fileEnv = pod?.containers[0]?.env?.find((e) => e.name === 'SPANDA_CONNECTORS_FILE')?.value ?? '';
    const mount = pod?.containers[0]?.volumeMounts?.find((m) => m.name === 'connectors');
    expect(mount?.subPath).toBeUndefined();
    expect(path.posix.dirname(fileEnv)).toBe(mount?.mountPath);
    const connectorsConfig = docs.find((d) => d.kind === 'ConfigMap' && (d.metadata as { name: string }).name === 'spanda-connectors') as { data: Record<string, string> };
    const json = JSON.parse(connectorsConfig.data[path.posix.basename(fileEnv)] ?? 'null') as unknown;
    const checked = connectorsFileSchema.safeParse(json);
    const unsetEnv = checked.success ? [] : checked.error.issues.filter((i) => !/environment variable CDC_DATABASE_URL is not set/.test(i.message));
    expect(unsetEnv).toEqual([]);
    // Stateless: no PersistentVolumeClaim on the processors.
    expect((processors?.volumes ?? []).some((v) => 'persistentVolumeClaim' in v)).toBe(false);
    expect(docs.some((d) => d.kind === 'Service' && (d.metadata as { name: string }).name === 'spanda-api')).toBe(true);
    // The ConfigMap sets only keys lib/config.ts reads.
    const keys = await configKeys();
    const config = docs.find((d) => d.kind === 'ConfigMap' && (d.metadata as { name: string }).name === 'spanda-config') as { data: Record<string, string> };
    for (const key of Object.keys(config.data)) expect(keys, `ConfigMap ${key}`).toContain(key);
  });

  it('asks for a 3-node JetStream cluster (R3 streams) and replicated stores', async () => {
    const nats = parse(await readFile('deploy/k8s/nats-values.yaml', 'utf8')) as { config: { cluster: { enabled: boolean; replicas: number }; jetstream: { enabled: boolean } } };
    expect(nats.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(nats.config.jetstream.enabled).toBe(true);
    const weaviate = parse(await readFile('deploy/k8s/weaviate-values.yaml', 'utf8')) as { replicas: number; image: { tag: string } };
    expect(weaviate.replicas).toBeGreaterThanOrEqual(3);
    expect(atLeast(weaviate.image.tag, [1, 32]), `weaviate ${weaviate.image.tag} has collection aliases`).toBe(true);
    const qdrant = parse(await readFile('deploy/k8s/qdrant-values.yaml', 'utf8')) as { replicaCount: number; config: { cluster: { enabled: boolean } }; image: { tag: string } };
    expect(qdrant).toMatchObject({ replicaCount: 3, config: { cluster: { enabled: true } } });
    expect(atLeast(qdrant.image.tag.replace(/^v/, ''), [1, 12]), `qdrant ${qdrant.image.tag} has the facet API`).toBe(true);
  });
});
