import { createHash } from 'node:crypto';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import type { IContainer, IEnvVar, IPodSpec, IProbe, IVolume, IVolumeMount } from 'kubernetes-models/v1';
import { Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { Values } from './values.js';

/** What every kubernetes-models object offers: schema validation and its plain JSON. */
export interface Model<_T = unknown> {
  validate(): void;
  toJSON(): unknown;
}

/** The provider queues, one worker Deployment each; `system` serves the maintenance, webhooks and requests (intake) queues. */
export const PROVIDER_QUEUES = ['aws', 'alibaba', 'tencent', 'huawei'] as const;
export const WORKER_GROUPS: readonly { name: string; queues: string[] }[] = [
  ...PROVIDER_QUEUES.map((q) => ({ name: q, queues: [q] })),
  { name: 'system', queues: ['maintenance', 'webhooks', 'requests'] },
];

/** Secret holding the URLs and keys (env), and the one mounted as the credentials file. */
export const ENV_SECRET = 'scanq-env';
export const CREDENTIALS_SECRET = 'scanq-credentials';
export const CREDENTIALS_DIR = '/etc/scanq/credentials';
export const CREDENTIALS_KEY = 'credentials.json';
const PLACEHOLDER = 'REPLACE-ME';

/**
 * BullMQ's wait LIST of a queue: `<prefix>:<queue>:wait` with scanq's per-queue hash tag as the
 * prefix (`{<SCANQ_QUEUE_PREFIX>:<queue>}`, the Redis Cluster layout of the queue package's
 * RedisKeyspace). KEDA's redis scalers read its LLEN. Prioritized jobs (bulk scans' starts) sit
 * in a sorted set that LLEN does not count: the CPU trigger covers that backlog.
 */
export const waitListKey = (prefix: string, queue: string) => `{${prefix}:${queue}}:${queue}:wait`;

const labels = (component: string) => ({ 'app.kubernetes.io/name': 'scanq', 'app.kubernetes.io/component': component });
const secretEnv = (name: string, key = name, optional = false): IEnvVar => ({ name, valueFrom: { secretKeyRef: { name: ENV_SECRET, key, ...(optional ? { optional: true } : {}) } } });
const plain = (env: Record<string, string>): IEnvVar[] => Object.entries(env).map(([name, value]) => ({ name, value }));

/** Env of every scanq container: Postgres/Redis from the Secret, the Redis topology, shared settings. */
function commonEnv(v: Values): IEnvVar[] {
  const redis: Record<string, string> = { SCANQ_REDIS_MODE: v.redis.mode };
  if (v.redis.mode === 'cluster') redis.SCANQ_REDIS_NODES = v.redis.nodes.join(',');
  if (v.redis.mode === 'sentinel') Object.assign(redis, { SCANQ_REDIS_SENTINELS: v.redis.sentinels.join(','), SCANQ_REDIS_SENTINEL_MASTER: v.redis.sentinelMaster });
  if (v.redis.mode !== 'standalone' && v.redis.tls) redis.SCANQ_REDIS_TLS = 'true';
  return [
    secretEnv('DATABASE_URL'),
    secretEnv('REDIS_URL'),
    ...(v.redis.auth ? [secretEnv('SCANQ_REDIS_PASSWORD')] : []),
    ...plain({ NODE_ENV: 'production', SCANQ_QUEUE_PREFIX: v.queuePrefix, ...redis, ...v.env }),
  ];
}

const securityContext = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
const tmp: { volume: IVolume; mount: IVolumeMount } = { volume: { name: 'tmp', emptyDir: {} }, mount: { name: 'tmp', mountPath: '/tmp' } };

function podSpec(v: Values, containers: IContainer[], extra: Partial<IPodSpec> = {}): IPodSpec {
  return {
    serviceAccountName: v.serviceAccount.name,
    securityContext: { runAsNonRoot: true, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    ...extra,
    containers,
    volumes: [tmp.volume, ...(extra.volumes ?? [])],
  };
}

/** Init container: waits until the migration Job has applied every migration this image carries. */
function waitForMigrations(v: Values): IContainer {
  return {
    name: 'wait-for-migrations',
    image: imageRef(v),
    imagePullPolicy: v.image.pullPolicy,
    command: ['node', 'dist/migrate.js', '--wait', '--timeout-ms', '900000'],
    env: [secretEnv('DATABASE_URL')],
    securityContext,
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
  };
}

const imageRef = (v: Values) => `${v.image.repository}:${v.image.tag}`;
const httpProbe = (path: string, port: string, periodSeconds: number, failureThreshold: number): IProbe => ({ httpGet: { path, port }, periodSeconds, timeoutSeconds: 3, failureThreshold });

export function buildManifests(v: Values): Model<unknown>[] {
  const ns = v.namespace;
  const meta = (name: string, component: string, extra: Record<string, unknown> = {}) => ({ name, namespace: ns, labels: labels(component), ...extra });
  const objects: Model<unknown>[] = [];

  objects.push(new Namespace({ metadata: { name: ns, labels: { 'app.kubernetes.io/name': 'scanq' } } }));
  objects.push(new ServiceAccount({ metadata: { ...meta(v.serviceAccount.name, 'scanq'), annotations: v.serviceAccount.annotations }, automountServiceAccountToken: false }));

  // Secrets: placeholders to replace (kubectl create secret … | kubectl apply, or an overlay).
  const envSecret: Record<string, string> = {
    DATABASE_URL: `postgresql://scanq:${PLACEHOLDER}@postgres:5432/scanq`,
    REDIS_URL: v.redis.mode === 'standalone' ? `redis://${v.redis.address}` : `redis://${PLACEHOLDER}:6379`,
    SCANQ_API_KEY: `${PLACEHOLDER}-at-least-16-chars`,
    SCANQ_ADMIN_PASSWORD: PLACEHOLDER,
    SCANQ_WEBHOOK_SECRET: `${PLACEHOLDER}-at-least-16-chars`,
    ...(v.redis.auth ? { SCANQ_REDIS_PASSWORD: PLACEHOLDER } : {}),
  };
  objects.push(new Secret({ metadata: meta(ENV_SECRET, 'scanq'), type: 'Opaque', stringData: envSecret }));
  // Cloud credentials as a file (SCANQ_CREDENTIALS_FILE): a whole-directory mount, so the
  // kubelet's update of a changed Secret reaches the file (a subPath mount would never change).
  objects.push(new Secret({ metadata: meta(CREDENTIALS_SECRET, 'worker'), type: 'Opaque', stringData: { [CREDENTIALS_KEY]: '{}' } }));

  // The migration Job: its name carries the image, so a new version runs its own Job (a Job's
  // pod template cannot change in place); finished Jobs are removed after a day.
  const migrateName = `scanq-migrate-${createHash('sha256').update(imageRef(v)).digest('hex').slice(0, 8)}`;
  objects.push(
    new Job({
      metadata: meta(migrateName, 'migrate'),
      spec: {
        backoffLimit: 6,
        ttlSecondsAfterFinished: 86_400,
        template: {
          metadata: { labels: labels('migrate') },
          spec: podSpec(v, [{ name: 'migrate', image: imageRef(v), imagePullPolicy: v.image.pullPolicy, command: ['node', 'dist/migrate.js'], env: [secretEnv('DATABASE_URL')], securityContext, resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } }, volumeMounts: [tmp.mount] }], { restartPolicy: 'OnFailure' }),
        },
      },
    }),
  );

  // API.
  const apiPort = 3000;
  objects.push(
    new Deployment({
      metadata: meta('scanq-api', 'api'),
      spec: {
        replicas: v.api.replicas,
        selector: { matchLabels: labels('api') },
        template: {
          metadata: { labels: labels('api') },
          spec: podSpec(
            v,
            [
              {
                name: 'api',
                image: imageRef(v),
                imagePullPolicy: v.image.pullPolicy,
                command: ['node', '--enable-source-maps', 'dist/api.js'],
                ports: [{ name: 'http', containerPort: apiPort }],
                env: [
                  ...commonEnv(v),
                  ...plain({ API_HOST: '0.0.0.0', API_PORT: String(apiPort) }),
                  secretEnv('SCANQ_API_KEY'),
                  secretEnv('SCANQ_ADMIN_PASSWORD'),
                  secretEnv('SCANQ_WEBHOOK_SECRET'),
                ],
                readinessProbe: httpProbe('/readyz', 'http', 5, 3),
                livenessProbe: httpProbe('/healthz', 'http', 10, 3),
                startupProbe: httpProbe('/healthz', 'http', 2, 30),
                resources: v.api.resources,
                securityContext,
                volumeMounts: [tmp.mount],
              },
            ],
            { initContainers: [waitForMigrations(v)], terminationGracePeriodSeconds: 15 },
          ),
        },
      },
    }),
  );
  objects.push(new Service({ metadata: meta('scanq-api', 'api'), spec: { type: 'ClusterIP', selector: labels('api'), ports: [{ name: 'http', port: 80, targetPort: 'http' }] } }));
  objects.push(new PodDisruptionBudget({ metadata: meta('scanq-api', 'api'), spec: { minAvailable: 1, selector: { matchLabels: labels('api') } } }));

  // Workers: one Deployment per provider queue (their own scaling), one for maintenance + webhooks + intake requests.
  const credentialsVolume: IVolume = { name: 'cloud-credentials', secret: { secretName: CREDENTIALS_SECRET, items: [{ key: CREDENTIALS_KEY, path: CREDENTIALS_KEY }] } };
  for (const group of WORKER_GROUPS) {
    const name = `scanq-worker-${group.name}`;
    const component = `worker-${group.name}`;
    const workerEnv = plain({
      SCANQ_WORKER_QUEUES: group.queues.join(','),
      SCANQ_WORKER_CONCURRENCY: String(v.worker.concurrency),
      SCANQ_WORKER_HTTP_HOST: '0.0.0.0',
      SCANQ_WORKER_HTTP_PORT: String(v.worker.httpPort),
      SCANQ_WORKER_SHUTDOWN_GRACE_MS: String(v.worker.shutdownGraceMs),
      SCANQ_CREDENTIALS_FILE: `${CREDENTIALS_DIR}/${CREDENTIALS_KEY}`,
    });
    objects.push(
      new Deployment({
        metadata: meta(name, component),
        spec: {
          replicas: v.worker.replicas,
          selector: { matchLabels: labels(component) },
          template: {
            metadata: {
              labels: { ...labels(component), 'scanq.io/worker': 'true' },
              annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(v.worker.httpPort), 'prometheus.io/path': '/metrics' },
            },
            spec: podSpec(
              v,
              [
                {
                  name: 'worker',
                  image: imageRef(v),
                  imagePullPolicy: v.image.pullPolicy,
                  command: ['node', '--enable-source-maps', 'dist/worker.js'],
                  ports: [{ name: 'health', containerPort: v.worker.httpPort }],
                  env: [...commonEnv(v), ...workerEnv, secretEnv('SCANQ_WEBHOOK_SECRET')],
                  readinessProbe: httpProbe('/readyz', 'health', 5, 3),
                  livenessProbe: httpProbe('/healthz', 'health', 10, 3),
                  startupProbe: httpProbe('/healthz', 'health', 2, 30),
                  resources: v.worker.resources,
                  securityContext,
                  volumeMounts: [tmp.mount, { name: credentialsVolume.name, mountPath: CREDENTIALS_DIR, readOnly: true }],
                },
              ],
              { initContainers: [waitForMigrations(v)], terminationGracePeriodSeconds: v.worker.terminationGracePeriodSeconds, volumes: [credentialsVolume] },
            ),
          },
        },
      }),
    );
    objects.push(new PodDisruptionBudget({ metadata: meta(name, component), spec: { maxUnavailable: 1, selector: { matchLabels: labels(component) } } }));
    if (group.name !== 'system') objects.push(...autoscaler(v, name, component, group.queues[0]!));
  }
  return objects;
}

function autoscaler(v: Values, deployment: string, component: string, queue: string): Model<unknown>[] {
  const meta = { name: deployment, namespace: v.namespace, labels: labels(component) };
  const cpu = { type: 'cpu', metricType: 'Utilization' as const, metadata: { value: String(v.autoscaling.cpuUtilization) } };
  if (v.autoscaling.kind === 'none') return [];
  if (v.autoscaling.kind === 'hpa') {
    return [
      new HorizontalPodAutoscaler({
        metadata: meta,
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment },
          minReplicas: v.worker.replicas,
          maxReplicas: v.worker.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: v.autoscaling.cpuUtilization } } }],
        },
      }),
    ];
  }
  // KEDA: redis (standalone), redis-cluster or redis-sentinel scaler on the queue's wait list.
  const list = { listName: waitListKey(v.queuePrefix, queue), listLength: String(v.autoscaling.listLength), ...(v.redis.tls ? { enableTLS: 'true' } : {}) };
  const where: Record<string, string> =
    v.redis.mode === 'cluster'
      ? { addresses: v.redis.nodes.join(',') }
      : v.redis.mode === 'sentinel'
        ? { addresses: v.redis.sentinels.join(','), sentinelMaster: v.redis.sentinelMaster }
        : { address: v.redis.address };
  const type = v.redis.mode === 'cluster' ? 'redis-cluster' : v.redis.mode === 'sentinel' ? 'redis-sentinel' : 'redis';
  const out: Model<unknown>[] = [];
  const authName = 'scanq-keda-redis';
  if (v.redis.auth && queue === PROVIDER_QUEUES[0]) {
    out.push(new TriggerAuthentication({ metadata: { name: authName, namespace: v.namespace, labels: labels('worker') }, spec: { secretTargetRef: [{ parameter: 'password', name: ENV_SECRET, key: 'SCANQ_REDIS_PASSWORD' }] } }));
  }
  out.push(
    new ScaledObject({
      metadata: meta,
      spec: {
        scaleTargetRef: { name: deployment },
        minReplicaCount: v.worker.replicas,
        maxReplicaCount: v.worker.maxReplicas,
        pollingInterval: 15,
        // Scale-in waits past a worker's stop: no flapping while jobs are handed back.
        cooldownPeriod: 300,
        triggers: [{ type, metadata: { ...where, ...list }, ...(v.redis.auth ? { authenticationRef: { name: authName } } : {}) }, cpu],
      },
    }),
  );
  return out;
}
