import { pick, seededRandom, sha256Hex } from '../core/seed.js';
import type { OsFamily, SeedImage } from './seed.js';

/** One `ImageVul` as DescribeAssetImageRegistryVulList returns it (tcss_models.ts `ImageVul`). */
export interface ImageVul {
  CVEID: string;
  POCID: string;
  Name: string;
  Components: Array<{ Component: string; Name: string; Version: string; FixedVersion: string; Path: string; Type: string }>;
  Category: string;
  CategoryType: string;
  /** "1" low, "2" medium, "3" high, "4" critical (values from the sibling DescribeAssetImageVulList docs). */
  Level: string;
  Des: string;
  OfficialSolution: string;
  Reference: string;
  DefenseSolution: string;
  SubmitTime: string;
  CvssScore: string;
  CvssVector: string;
  IsSuggest: string;
  FixedVersions: string;
  Tag: string[];
  Component: string;
  Version: string;
  AttackLevel: number;
  LayerInfos: Array<{ LayerId: string; LayerCmd: string }>;
}

/** What a complete scan of an image finds; derived only from its digest, so it never changes. */
export interface ImageFindings {
  vuls: ImageVul[];
  virusCnt: number;
  riskCnt: number;
  sensitiveInfoCnt: number;
  levelCounts: { low: number; medium: number; high: number; critical: number };
}

interface PackageSpec {
  name: string;
  type: string;
  path: string;
}

const OS_PACKAGES: Record<OsFamily, PackageSpec[]> = {
  debian: [
    { name: 'openssl', type: 'dpkg', path: '/usr/lib/x86_64-linux-gnu/libssl.so.1.1' },
    { name: 'libc6', type: 'dpkg', path: '/lib/x86_64-linux-gnu/libc.so.6' },
    { name: 'zlib1g', type: 'dpkg', path: '/lib/x86_64-linux-gnu/libz.so.1' },
    { name: 'curl', type: 'dpkg', path: '/usr/bin/curl' },
    { name: 'libxml2', type: 'dpkg', path: '/usr/lib/x86_64-linux-gnu/libxml2.so.2' },
    { name: 'ncurses-base', type: 'dpkg', path: '/lib/terminfo' },
  ],
  ubuntu: [
    { name: 'openssl', type: 'dpkg', path: '/usr/lib/x86_64-linux-gnu/libssl.so.3' },
    { name: 'libc6', type: 'dpkg', path: '/lib/x86_64-linux-gnu/libc.so.6' },
    { name: 'libsqlite3-0', type: 'dpkg', path: '/usr/lib/x86_64-linux-gnu/libsqlite3.so.0' },
    { name: 'libexpat1', type: 'dpkg', path: '/lib/x86_64-linux-gnu/libexpat.so.1' },
    { name: 'tar', type: 'dpkg', path: '/bin/tar' },
  ],
  alpine: [
    { name: 'busybox', type: 'apk', path: '/bin/busybox' },
    { name: 'libcrypto3', type: 'apk', path: '/lib/libcrypto.so.3' },
    { name: 'musl', type: 'apk', path: '/lib/ld-musl-x86_64.so.1' },
    { name: 'zlib', type: 'apk', path: '/lib/libz.so.1' },
    { name: 'apk-tools', type: 'apk', path: '/sbin/apk' },
  ],
  centos: [
    { name: 'glibc', type: 'rpm', path: '/usr/lib64/libc.so.6' },
    { name: 'openssl-libs', type: 'rpm', path: '/usr/lib64/libssl.so.10' },
    { name: 'nss', type: 'rpm', path: '/usr/lib64/libnss3.so' },
    { name: 'bash', type: 'rpm', path: '/usr/bin/bash' },
    { name: 'python-libs', type: 'rpm', path: '/usr/lib64/libpython2.7.so.1.0' },
  ],
};

const APP_PACKAGES: PackageSpec[] = [
  { name: 'log4j-core', type: 'jar', path: '/app/lib/log4j-core.jar' },
  { name: 'jackson-databind', type: 'jar', path: '/app/lib/jackson-databind.jar' },
  { name: 'spring-web', type: 'jar', path: '/app/lib/spring-web.jar' },
  { name: 'lodash', type: 'npm', path: '/app/node_modules/lodash/package.json' },
  { name: 'axios', type: 'npm', path: '/app/node_modules/axios/package.json' },
  { name: 'requests', type: 'pip', path: '/usr/local/lib/python3.11/site-packages/requests' },
  { name: 'golang.org/x/net', type: 'gobinary', path: '/app/server' },
];

const VULN_KINDS = [
  'Buffer overflow', 'Use after free', 'Integer overflow', 'Out-of-bounds read', 'Denial of service',
  'Remote code execution', 'Information disclosure', 'Privilege escalation', 'Path traversal', 'Improper input validation',
];

const cache = new Map<string, ImageFindings>();

/** Findings of a complete scan of `image` (cached by digest; deterministic from the digest alone). */
export function findingsFor(image: SeedImage): ImageFindings {
  const key = `${image.ImageDigest}:${image.special ?? ''}:${image.osFamily}`;
  let f = cache.get(key);
  if (!f) cache.set(key, (f = deriveFindings(image)));
  return f;
}

function deriveFindings(image: SeedImage): ImageFindings {
  const rand = seededRandom(`tcss-findings:${image.ImageDigest}`);
  const vulCount = image.special === 'vuln_heavy' ? 237 : image.special === 'clean' ? 0 : regularVulCount(rand);
  const packages = [...OS_PACKAGES[image.osFamily], ...APP_PACKAGES];
  const seen = new Set<string>();
  const vuls: ImageVul[] = [];
  while (vuls.length < vulCount) {
    const year = 2018 + Math.floor(rand() * 7);
    const cveId = `CVE-${year}-${1000 + Math.floor(rand() * 48_000)}`;
    if (seen.has(cveId)) continue;
    seen.add(cveId);
    vuls.push(makeVul(rand, image, pick(rand, packages), cveId, year));
  }
  // A stable, useful order: most severe first, then by CVE id.
  vuls.sort((a, b) => Number(b.CvssScore) - Number(a.CvssScore) || a.CVEID.localeCompare(b.CVEID));
  const levelCounts = { low: 0, medium: 0, high: 0, critical: 0 };
  for (const v of vuls) levelCounts[LEVEL_NAMES[Number(v.Level) - 1] as keyof typeof levelCounts] += 1;
  const quiet = image.special === 'clean';
  return {
    vuls,
    virusCnt: quiet || rand() < 0.9 ? 0 : 1 + Math.floor(rand() * 3),
    riskCnt: quiet ? 0 : Math.floor(rand() * 3),
    sensitiveInfoCnt: quiet ? 0 : Math.floor(rand() * 3),
    levelCounts,
  };
}

const LEVEL_NAMES = ['low', 'medium', 'high', 'critical'] as const;

function regularVulCount(rand: () => number): number {
  const r = rand();
  if (r < 0.15) return 0;
  if (r < 0.85) return 1 + Math.floor(rand() * 40);
  return 41 + Math.floor(rand() * 80);
}

function makeVul(rand: () => number, image: SeedImage, pkg: PackageSpec, cveId: string, year: number): ImageVul {
  const score = Math.round((2 + rand() * 8) * 10) / 10;
  const level = score >= 9 ? 4 : score >= 7 ? 3 : score >= 4 ? 2 : 1;
  const major = Math.floor(rand() * 4);
  const minor = Math.floor(rand() * 20);
  const patch = Math.floor(rand() * 30);
  const version = `${major}.${minor}.${patch}`;
  const fixable = rand() < 0.8;
  const fixed = fixable ? `${major}.${minor}.${patch + 1 + Math.floor(rand() * 5)}` : '';
  const kind = pick(rand, VULN_KINDS);
  const isOs = !APP_PACKAGES.includes(pkg);
  const tags = [...(fixable ? ['CanBeFixed'] : []), ...(rand() < 0.2 ? ['DynamicLevelPoc'] : []), ...(rand() < 0.1 ? ['DynamicLevelExp'] : [])];
  const month = 1 + Math.floor(rand() * 12);
  const day = 1 + Math.floor(rand() * 28);
  const layerId = `sha256:${sha256Hex(`${image.ImageDigest}:layer:${pkg.name}`)}`;
  return {
    CVEID: cveId,
    POCID: `pcmgr-${100_000 + Math.floor(rand() * 900_000)}`,
    Name: `${pkg.name} ${kind.toLowerCase()} vulnerability (${cveId})`,
    Components: [{ Component: pkg.name, Name: pkg.name, Version: version, FixedVersion: fixed, Path: pkg.path, Type: pkg.type }],
    Category: kind,
    CategoryType: isOs ? 'System component vulnerability' : 'Application component vulnerability',
    Level: String(level),
    Des: `${kind} in ${pkg.name} ${version}${fixed ? ` (fixed in ${fixed})` : ''} may allow an attacker to compromise the container.`,
    OfficialSolution: fixed ? `Upgrade ${pkg.name} to ${fixed} or later.` : 'No official fix is available yet; follow the vendor advisory.',
    // A JSON-encoded list of URLs, as in the DescribeAssetImageRegistryVulList example.
    Reference: JSON.stringify([`https://nvd.nist.gov/vuln/detail/${cveId}`]),
    DefenseSolution: 'Restrict network exposure of the affected service until the component is upgraded.',
    SubmitTime: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')} 00:00:00`,
    CvssScore: score.toFixed(1),
    CvssVector: cvssVector(level),
    IsSuggest: level >= 3 && fixable ? 'true' : 'false',
    FixedVersions: fixed,
    Tag: tags,
    Component: pkg.name,
    Version: version,
    AttackLevel: Math.min(3, Math.floor(rand() * 4)),
    LayerInfos: [{ LayerId: layerId, LayerCmd: isOs ? `/bin/sh -c #(nop) ADD file:${layerId.slice(7, 71)} in / ` : '/bin/sh -c #(nop) COPY dir:app in /app ' }],
  };
}

function cvssVector(level: number): string {
  const impact = level >= 3 ? 'C:H/I:H/A:H' : level === 2 ? 'C:L/I:L/A:N' : 'C:L/I:N/A:N';
  return `CVSS:3.1/AV:N/AC:${level >= 3 ? 'L' : 'H'}/PR:N/UI:${level >= 4 ? 'N' : 'R'}/S:U/${impact}`;
}
