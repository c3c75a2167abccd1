import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileBackedCredentialSets } from '../src/credential-sets.js';

/** SCANQ_CREDENTIALS_FILE read from real files: a JSON file, a kubelet-style Secret directory, broken content. */
describe('FileBackedCredentialSets', () => {
  const dirs: string[] = [];
  const temp = () => {
    const d = mkdtempSync(join(tmpdir(), 'scanq-creds-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reads a JSON file, sets from it win over the env, and a rewrite is seen on the next look', () => {
    const file = join(temp(), 'credentials.json');
    writeFileSync(file, JSON.stringify({ a: { k: 'file-1' } }));
    const sets = new FileBackedCredentialSets({ a: { k: 'env' }, b: { k: 'env-b' } }, file, { checkEveryMs: 0 });
    expect(sets.get('a')).toEqual({ k: 'file-1' });
    expect(sets.get('b')).toEqual({ k: 'env-b' });
    writeFileSync(file, JSON.stringify({ a: { k: 'file-2' }, c: { k: 'new' } }));
    expect(sets.get('a')).toEqual({ k: 'file-2' });
    expect(sets.get('c')).toEqual({ k: 'new' });
    expect(sets.names()).toEqual(['a', 'b', 'c']);
  });

  it('follows a Kubernetes Secret volume: one file per set behind ..data, updated by a symlink swap', () => {
    const dir = temp();
    const generation = (name: string, sets: Record<string, object>) => {
      mkdirSync(join(dir, name));
      for (const [k, v] of Object.entries(sets)) writeFileSync(join(dir, name, k), JSON.stringify(v));
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    generation('..2026_01', { 'aws-prod': { accessKeyId: 'AK1', secretAccessKey: 'S1' } });
    symlinkSync(join('..data', 'aws-prod'), join(dir, 'aws-prod'));
    const reloads: string[][] = [];
    const sets = new FileBackedCredentialSets({}, dir, { checkEveryMs: 0, onReload: (names) => reloads.push(names) });
    expect(sets.get('aws-prod')).toEqual({ accessKeyId: 'AK1', secretAccessKey: 'S1' });
    // The kubelet writes the new generation, swaps ..data, removes the old one.
    generation('..2026_02', { 'aws-prod': { accessKeyId: 'AK2', secretAccessKey: 'S2' } });
    rmSync(join(dir, '..2026_01'), { recursive: true });
    expect(sets.get('aws-prod')).toEqual({ accessKeyId: 'AK2', secretAccessKey: 'S2' });
    expect(reloads).toEqual([['aws-prod'], ['aws-prod']]);
    // Hidden entries (..data, the generations) are never sets.
    expect(sets.names()).toEqual(['aws-prod']);
  });

  it('keeps the last good sets when the file breaks, reports it once, and recovers when it is fixed', () => {
    const file = join(temp(), 'credentials.json');
    writeFileSync(file, JSON.stringify({ a: { k: 'good' } }));
    const errors: string[] = [];
    const sets = new FileBackedCredentialSets({}, file, { checkEveryMs: 0, onError: (e) => errors.push(e.message) });
    writeFileSync(file, '{"a": {"k": "half-writ');
    expect(sets.get('a')).toEqual({ k: 'good' });
    expect(sets.get('a')).toEqual({ k: 'good' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('is not valid JSON');
    expect(errors[0]).not.toContain('half-writ');
    writeFileSync(file, JSON.stringify({ a: { k: 42 } }));
    expect(sets.get('a')).toEqual({ k: 'good' });
    expect(errors[1]).toContain('must map set names to objects of string secrets');
    rmSync(file);
    expect(sets.get('a')).toEqual({ k: 'good' });
    expect(errors[2]).toContain('ENOENT');
    writeFileSync(file, JSON.stringify({ a: { k: 'fixed' } }));
    expect(sets.get('a')).toEqual({ k: 'fixed' });
    expect(errors).toHaveLength(3);
  });

  it('looks at the file at most once per checkEveryMs', () => {
    const file = join(temp(), 'credentials.json');
    writeFileSync(file, JSON.stringify({ a: { k: '1' } }));
    const sets = new FileBackedCredentialSets({}, file, { checkEveryMs: 3_600_000 });
    writeFileSync(file, JSON.stringify({ a: { k: '2' } }));
    expect(sets.get('a')).toEqual({ k: '1' });
    sets.refresh(true);
    expect(sets.get('a')).toEqual({ k: '2' });
  });
});
