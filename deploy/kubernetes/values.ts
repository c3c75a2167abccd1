import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * What a rendering of the Kubernetes manifests can be told (a YAML file under
 * deploy/kubernetes/values/, merged over DEFAULT_VALUES). Secrets' values are never here: the
 * rendered Secrets hold placeholders to replace (see the README's Kubernetes section).
 */
export interface Values {
  /** Directory (under deploy/kubernetes/) the rendering is written to. */
  output: string;
  namespace: string;
  image: { repository: string; tag: string; pullPolicy: 'Always' | 'IfNotPresent' | 'Never' };
  /** Annotations of the pods' ServiceAccount: IRSA, GKE/Azure workload identity, TKE OIDC. */
  serviceAccount: { name: string; annotations: Record<string, string> };
  redis: {
    mode: 'standalone' | 'cluster' | 'sentinel';
    /** standalone: the host:port KEDA reads queue depth from (REDIS_URL itself is in the Secret). */
    address: string;
    /** cluster: seed nodes host:port. */
    nodes: string[];
    /** sentinel: sentinels host:port and the master name. */
    sentinels: string[];
    sentinelMaster: string;
    /** Redis needs a password (Secret key SCANQ_REDIS_PASSWORD, also handed to KEDA). */
    auth: boolean;
    tls: boolean;
  };
  /** BullMQ/quota key namespace (SCANQ_QUEUE_PREFIX). */
  queuePrefix: string;
  /** Plain (non-secret) settings for every scanq container; names must be config.ts's. */
  env: Record<string, string>;
  api: { replicas: number; resources: Resources };
  worker: {
    /** Replicas of each provider worker (KEDA/HPA minimum). */
    replicas: number;
    maxReplicas: number;
    concurrency: number;
    httpPort: number;
    shutdownGraceMs: number;
    /** Must exceed shutdownGraceMs: the kubelet's SIGKILL comes this long after SIGTERM. */
    terminationGracePeriodSeconds: number;
    resources: Resources;
  };
  autoscaling: {
    /** keda: ScaledObject on the queue's wait list (+ CPU); hpa: HorizontalPodAutoscaler on CPU; none. */
    kind: 'keda' | 'hpa' | 'none';
    /** Jobs waiting per worker replica before KEDA adds one. */
    listLength: number;
    cpuUtilization: number;
  };
}

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu?: string; memory: string };
}

export const DEFAULT_VALUES: Values = {
  output: 'base',
  namespace: 'scanq',
  image: { repository: 'ghcr.io/scanq/scanq', tag: '0.1.0', pullPolicy: 'IfNotPresent' },
  serviceAccount: { name: 'scanq', annotations: {} },
  redis: { mode: 'standalone', address: 'redis:6379', nodes: [], sentinels: [], sentinelMaster: 'mymaster', auth: false, tls: false },
  queuePrefix: 'scanq',
  env: { LOG_LEVEL: 'info', SCANQ_DB_POOL_MAX: '10' },
  api: { replicas: 2, resources: { requests: { cpu: '100m', memory: '192Mi' }, limits: { memory: '512Mi' } } },
  worker: {
    replicas: 1,
    maxReplicas: 10,
    concurrency: 32,
    httpPort: 9464,
    shutdownGraceMs: 8_000,
    terminationGracePeriodSeconds: 20,
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '768Mi' } },
  },
  autoscaling: { kind: 'keda', listLength: 20, cpuUtilization: 75 },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = (base as Record<string, unknown>)[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? merge(b, v as never) : v;
  }
  return out as T;
}

export function loadValues(file: string): Values {
  const raw = parse(readFileSync(file, 'utf8')) as DeepPartial<Values> | null;
  return merge(DEFAULT_VALUES, raw ?? {});
}
