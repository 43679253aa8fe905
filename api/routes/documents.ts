// Document routes: publish one, a batch (202 once JetStream has stored each event) or an NDJSON stream, delete, erase, and per-document state.
import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError, StorageLimitError, UnavailableError, ValidationError, errorMessage } from '../../lib/errors.ts';
import type { SourcePosition } from '../../projections/projector.ts';
import { documentInputSchema, publishDeletion, publishDocument, type PublishedDocument } from '../../streams/document-log.ts';
import { eraseDocument } from '../../streams/erase.ts';
import { mapLimit } from '../../streams/publisher.ts';
import { STREAMS } from '../../streams/provision.ts';
import { assertName } from '../../streams/subjects.ts';
import type { ApiDeps } from '../deps.ts';
import { principalOf } from '../auth.ts';
import { awaitDocument, refundDocument, takeDocuments } from '../document-quota.ts';
import { parseWith, readJson, tenantOf } from '../validation.ts';
import { isNdjsonUpload, publishNdjson } from './documents-ndjson.ts';
import { assertJetStreamAnswers, publishWatched, suspectJetStream } from '../jetstream-gate.ts';

export const MAX_BATCH_DOCUMENTS = 1000;

const batchSchema = z.object({ documents: z.array(z.unknown()).min(1).max(MAX_BATCH_DOCUMENTS) }).strict();

function documentsOf(body: unknown): unknown[] {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && 'documents' in body) {
    return parseWith(batchSchema, body, 'batch').documents;
  }
  if (Array.isArray(body)) throw new ValidationError('send one document object or { "documents": [ ... ] }, not a bare array');
  return [body];
}

/** How many versions a document lookup tells unless `?versions=` asks for another number (at most MAX_VERSIONS_PAGE). */
export const DEFAULT_VERSIONS_PAGE = 100;
export const MAX_VERSIONS_PAGE = 1000;

const seqParam = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const versionsQuerySchema = z
  .object({
    versions: z.coerce.number().int().min(1).max(MAX_VERSIONS_PAGE).optional(),
    before: seqParam.optional(),
  })
  .strict();

/** The longest an erase request waits for the pipeline to remove the document before erasing what is left whole. */
export const MAX_ERASE_WAIT_S = 300;
const eraseQuerySchema = z.object({ wait: z.coerce.number().min(0).max(MAX_ERASE_WAIT_S).optional() }).strict();

export function documentRoutes(deps: ApiDeps): Hono {
  const app = new Hono();

  app.post('/', async (c) => {
    const tenant = tenantOf(c);
    if (isNdjsonUpload(c.req.raw)) {
      const principal = principalOf(c);
      const keys = deps.auth?.keys;
      return publishNdjson(c, deps, tenant, principal && keys ? () => keys.stillGrants(principal, 'publish') : undefined, {
        awaitQuota: () => awaitDocument(c, deps.auth),
        refundQuota: () => refundDocument(c, deps.auth),
      });
    }
    const raw = documentsOf(await readJson(c));
    // Validate the whole batch before publishing any of it, so a bad entry never leaves a half-published batch.
    const docs = raw.map((d, i) => parseWith(documentInputSchema, d, raw.length > 1 ? `document at index ${i}` : 'document'));
    // Versions of one document in one batch would race each other into the log; the caller must order them.
    const seen = new Set<string>();
    docs.forEach((d, i) => {
      const key = `${d.source}\u0000${d.id}`;
      if (seen.has(key)) throw new ValidationError(`document ${JSON.stringify(d.id)} (source ${d.source}) appears more than once in the batch (again at index ${i}); send one version per request`);
      seen.add(key);
    });
    const refund = takeDocuments(c, deps.auth, docs.length);
    const traceparent = c.req.header('traceparent');
    const accepted: PublishedDocument[] = [];
    try {
      await assertJetStreamAnswers(deps);
      await mapLimit(docs, 64, async (doc) => {
        const published = await publishWatched(deps, () => publishDocument(deps.nats, tenant, doc, { producer: '/api', ...(traceparent ? { traceparent } : {}) }));
        accepted.push(published);
        return published;
      });
    } catch (err) {
      refund(docs.length - accepted.length);
      suspectJetStream(deps, err);
      if (err instanceof UnavailableError && accepted.length > 0) {
        // Re-sending the whole batch is safe: identical documents are deduplicated.
        const message = `${errorMessage(err)}; ${accepted.length} of ${docs.length} documents were stored before the failure, re-send the batch`;
        throw err instanceof StorageLimitError ? new StorageLimitError(message, { cause: err }) : new UnavailableError(message);
      }
      throw err;
    }
    const bySeq = new Map(accepted.map((a) => [`${a.source}\u0000${a.id}`, a]));
    return c.json(
      {
        accepted: docs.map((d) => {
          const a = bySeq.get(`${d.source}\u0000${d.id}`) as PublishedDocument;
          return { id: a.id, source: a.source, seq: a.seq, ...(a.duplicate ? { duplicate: true } : {}) };
        }),
      },
      202,
    );
  });

  app.delete('/:source/:id', async (c) => {
    const tenant = tenantOf(c);
    const source = assertName('source', c.req.param('source'));
    const id = c.req.param('id');
    if (id === '') throw new ValidationError('the document id in the path is empty');
    const refund = takeDocuments(c, deps.auth, 1);
    const traceparent = c.req.header('traceparent');
    const published = await (async () => {
      await assertJetStreamAnswers(deps);
      return publishWatched(deps, () => publishDeletion(deps.nats, { tenant, source, id }, { producer: '/api', ...(traceparent ? { traceparent } : {}) }));
    })().catch((err: unknown) => {
      refund(1);
      suspectJetStream(deps, err);
      throw err;
    });
    return c.json({ seq: published.seq, ...(published.duplicate ? { duplicate: true } : {}), ...(published.neverPublished ? { neverPublished: true } : {}) }, 202);
  });

  // The erasure `spanda erase` does, for an application that holds an admin key of the tenant rather than NATS access.
  app.post('/:source/:id/erase', async (c) => {
    const tenant = tenantOf(c);
    const source = assertName('source', c.req.param('source'));
    const id = c.req.param('id');
    if (id === '') throw new ValidationError('the document id in the path is empty');
    const { wait } = parseWith(eraseQuerySchema, c.req.query(), `query string (wait: seconds to wait for the pipeline's removal, 0–${MAX_ERASE_WAIT_S}, default 60)`, '(query)');
    await assertJetStreamAnswers(deps);
    const report = await eraseDocument(deps.nats, { tenant, source, id }, { waitMs: (wait ?? 60) * 1000 });
    return c.json({ ...report, complete: report.unprocessed.length === 0 }, 200);
  });

  app.get('/:source/:id', async (c) => {
    const tenant = tenantOf(c);
    const source = assertName('source', c.req.param('source'));
    const docId = c.req.param('id');
    const ref = { tenant, source, docId };
    const query = parseWith(versionsQuerySchema, c.req.query(), 'query string (versions: 1–1000, the newest versions to tell; before: a DOCUMENTS sequence, to page to older versions)', '(query)');
    const limit = query.versions ?? DEFAULT_VERSIONS_PAGE;
    const served = await deps.serving.use(async (g) => ({
      generation: g.id,
      model: g.embedder.info.id,
      state: await g.store.document(ref),
      positions: g.projector?.positions() ?? [],
    }));
    const lineage = deps.catalog
      ? await deps.catalog.use(async (catalog) => {
          // The catalog applies in larger, later batches than the serving store (CATALOG_LINGER_MS); waiting makes it
          // apply what it holds, so the story told covers what the serving store already shows.
          const docSeq = served.state?.docSeq ?? 0;
          await catalog.projector?.waitUntil((ps) => coversServing(ps, served.positions, docSeq), CATALOG_CATCH_UP_MS).catch(() => undefined);
          // One more than shown: whether older versions remain, without counting them.
          return catalog.store.lineage(ref, { limit: limit + 1, ...(query.before !== undefined ? { before: query.before } : {}) });
        })
      : undefined;
    const { state } = served;
    if (!state && !lineage) {
      throw new NotFoundError(`no document ${JSON.stringify(docId)} from source ${source} is known for tenant ${tenant} yet (it may still be processing)`);
    }
    const latest = lineage?.latest;
    const older = (lineage?.versions.length ?? 0) > limit;
    const versions = older ? (lineage?.versions.slice(1) ?? []) : (lineage?.versions ?? []);
    return c.json({
      tenant,
      source,
      id: docId,
      // As the serving generation holds it (what queries see); `latest` is the newest version in the log.
      seq: state?.docSeq ?? latest?.seq ?? null,
      deleted: state?.deleted ?? latest?.deleted ?? false,
      chunks: state?.chunks ?? 0,
      vectors: state?.vectors ?? 0,
      latest: latest ? { seq: latest.seq, deleted: latest.deleted } : null,
      serving: {
        generation: served.generation,
        model: served.model,
        seq: state?.docSeq ?? null,
        // Applied when the serving generation holds the latest version (or a newer one).
        applied: state !== undefined && (latest === undefined || state.docSeq >= latest.seq),
      },
      // The newest `versions` (100) of the document's versions before `before`, oldest first; `olderVersionsBefore` is
      // the `before` that pages on to older ones.
      versionCount: lineage?.versionCount ?? 0,
      versions,
      ...(older && versions[0] ? { olderVersionsBefore: versions[0].seq } : {}),
      // Versions erased from the log (spanda erase) leave this trace, not their content.
      ...(lineage && lineage.erasures.length > 0 ? { erasures: lineage.erasures } : {}),
    });
  });

  return app;
}

/** How long a document lookup waits for the catalog to catch up with the serving store before it answers anyway. */
const CATALOG_CATCH_UP_MS = 2000;

/** Whether the catalog has applied each stream at least as far as the serving store has, and DOCUMENTS up to `docSeq`. */
function coversServing(catalog: readonly SourcePosition[], serving: readonly SourcePosition[], docSeq: number): boolean {
  const applied = (stream: string) => catalog.find((p) => p.stream === stream)?.applied ?? 0;
  return applied(STREAMS.DOCUMENTS) >= docSeq && serving.every((p) => applied(p.stream) >= p.applied);
}
