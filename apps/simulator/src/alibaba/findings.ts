import { pick, seededRandom, sha256Hex } from '../core/seed.js';
import type { SeedImage } from './seed.js';

/**
 * Image vulnerabilities as DescribeImageVulList reports them (`VulRecords[]`), derived only from
 * the image digest: the same image always has the same findings. Severity is `Necessity`
 * (asap = high, later = medium, nntf = low); the fixed version shows only inside
 * `MatchDetail`/`UpdateCmd`, as in the real API.
 */
export type Necessity = 'asap' | 'later' | 'nntf';

export interface RpmEntity {
  Name: string;
  Version: string;
  FullVersion: string;
  Path: string;
  Layer: string;
  MatchDetail: string;
  MatchList: string[];
  UpdateCmd: string;
}

export interface VulRecord {
  Name: string;
  AliasName: string;
  Related: string;
  PrimaryId: number;
  Type: 'cve';
  Necessity: Necessity;
  Status: number;
  CanFix: 'yes' | 'no';
  CanUpdate: boolean;
  Tag: string;
  Uuid: string;
  ImageDigest: string;
  Image: string;
  RepoName: string;
  RepoNamespace: string;
  Layers: string[];
  FirstTs: number;
  LastTs: number;
  ScanTime: number;
  ModifyTs: number;
  ExtendContentJson: { Os: string; OsRelease: string; RpmEntityList: RpmEntity[] };
}

interface OsProfile {
  os: string;
  release: string;
  /** The `<os>:<major>` prefix of vulnerability names, e.g. `debian:10`. */
  namePrefix: string;
  packages: readonly string[];
  libDir: string;
  update: (pkg: string) => string;
}

const OS_PROFILES: readonly OsProfile[] = [
  {
    os: 'debian', release: '10.9', namePrefix: 'debian:10', libDir: '/usr/lib/x86_64-linux-gnu',
    packages: ['libseccomp2', 'openssl', 'libssl1.1', 'zlib1g', 'libc6', 'curl', 'libxml2', 'perl-base', 'tar', 'gzip'],
    update: (p) => `apt-get update && apt-get install ${p} --only-upgrade`,
  },
  {
    os: 'debian', release: '11.7', namePrefix: 'debian:11', libDir: '/usr/lib/x86_64-linux-gnu',
    packages: ['libssl1.1', 'libgnutls30', 'libsqlite3-0', 'libexpat1', 'ncurses-base', 'libkrb5-3', 'systemd'],
    update: (p) => `apt-get update && apt-get install ${p} --only-upgrade`,
  },
  {
    os: 'alpine', release: '3.18.4', namePrefix: 'alpine:3.18', libDir: '/lib',
    packages: ['busybox', 'musl', 'libcrypto3', 'libssl3', 'zlib', 'apk-tools', 'ssl_client'],
    update: (p) => `apk update && apk add --upgrade ${p}`,
  },
  {
    os: 'centos', release: '7.9.2009', namePrefix: 'centos:7', libDir: '/usr/lib64',
    packages: ['glibc', 'openssl-libs', 'nss', 'bash', 'libssh2', 'python-libs', 'systemd-libs', 'krb5-libs'],
    update: (p) => `yum update ${p}`,
  },
  {
    os: 'ubuntu', release: '22.04', namePrefix: 'ubuntu:22.04', libDir: '/usr/lib/x86_64-linux-gnu',
    packages: ['libc6', 'libssl3', 'libsystemd0', 'libpcre2-8-0', 'login', 'passwd', 'libgcrypt20'],
    update: (p) => `apt-get update && apt-get install ${p} --only-upgrade`,
  },
];

const ISSUES = [
  'out-of-bounds read', 'heap-based buffer overflow', 'use-after-free', 'integer overflow', 'NULL pointer dereference',
  'denial of service', 'improper certificate validation', 'information disclosure',
];

/** The image name SAS shows for a registry image. */
export function imageName(image: SeedImage): string {
  const host =
    image.registryType === 'acr'
      ? `registry.${image.regionId}.aliyuncs.com`
      : `${image.registryType}-${image.instanceId}.registry.example.com`;
  return `${host}/${image.repoNamespace}/${image.repoName}:${image.tag}`;
}

/** A finding as reported after scans at `firstTs` (first seen) and `lastTs` (latest scan). */
export function stampFinding(record: VulRecord, firstTs: number, lastTs: number): VulRecord {
  return { ...record, FirstTs: firstTs, LastTs: lastTs, ScanTime: lastTs, ModifyTs: lastTs };
}

/**
 * Findings of an image, with zero timestamps (see `stampFinding`). About one image in eight is
 * clean; the rest have 1–40 findings (enough to page through).
 */
export function findingsFor(image: SeedImage): VulRecord[] {
  const rand = seededRandom(`alibaba:vuln:${image.digest}`);
  if (rand() < 0.125) return [];
  const count = 1 + Math.floor(rand() * 40);
  const profile = pick(rand, OS_PROFILES);
  const layers = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => sha256Hex(`${image.digest}:layer:${i}`));
  const seen = new Set<string>();
  const records: VulRecord[] = [];
  while (records.length < count) {
    const cve = `CVE-${2018 + Math.floor(rand() * 7)}-${1000 + Math.floor(rand() * 45_000)}`;
    if (seen.has(cve)) continue;
    seen.add(cve);
    const pkg = pick(rand, profile.packages);
    const major = 1 + Math.floor(rand() * 3);
    const minor = Math.floor(rand() * 10);
    const patch = Math.floor(rand() * 20);
    const release = 1 + Math.floor(rand() * 9);
    const version = `${major}.${minor}.${patch}-${release}`;
    const fixed = `${major}.${minor}.${patch + 1 + Math.floor(rand() * 3)}-${release}`;
    const r = rand();
    const necessity: Necessity = r < 0.25 ? 'asap' : r < 0.7 ? 'later' : 'nntf';
    const canFix = rand() < 0.7;
    const layer = pick(rand, layers);
    const matchDetail = `${pkg} version less than ${fixed}`;
    records.push({
      Name: `${profile.namePrefix}:${cve}`,
      AliasName: `${cve}: ${pkg} ${pick(rand, ISSUES)}`,
      Related: cve,
      PrimaryId: parseInt(sha256Hex(`${image.digest}:${cve}`).slice(0, 7), 16),
      Type: 'cve',
      Necessity: necessity,
      Status: 1,
      CanFix: canFix ? 'yes' : 'no',
      CanUpdate: canFix,
      Tag: 'oval',
      Uuid: image.uuid,
      ImageDigest: image.digest,
      Image: imageName(image),
      RepoName: image.repoName,
      RepoNamespace: image.repoNamespace,
      Layers: [layer],
      FirstTs: 0,
      LastTs: 0,
      ScanTime: 0,
      ModifyTs: 0,
      ExtendContentJson: {
        Os: profile.os,
        OsRelease: profile.release,
        RpmEntityList: [
          {
            Name: pkg,
            Version: version,
            FullVersion: version,
            Path: `${profile.libDir}/${pkg}`,
            Layer: layer,
            MatchDetail: matchDetail,
            MatchList: [matchDetail],
            UpdateCmd: profile.update(pkg),
          },
        ],
      },
    });
  }
  return records;
}
