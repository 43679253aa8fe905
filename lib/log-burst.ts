// A warning that can come in bursts (every event in flight when NATS stalls): the first line in full, then a count per window.
import type { LogFields, Logger } from './log.ts';

/**
 * Logs `message` as a warning for the first call, then counts the calls of the next `windowMs` and logs one line with
 * the count and the last call's fields when the window ends. Every call is also logged at debug level, in full. An
 * outage that puts hundreds of events in retry at once gives two warning lines per window instead of hundreds.
 */
export function burstWarning(log: Logger, message: string, windowMs = 5_000): (fields: LogFields) => void {
  let open = false;
  let more = 0;
  let last: LogFields = {};
  return (fields) => {
    log.debug(message, fields);
    if (open) {
      more += 1;
      last = fields;
      return;
    }
    log.warn(message, fields);
    open = true;
    const timer = setTimeout(() => {
      if (more > 0) log.warn(`${message}: ${more} more in the last ${windowMs / 1000} s, the last of them`, { ...last, more });
      open = false;
      more = 0;
    }, windowMs);
    timer.unref?.();
  };
}
