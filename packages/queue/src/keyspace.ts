import { type Provider, type QueueName, queueForProvider } from '@scanq/core';

/** BullMQ job events kept per queue (its `events` stream): enough to follow recent moves by hand. */
export const QUEUE_EVENTS_MAX_LEN = 1_000;

/**
 * Where every scanq key lives in Redis. Redis Cluster serves a command (a Lua script, a MULTI)
 * only when all its keys hash to one slot; a `{…}` hash tag decides the slot. BullMQ's scripts
 * touch many keys of one queue at once, so a queue's keys share a tag; scanq gives each queue
 * a tag of its own, so a cluster spreads the queues (and with them the providers) over shards:
 *
 *   {<base>:<queue>}:<queue>:…        BullMQ's keys of that queue (its prefix)
 *   {<base>:<provider>}:quota:…       the provider's quota keys (slots, pacers, scan windows)
 *   {<base>:maintenance}:lock:…       leases: maintenance pass, schedule sync, bulk plans
 *   {<base>:metrics}:provider-calls   cloud-call tallies (and :intake, intake refusals)
 *   {<base>:events}:events            the stream of scan and bulk-scan ends, for consumers
 *
 * No Lua script or transaction spans two tags: quota scripts take keys of one account's quota;
 * BullMQ flows (parent/child across queues) are not used.
 */
export class RedisKeyspace {
  constructor(readonly base: string) {
    if (/[{}*?[\]\\]/.test(base)) throw new Error(`key namespace "${base}" must not hold braces or glob characters`);
  }

  /** The hash tag of one group of keys. */
  tag(group: string): string {
    return `{${this.base}:${group}}`;
  }

  /** BullMQ's `prefix` for a queue (its own hash tag). */
  queuePrefix(queue: QueueName): string {
    return this.tag(queue);
  }

  /**
   * What every scanq Queue object is created with: its prefix, and BullMQ's job-event stream
   * capped at QUEUE_EVENTS_MAX_LEN entries (BullMQ keeps 10,000 by default: ~2.5 MB a queue,
   * read by nothing in scanq, which has no QueueEvents listener). Each Queue object writes the
   * cap into the queue's meta when it connects, so all of them must agree.
   */
  queueOptions(queue: QueueName): { prefix: string; streams: { events: { maxLen: number } } } {
    return { prefix: this.queuePrefix(queue), streams: { events: { maxLen: QUEUE_EVENTS_MAX_LEN } } };
  }

  /** Prefix of a provider's quota keys: in its queue's slot. */
  quota(provider: Provider): string {
    return `${this.tag(queueForProvider(provider))}:quota`;
  }

  /** Prefix of the pacers of rate-limited cloud APIs (`<this>:<accountId>:<api>` per provider's pacer). */
  callPace(provider: Provider): string {
    return `${this.quota(provider)}:call-pace:${provider}`;
  }

  /** A lease key (maintenance pass, schedule sync, a bulk plan). */
  lock(name: string): string {
    return `${this.tag('maintenance')}:lock:${name}`;
  }

  /** The hash every process adds its cloud-call tallies to. */
  get providerCallStats(): string {
    return `${this.tag('metrics')}:provider-calls`;
  }

  /** The Redis Stream every scan and bulk-scan end is appended to (webhook bodies), for consumers. */
  get eventsStream(): string {
    return `${this.tag('events')}:events`;
  }

  /** Hash of intake refusals by job name and error code (read by /metrics). */
  get intakeStats(): string {
    return `${this.tag('metrics')}:intake`;
  }

  /** SCAN MATCH pattern of every key of this namespace. */
  get pattern(): string {
    return `{${this.base}:*`;
  }
}
