import { pick, seededRandom, sha256Hex } from '../core/seed.js';
import type { EcrImage } from './inventory.js';
import type { SimAdvisory } from './options.js';

/**
 * Vulnerability findings derived from an image digest alone: the same digest yields the same
 * findings on every run and in every process, whatever the seed or the time.
 */

/** Severity ranks, most severe first. Basic scans say UNDEFINED where Inspector says UNTRIAGED. */
const BASIC_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'] as const;
const ENHANCED_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNTRIAGED'] as const;
const SEVERITY_WEIGHTS = [0.06, 0.2, 0.34, 0.24, 0.1, 0.06];
/** CVSS score range per rank. */
const SCORE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [9.0, 10.0],
  [7.0, 8.9],
  [4.0, 6.9],
  [0.1, 3.9],
  [0.0, 0.0],
  [0.0, 0.0],
];

const MAX_DERIVED_FINDINGS = 40;

interface PackageEntry {
  name: string;
  /** Inspector package manager; basic scans only see OS packages. */
  manager: 'OS' | 'NPM' | 'PYTHONPKG' | 'JAR' | 'GOBINARY';
  filePath?: string;
}

const OS_PACKAGES: readonly PackageEntry[] = [
  'openssl', 'glibc', 'zlib', 'curl', 'libxml2', 'expat', 'sqlite3', 'ncurses', 'bash', 'systemd', 'libgcrypt20',
  'gnutls28', 'krb5', 'perl', 'python3.11', 'tar', 'gzip', 'util-linux', 'e2fsprogs', 'pcre2', 'libtasn1-6', 'libssh',
  'nghttp2', 'openldap', 'shadow', 'coreutils', 'apt', 'dpkg', 'libwebp', 'busybox',
].map((name) => ({ name, manager: 'OS' as const }));

const LANGUAGE_PACKAGES: readonly PackageEntry[] = [
  { name: 'lodash', manager: 'NPM', filePath: 'app/node_modules/lodash/package.json' },
  { name: 'express', manager: 'NPM', filePath: 'app/node_modules/express/package.json' },
  { name: 'jsonwebtoken', manager: 'NPM', filePath: 'app/node_modules/jsonwebtoken/package.json' },
  { name: 'requests', manager: 'PYTHONPKG', filePath: 'usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA' },
  { name: 'urllib3', manager: 'PYTHONPKG', filePath: 'usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info/METADATA' },
  { name: 'jackson-databind', manager: 'JAR', filePath: 'opt/app/lib/jackson-databind-2.13.4.jar' },
  { name: 'stdlib', manager: 'GOBINARY', filePath: 'usr/local/bin/app' },
  { name: 'golang.org/x/net', manager: 'GOBINARY', filePath: 'usr/local/bin/app' },
];

const WEAKNESSES = [
  'allows remote attackers to cause a denial of service (application crash) via a crafted request',
  'has a heap-based buffer overflow that may allow remote code execution',
  'has an out-of-bounds read when parsing malformed input',
  'has an integer overflow leading to memory corruption',
  'contains a use-after-free that can be triggered by a local user',
  'allows information disclosure through an uninitialized memory read',
  'does not properly validate certificates, allowing man-in-the-middle attacks',
  'allows path traversal via crafted archive entries',
  'allows privilege escalation through improper permission checks',
  'is vulnerable to regular expression denial of service (ReDoS)',
];

export interface Vulnerability {
  id: string;
  /** 0 = CRITICAL … 5 = UNDEFINED/UNTRIAGED. */
  rank: number;
  pkg: PackageEntry;
  installedVersion: string;
  fixedInVersion?: string;
  cvss2Score: number;
  cvss2Vector: string;
  cvss3Score: number;
  cvss3Vector: string;
  description: string;
  /** Epoch seconds the vendor published the advisory. */
  publishedAt: number;
  exploitAvailable: boolean;
}

export type BasicSeverity = (typeof BASIC_SEVERITIES)[number];

/**
 * The vulnerabilities of an image, most severe first. `fixedCount` (SIM_AWS_FINDINGS) overrides
 * the 0–40 derived from the digest; enhanced scans also see language packages.
 */
export function deriveVulnerabilities(digest: string, fixedCount: number | null, enhanced: boolean): Vulnerability[] {
  const rand = seededRandom(`ecr-findings|${digest}`);
  const count = fixedCount ?? Math.floor(rand() * (MAX_DERIVED_FINDINGS + 1));
  const packages = enhanced ? [...OS_PACKAGES, ...LANGUAGE_PACKAGES] : OS_PACKAGES;
  const seen = new Set<string>();
  const vulns: Vulnerability[] = [];
  while (vulns.length < count) {
    const year = 2016 + Math.floor(rand() * 9);
    const id = `CVE-${year}-${1000 + Math.floor(rand() * 48_000)}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const rank = weightedRank(rand());
    const pkg = pick(rand, packages);
    const installedVersion = version(rand, pkg);
    const hasFix = rank === 5 ? false : rand() < 0.75;
    const [lo, hi] = SCORE_RANGES[rank]!;
    const score = round1(lo + rand() * (hi - lo));
    vulns.push({
      id,
      rank,
      pkg,
      installedVersion,
      ...(hasFix ? { fixedInVersion: bump(installedVersion) } : {}),
      cvss2Score: Math.min(10, score),
      cvss2Vector: cvss2Vector(rand, rank),
      cvss3Score: score,
      cvss3Vector: cvss3Vector(rand, rank),
      description: `${pkg.name} ${installedVersion} ${pick(rand, WEAKNESSES)} (${id}).`,
      publishedAt: Math.floor(Date.UTC(year, Math.floor(rand() * 12), 1 + Math.floor(rand() * 28)) / 1000),
      exploitAvailable: rank <= 1 && rand() < 0.3,
    });
  }
  return vulns.sort((a, b) => a.rank - b.rank || b.cvss3Score - a.cvss3Score || (a.id < b.id ? -1 : 1));
}

/** An image's vulnerabilities: those of its digest, then the advisories published since (see AwsEcrOptions.advisories). */
export function imageVulnerabilities(digest: string, options: { findingsPerImage: number | null; advisories: readonly SimAdvisory[] }, enhanced: boolean): Vulnerability[] {
  const own = deriveVulnerabilities(digest, options.findingsPerImage, enhanced);
  const seen = new Set(own.map((v) => v.id));
  const published = options.advisories
    .filter((a) => !seen.has(a.id))
    .map((a): Vulnerability => {
      const rank = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'].indexOf(a.severity);
      const rand = seededRandom(`ecr-advisory|${digest}|${a.id}`);
      const pkg = OS_PACKAGES.find((p) => p.name === a.package) ?? { name: a.package, manager: 'OS' as const };
      const installedVersion = version(rand, pkg);
      const [lo, hi] = SCORE_RANGES[rank]!;
      const score = round1(lo + rand() * (hi - lo));
      return {
        id: a.id,
        rank,
        pkg,
        installedVersion,
        fixedInVersion: bump(installedVersion),
        cvss2Score: Math.min(10, score),
        cvss2Vector: cvss2Vector(rand, rank),
        cvss3Score: score,
        cvss3Vector: cvss3Vector(rand, rank),
        description: `${pkg.name} ${installedVersion} ${pick(rand, WEAKNESSES)} (${a.id}).`,
        publishedAt: Math.floor(Date.UTC(2026, 0, 1) / 1000),
        exploitAvailable: false,
      };
    });
  return [...own, ...published].sort((a, b) => a.rank - b.rank || b.cvss3Score - a.cvss3Score || (a.id < b.id ? -1 : 1));
}

/** `findingSeverityCounts`: only the severities present, as ECR reports them. */
export function severityCounts(vulns: readonly Vulnerability[], enhanced: boolean): Record<string, number> {
  const names = enhanced ? ENHANCED_SEVERITIES : BASIC_SEVERITIES;
  const counts: Record<string, number> = {};
  for (const v of vulns) {
    const name = names[v.rank]!;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** A basic (Clair-style) `ImageScanFinding`. */
export function basicFinding(v: Vulnerability): Record<string, unknown> {
  const attributes = [
    { key: 'package_version', value: v.installedVersion },
    { key: 'package_name', value: v.pkg.name },
  ];
  // ECR leaves CVSS2 out for advisories it could not rate.
  if (v.rank !== 5) {
    attributes.push({ key: 'CVSS2_VECTOR', value: v.cvss2Vector }, { key: 'CVSS2_SCORE', value: v.cvss2Score.toFixed(1) });
  }
  return {
    name: v.id,
    description: v.description,
    uri: `https://security-tracker.debian.org/tracker/${v.id}`,
    severity: BASIC_SEVERITIES[v.rank],
    attributes,
  };
}

export interface EnhancedFindingContext {
  registryId: string;
  region: string;
  repositoryName: string;
  image: EcrImage;
  /** Epoch seconds the scan completed. */
  observedAt: number;
}

/** An Amazon Inspector `EnhancedImageScanFinding`. */
export function enhancedFinding(v: Vulnerability, c: EnhancedFindingContext): Record<string, unknown> {
  const severity = ENHANCED_SEVERITIES[v.rank]!;
  const rated = v.rank !== 5;
  const cvss = rated ? [{ baseScore: v.cvss3Score, scoringVector: v.cvss3Vector, source: 'NVD', version: '3.1' }] : [];
  return {
    awsAccountId: c.registryId,
    description: v.description,
    findingArn: `arn:aws:inspector2:${c.region}:${c.registryId}:finding/${sha256Hex(`${c.image.digest}|${v.id}`).slice(0, 32)}`,
    firstObservedAt: c.observedAt,
    lastObservedAt: c.observedAt,
    updatedAt: c.observedAt,
    packageVulnerabilityDetails: {
      cvss,
      referenceUrls: [`https://nvd.nist.gov/vuln/detail/${v.id}`],
      relatedVulnerabilities: [],
      source: v.pkg.manager === 'OS' ? 'DEBIAN_CVE' : 'NVD',
      sourceUrl: v.pkg.manager === 'OS' ? `https://security-tracker.debian.org/tracker/${v.id}` : `https://nvd.nist.gov/vuln/detail/${v.id}`,
      vendorCreatedAt: v.publishedAt,
      vendorUpdatedAt: v.publishedAt + 14 * 86_400,
      vendorSeverity: rated ? severity : 'unimportant',
      vulnerabilityId: v.id,
      vulnerablePackages: [
        {
          arch: v.pkg.manager === 'OS' ? 'X86_64' : undefined,
          epoch: 0,
          filePath: v.pkg.filePath,
          name: v.pkg.name,
          packageManager: v.pkg.manager,
          release: v.pkg.manager === 'OS' ? v.installedVersion.split('-')[1] : undefined,
          sourceLayerHash: `sha256:${sha256Hex(`${c.image.digest}|layer|${v.pkg.name}`)}`,
          version: v.pkg.manager === 'OS' ? v.installedVersion.split('-')[0] : v.installedVersion,
          fixedInVersion: v.fixedInVersion ?? 'NotAvailable',
        },
      ],
    },
    remediation: {
      recommendation: v.fixedInVersion
        ? { text: 'Upgrade your installed software packages to the proposed fixed in version and release.' }
        : { text: 'None Provided' },
    },
    resources: [
      {
        details: {
          awsEcrContainerImage: {
            architecture: 'amd64',
            imageHash: c.image.digest,
            imageTags: [...c.image.tags],
            platform: 'DEBIAN_12',
            pushedAt: c.image.pushedAt / 1000,
            registry: c.registryId,
            repositoryName: c.repositoryName,
          },
        },
        id: `arn:aws:ecr:${c.region}:${c.registryId}:repository/${c.repositoryName}/${c.image.digest}`,
        type: 'AWS_ECR_CONTAINER_IMAGE',
      },
    ],
    score: rated ? v.cvss3Score : 0,
    ...(rated
      ? { scoreDetails: { cvss: { adjustments: [], score: v.cvss3Score, scoreSource: 'NVD', scoringVector: v.cvss3Vector, version: '3.1' } } }
      : {}),
    severity,
    status: 'ACTIVE',
    title: `${v.id} - ${v.pkg.name}`,
    type: 'PACKAGE_VULNERABILITY',
    fixAvailable: v.fixedInVersion ? 'YES' : 'NO',
    exploitAvailable: v.exploitAvailable ? 'YES' : 'NO',
  };
}

function weightedRank(r: number): number {
  let acc = 0;
  for (let i = 0; i < SEVERITY_WEIGHTS.length; i++) {
    acc += SEVERITY_WEIGHTS[i]!;
    if (r < acc) return i;
  }
  return SEVERITY_WEIGHTS.length - 1;
}

function version(rand: () => number, pkg: PackageEntry): string {
  const semver = `${Math.floor(rand() * 4)}.${Math.floor(rand() * 20)}.${Math.floor(rand() * 15)}`;
  return pkg.manager === 'OS' ? `${semver}-${1 + Math.floor(rand() * 9)}+deb12u${Math.floor(rand() * 5)}` : semver;
}

/** A plausible fixed version: the next patch release. */
function bump(installed: string): string {
  const [core, release] = installed.split('-');
  const [major, minor, patch] = (core ?? '0.0.0').split('.').map(Number);
  const fixed = `${major}.${minor}.${(patch ?? 0) + 1}`;
  return release === undefined ? fixed : `${fixed}-${release}`;
}

function cvss2Vector(rand: () => number, rank: number): string {
  const impact = rank <= 1 ? 'C' : rank === 2 ? 'P' : 'N';
  return `AV:${pick(rand, ['N', 'A', 'L'])}/AC:${pick(rand, ['L', 'M', 'H'])}/Au:N/C:${impact}/I:${pick(rand, ['N', 'P', impact])}/A:${pick(rand, ['N', 'P', impact])}`;
}

function cvss3Vector(rand: () => number, rank: number): string {
  const impact = rank <= 1 ? 'H' : rank === 2 ? 'L' : 'N';
  return `CVSS:3.1/AV:${pick(rand, ['N', 'A', 'L'])}/AC:${pick(rand, ['L', 'H'])}/PR:${pick(rand, ['N', 'L'])}/UI:${pick(rand, ['N', 'R'])}/S:U/C:${impact}/I:${pick(rand, ['N', 'L', impact])}/A:${pick(rand, ['N', 'L', impact])}`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
