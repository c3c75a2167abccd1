/**
 * Redis keys of a deployment beside its queues, all under the queue prefix (which carries the
 * Redis Cluster hash tag, so a key and the queues it belongs with share a slot). One place that
 * derives them: the producer package, the workers and /metrics read the same names.
 */
export const prefixedKey = (prefix: string, ...parts: string[]): string => [prefix, ...parts].join(':');

/** The Redis Stream every scan and bulk-scan end is appended to (webhook bodies), for consumers. */
export const eventsStreamKey = (prefix: string): string => prefixedKey(prefix, 'events');

/** Hash of intake refusals by job name and error code (read by /metrics). */
export const intakeStatsKey = (prefix: string): string => prefixedKey(prefix, 'metrics', 'intake');
