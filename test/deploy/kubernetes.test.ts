import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { loadConfig, QueueName } from '@scanq/core';
import * as queuePackage from '@scanq/queue';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CREDENTIALS_SECRET, type Model, PROVIDER_QUEUES, waitListKey } from '../../deploy/kubernetes/manifests.js';
import { driftOf, K8S_DIR, valuesFiles } from '../../deploy/kubernetes/render.js';
import { loadValues } from '../../deploy/kubernetes/values.js';
import { NOT_A_CONFIG_NAME, unknownEnvNames } from './env-names.js';

/**
 * The Kubernetes manifests under deploy/kubernetes/ as a user applies them (the committed YAML):
 * in step with the generator, every object valid against the Kubernetes schemas (KEDA's through
 * its CRD models), and wired: env names config.ts reads, probe ports the containers open,
 * selectors that select, Secret keys that exist, the credentials file where it is mounted.
 */
const MODELS: Record<string, new (data: never) => Model<unknown>> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
}

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
const renderings = valuesFiles().map((file) => ({ file, values: loadValues(file) }));

function committedObjects(output: string): K8sObject[] {
  const dir = join(K8S_DIR, output);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as K8sObject))
    .flat();
}

const podSpecOf = (o: K8sObject) => (o.spec as { template: { spec: IPodSpec; metadata: { labels: Record<string, string> } } }).template;
const envValue = (c: IContainer, name: string) => c.env?.find((e) => e.name === name)?.value;
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe.each(renderings)('Kubernetes rendering $values.output', ({ values }) => {
  const objects = committedObjects(values.output);
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const secrets = new Map(byKind('Secret').map((s) => [s.metadata.name, s]));
  const deployments = byKind('Deployment');

  it('is what the generator renders now (pnpm deploy:render)', () => {
    expect(driftOf(values)).toEqual([]);
  });

  it('every object is valid against the Kubernetes schemas', () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `a schema for ${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
    }
    // The validation does catch a broken object.
    const broken = structuredClone(deployments[0]!) as unknown as { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
    broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'http';
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort/);
  });

  it.skipIf(!hasKubectl)('kustomize builds it (kubectl kustomize; skipped where kubectl is missing)', () => {
    const out = execFileSync('kubectl', ['kustomize', join(K8S_DIR, values.output)], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const built = parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort());
    for (const o of built) if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe(values.namespace);
  });

  it('pods set only variables config.ts reads, from Secret keys that exist, and each container parses its config', () => {
    let checked = 0;
    for (const o of [...deployments, ...byKind('Job')]) {
      const spec = podSpecOf(o).spec;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const env = c.env ?? [];
        expect(unknownEnvNames(env.map((e) => e.name)), `${o.metadata.name}/${c.name}`).toEqual([]);
        const plain: Record<string, string> = {};
        for (const e of env) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) {
            expect(secrets.get(ref.name!)?.stringData?.[ref.key], `${o.metadata.name}/${c.name}: Secret ${ref.name} key ${ref.key}`).toBeDefined();
            checked++;
          } else if (e.value !== undefined) plain[e.name] = e.value;
        }
        // Names config.ts of this checkout knows must parse: a bad value fails here, not in a pod.
        const known = Object.fromEntries(Object.entries(plain).filter(([n]) => unknownEnvNames([n]).length === 0 && !n.startsWith('SCANQ_REDIS_') && !n.startsWith('SCANQ_WORKER_HTTP') && n !== 'SCANQ_CREDENTIALS_FILE'));
        expect(() => loadConfig(known), `${o.metadata.name}/${c.name}`).not.toThrow();
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(unknownEnvNames([NOT_A_CONFIG_NAME])).toEqual([NOT_A_CONFIG_NAME]);
  });

  it('probes hit ports the containers open; the worker port is SCANQ_WORKER_HTTP_PORT, the API port API_PORT', () => {
    for (const d of deployments) {
      const { spec } = podSpecOf(d);
      for (const c of spec.containers) {
        const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
          expect(probe?.httpGet, `${d.metadata.name}: every probe is there`).toBeDefined();
          expect(ports.has(String(probe!.httpGet!.port)), `${d.metadata.name} probe port ${probe!.httpGet!.port}`).toBe(true);
        }
        const isWorker = c.command?.includes('dist/worker.js');
        if (isWorker) {
          expect(ports.get(String(c.readinessProbe!.httpGet!.port))).toBe(Number(envValue(c, 'SCANQ_WORKER_HTTP_PORT')));
          expect(envValue(c, 'SCANQ_WORKER_HTTP_HOST')).toBe('0.0.0.0');
          expect(c.readinessProbe!.httpGet!.path).toBe('/readyz');
          expect(c.livenessProbe!.httpGet!.path).toBe('/healthz');
          // The kubelet's SIGKILL comes after the worker's own shutdown grace.
          const graceMs = loadConfig({ SCANQ_WORKER_SHUTDOWN_GRACE_MS: envValue(c, 'SCANQ_WORKER_SHUTDOWN_GRACE_MS') }).worker.shutdownGraceMs;
          expect(spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(graceMs);
        } else {
          expect(ports.get('http')).toBe(Number(envValue(c, 'API_PORT')));
          expect(envValue(c, 'API_HOST')).toBe('0.0.0.0');
        }
        expect(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory, `${d.metadata.name} resources`).toBeTruthy();
        expect(c.securityContext?.runAsNonRoot).toBe(true);
      }
    }
  });

  it('one worker Deployment per provider queue, and every queue served', () => {
    const served = deployments.flatMap((d) => podSpecOf(d).spec.containers.map((c) => envValue(c, 'SCANQ_WORKER_QUEUES')).filter((q): q is string => !!q));
    for (const q of PROVIDER_QUEUES) expect(served.filter((s) => s === q), `a Deployment for ${q}`).toHaveLength(1);
    expect(new Set(served.flatMap((s) => s.split(',')))).toEqual(new Set(Object.values(QueueName)));
  });

  it('selectors select: Deployments their pods, the Service the API, each PDB one Deployment, autoscalers their target', () => {
    for (const d of deployments) {
      const sel = (d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      expect(matches(sel, podSpecOf(d).metadata.labels), d.metadata.name).toBe(true);
    }
    const svc = byKind('Service')[0]!;
    const selected = deployments.filter((d) => matches((svc.spec as { selector: Record<string, string> }).selector, podSpecOf(d).metadata.labels));
    expect(selected.map((d) => d.metadata.name)).toEqual(['scanq-api']);
    const targetPort = (svc.spec as { ports: { targetPort: string }[] }).ports[0]!.targetPort;
    expect(podSpecOf(selected[0]!).spec.containers[0]!.ports!.map((p) => p.name)).toContain(targetPort);
    for (const pdb of byKind('PodDisruptionBudget')) {
      const sel = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      expect(deployments.filter((d) => matches(sel, podSpecOf(d).metadata.labels)), pdb.metadata.name).toHaveLength(1);
    }
    const names = new Set(deployments.map((d) => d.metadata.name));
    const scalers = [...byKind('ScaledObject'), ...byKind('HorizontalPodAutoscaler')];
    expect(scalers.length).toBe(values.autoscaling.kind === 'none' ? 0 : PROVIDER_QUEUES.length);
    for (const s of scalers) expect(names.has((s.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name)).toBe(true);
    const accounts = new Set(byKind('ServiceAccount').map((a) => a.metadata.name));
    for (const o of [...deployments, ...byKind('Job')]) expect(accounts.has(podSpecOf(o).spec.serviceAccountName!), o.metadata.name).toBe(true);
  });

  it('KEDA reads each queue\'s BullMQ wait list, on the Redis the workers use', () => {
    for (const so of byKind('ScaledObject')) {
      const target = deployments.find((d) => d.metadata.name === (so.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name)!;
      const c = podSpecOf(target).spec.containers[0]!;
      const trigger = (so.spec as { triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[] }).triggers[0]!;
      expect(trigger.metadata.listName).toBe(waitListKey(envValue(c, 'SCANQ_QUEUE_PREFIX')!, envValue(c, 'SCANQ_WORKER_QUEUES')!));
      const mode = envValue(c, 'SCANQ_REDIS_MODE');
      expect(trigger.type).toBe({ standalone: 'redis', cluster: 'redis-cluster', sentinel: 'redis-sentinel' }[mode!]);
      if (mode === 'cluster') expect(trigger.metadata.addresses).toBe(envValue(c, 'SCANQ_REDIS_NODES'));
      if (mode === 'sentinel') expect([trigger.metadata.addresses, trigger.metadata.sentinelMaster]).toEqual([envValue(c, 'SCANQ_REDIS_SENTINELS'), envValue(c, 'SCANQ_REDIS_SENTINEL_MASTER')]);
      if (trigger.authenticationRef) {
        const auth = byKind('TriggerAuthentication').find((a) => a.metadata.name === trigger.authenticationRef!.name);
        const ref = (auth!.spec as { secretTargetRef: { name: string; key: string }[] }).secretTargetRef[0]!;
        expect(secrets.get(ref.name)?.stringData?.[ref.key]).toBeDefined();
      }
    }
  });

  it('the credentials file is where SCANQ_CREDENTIALS_FILE says, from the credentials Secret, not a subPath mount', () => {
    const workers = deployments.filter((d) => podSpecOf(d).spec.containers[0]!.command!.includes('dist/worker.js'));
    expect(workers.length).toBe(PROVIDER_QUEUES.length + 1);
    for (const d of workers) {
      const { spec } = podSpecOf(d);
      const c = spec.containers[0]!;
      const file = envValue(c, 'SCANQ_CREDENTIALS_FILE')!;
      const mount = c.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
      expect(mount, `${d.metadata.name}: a mount holds ${file}`).toBeDefined();
      expect(mount.subPath).toBeUndefined();
      const volume = spec.volumes!.find((v) => v.name === mount.name)!;
      expect(volume.secret?.secretName).toBe(CREDENTIALS_SECRET);
      const item = volume.secret!.items!.find((i) => `${mount.mountPath}/${i.path}` === file)!;
      expect(secrets.get(CREDENTIALS_SECRET)?.stringData?.[item.key]).toBeDefined();
    }
  });

  it('the migration runs as a Job, and every scanq pod waits for it', () => {
    const jobs = byKind('Job');
    expect(jobs).toHaveLength(1);
    expect(podSpecOf(jobs[0]!).spec.containers[0]!.command).toEqual(['node', 'dist/migrate.js']);
    for (const d of deployments) expect(podSpecOf(d).spec.initContainers?.[0]?.command?.slice(0, 3), d.metadata.name).toEqual(['node', 'dist/migrate.js', '--wait']);
  });
});

// The queue package's key layout decides the wait list's name; where it exposes it (RedisKeyspace),
// the rendering must agree with it. Before that layout exists in this checkout, it is skipped.
const Keyspace = (queuePackage as Record<string, unknown>).RedisKeyspace as (new (base: string) => { queuePrefix(q: string): string }) | undefined;
describe.skipIf(!Keyspace)('KEDA list names follow the queue package (RedisKeyspace not in this checkout: skipped)', () => {
  it('waitListKey is BullMQ prefix + queue + wait', () => {
    for (const q of PROVIDER_QUEUES) expect(waitListKey('scanq', q)).toBe(`${new Keyspace!('scanq').queuePrefix(q)}:${q}:wait`);
  });
});
