// A truncated table: every live document of its source (and tenant, when fixed) gets document.deleted.
import { HEADER } from '../../streams/codec.ts';
import { publishDeletion } from '../../streams/document-log.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { STREAMS } from '../../streams/provision.ts';

/** Deletes every document under docs.<tenant|*>.<source>.* whose latest version is an upsert; returns how many. */
export async function deleteAllOfSource(handle: NatsHandle, tenant: string | undefined, source: string, producer: string): Promise<number> {
  const filter = `docs.${tenant ?? '*'}.${source}.*`;
  const info = await handle.jsm.streams.info(STREAMS.DOCUMENTS, { subjects_filter: filter });
  let deleted = 0;
  for (const subject of Object.keys(info.state.subjects ?? {})) {
    const last = await handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { last_by_subj: subject });
    if (!last || last.header?.get(HEADER.type) !== 'document.upserted') continue;
    const data = last.json<{ tenant: string; source: string; id: string }>();
    await publishDeletion(handle, { tenant: data.tenant, source: data.source, id: data.id }, { producer });
    deleted += 1;
  }
  return deleted;
}
