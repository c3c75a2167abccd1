/**
 * `pnpm deploy:render`: renders the Kubernetes manifests of every values file under
 * deploy/kubernetes/values/ into deploy/kubernetes/<output>/ (one YAML per object and a
 * kustomization.yaml listing them), each object validated against the Kubernetes schemas
 * (kubernetes-models; KEDA's CRDs through @kubernetes-models/keda) before it is written.
 * `--values <file>`: only that file (yours: copy one of values/ and set `output`).
 * `--check`: write nothing; fail when a committed rendering differs from a fresh one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { buildManifests, type Model } from './manifests.js';
import { loadValues, type Values } from './values.js';

export const K8S_DIR = dirname(fileURLToPath(import.meta.url));
export const VALUES_DIR = join(K8S_DIR, 'values');

const HEADER = '# Rendered by `pnpm deploy:render` from deploy/kubernetes/values/; edit the values or the generator, not this file.\n';

/** The files of one rendering: name → YAML text. */
export function renderFiles(values: Values): Map<string, string> {
  const objects = buildManifests(values);
  const files = new Map<string, string>();
  for (const obj of objects) {
    obj.validate();
    const json = obj.toJSON() as { kind: string; metadata: { name: string } };
    const file = `${json.kind.toLowerCase()}-${json.metadata.name}.yaml`;
    if (files.has(file)) throw new Error(`two objects render to ${file}`);
    files.set(file, HEADER + stringify(json, { lineWidth: 0 }));
  }
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: values.namespace,
    labels: [{ pairs: { 'app.kubernetes.io/part-of': 'scanq' }, includeSelectors: false }],
    images: [{ name: values.image.repository, newTag: values.image.tag }],
    resources: [...files.keys()],
  };
  files.set('kustomization.yaml', HEADER + stringify(kustomization, { lineWidth: 0 }));
  return files;
}

export function renderedObjects(values: Values): Model<unknown>[] {
  return buildManifests(values);
}

export function valuesFiles(): string[] {
  return readdirSync(VALUES_DIR).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(VALUES_DIR, f));
}

/** Differences between the committed rendering of `values` and a fresh one (empty: in step). */
export function driftOf(values: Values): string[] {
  const dir = join(K8S_DIR, values.output);
  const fresh = renderFiles(values);
  const drift: string[] = [];
  const committed = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
  for (const [file, text] of fresh) if (!existsSync(join(dir, file)) || readFileSync(join(dir, file), 'utf8') !== text) drift.push(`${values.output}/${file}`);
  for (const file of committed) if (!fresh.has(file)) drift.push(`${values.output}/${file} (no longer rendered)`);
  return drift;
}

function main(): void {
  const args = process.argv.slice(2);
  const at = args.indexOf('--values');
  const files = at >= 0 ? [resolve(args[at + 1]!)] : valuesFiles();
  const check = args.includes('--check');
  let failed = false;
  for (const file of files) {
    const values = loadValues(file);
    if (check) {
      const drift = driftOf(values);
      if (drift.length) {
        failed = true;
        console.error(`${values.output}: out of date (run pnpm deploy:render): ${drift.join(', ')}`);
      }
      continue;
    }
    const dir = join(K8S_DIR, values.output);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const rendered = renderFiles(values);
    for (const [name, text] of rendered) writeFileSync(join(dir, name), text);
    console.log(`${values.output}: ${rendered.size - 1} objects (validated) + kustomization.yaml`);
  }
  if (failed) process.exit(1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
