import { seededRandom, sha256Hex } from '../core/seed.js';
import type { SpecialKind } from './inventory.js';

/**
 * Vulnerabilities a successful HSS scan reports for an image, derived only from its digest so
 * that the same image always has the same findings (ListImageVulnerabilities `ImageVulInfo`).
 * HSS grades findings by `repair_necessity` (immediate/delay/not_needed repair), not CVSS.
 */

export type RepairNecessity = 'immediate_repair' | 'delay_repair' | 'not_needed_repair';
export type VulType = 'linux_vul' | 'app_vul';

export interface ImageVulInfo {
  vul_id: string;
  repair_necessity: RepairNecessity;
  description: string;
  position: string;
  app_name: string;
  app_path?: string;
  version: string;
  solution: string;
  url: string;
}

export interface Finding extends ImageVulInfo {
  type: VulType;
}

interface CatalogEntry {
  cve: string;
  app: string;
  version: string;
  fixed: string;
  necessity: RepairNecessity;
  summary: string;
  path?: string;
}

const C = (
  cve: string,
  app: string,
  version: string,
  fixed: string,
  necessity: RepairNecessity,
  summary: string,
  path?: string,
): CatalogEntry => ({ cve, app, version, fixed, necessity, summary, path });

/** Real CVEs in packages that commonly ship in container images (OS packages, then app libraries). */
const CATALOG: CatalogEntry[] = [
  C('CVE-2023-4911', 'libc6', '2.35-0ubuntu3.1', '2.35-0ubuntu3.4', 'immediate_repair', 'Buffer overflow in the GNU C Library dynamic loader (GLIBC_TUNABLES)'),
  C('CVE-2024-6387', 'openssh-server', '1:8.9p1-3ubuntu0.6', '1:8.9p1-3ubuntu0.10', 'immediate_repair', 'Signal handler race condition in OpenSSH sshd (regreSSHion)'),
  C('CVE-2023-38545', 'curl', '7.81.0-1ubuntu1.13', '7.81.0-1ubuntu1.14', 'immediate_repair', 'Heap overflow in the curl SOCKS5 proxy handshake'),
  C('CVE-2023-38546', 'libcurl4', '7.81.0-1ubuntu1.13', '7.81.0-1ubuntu1.14', 'delay_repair', 'Cookie injection with none file in libcurl'),
  C('CVE-2023-0286', 'openssl', '3.0.2-0ubuntu1.7', '3.0.2-0ubuntu1.8', 'immediate_repair', 'X.400 address type confusion in X.509 GeneralName'),
  C('CVE-2023-5363', 'libssl3', '3.0.2-0ubuntu1.10', '3.0.2-0ubuntu1.12', 'delay_repair', 'Incorrect cipher key and IV length processing in OpenSSL'),
  C('CVE-2024-2511', 'libssl3', '3.0.2-0ubuntu1.14', '3.0.2-0ubuntu1.15', 'not_needed_repair', 'Unbounded memory growth with session handling in TLSv1.3'),
  C('CVE-2022-37434', 'zlib1g', '1:1.2.11.dfsg-2ubuntu9', '1:1.2.11.dfsg-2ubuntu9.1', 'immediate_repair', 'Heap buffer over-read or overflow in zlib inflate'),
  C('CVE-2023-45853', 'zlib1g', '1:1.2.13.dfsg-1', '1:1.3.dfsg-1', 'immediate_repair', 'Integer overflow in MiniZip zipOpenNewFileInZip4_64'),
  C('CVE-2023-29491', 'libncurses6', '6.3-2', '6.3-2ubuntu0.1', 'delay_repair', 'Local users can trigger memory corruption via terminfo data'),
  C('CVE-2022-40674', 'libexpat1', '2.4.7-1', '2.4.7-1ubuntu0.1', 'immediate_repair', 'Use-after-free in the doContent function in xmlparse.c'),
  C('CVE-2023-52425', 'libexpat1', '2.5.0-1', '2.6.0-1', 'delay_repair', 'Denial of service via a large token requiring reparsing'),
  C('CVE-2024-3094', 'liblzma5', '5.6.0-0.1', '5.6.1+really5.4.5-1', 'immediate_repair', 'Malicious code in the xz upstream tarballs (liblzma backdoor)'),
  C('CVE-2023-4806', 'libc6', '2.35-0ubuntu3.3', '2.35-0ubuntu3.5', 'delay_repair', 'Use-after-free in getaddrinfo with NSS modules'),
  C('CVE-2022-4899', 'libzstd1', '1.4.8+dfsg-3build1', '1.5.4+dfsg2-5', 'delay_repair', 'Buffer overrun when an empty string is passed as argument'),
  C('CVE-2023-7008', 'libsystemd0', '249.11-0ubuntu3.9', '249.11-0ubuntu3.12', 'delay_repair', 'systemd-resolved accepts DNSSEC records without signature'),
  C('CVE-2024-28085', 'util-linux', '2.37.2-4ubuntu3', '2.37.2-4ubuntu3.3', 'delay_repair', 'wall allows escape sequences to be sent to other users terminals'),
  C('CVE-2023-26604', 'systemd', '245.4-4ubuntu3.19', '245.4-4ubuntu3.20', 'immediate_repair', 'Local privilege escalation via the systemctl pager'),
  C('CVE-2022-1271', 'gzip', '1.10-4ubuntu4', '1.10-4ubuntu4.1', 'immediate_repair', 'Arbitrary file write in zgrep via crafted file names'),
  C('CVE-2021-3999', 'libc6', '2.31-0ubuntu9.7', '2.31-0ubuntu9.9', 'delay_repair', 'Off-by-one buffer overflow and underflow in getcwd'),
  C('CVE-2022-48303', 'tar', '1.34+dfsg-1build3', '1.34+dfsg-1ubuntu0.1.22.04.1', 'not_needed_repair', 'One-byte out-of-bounds read in from_header'),
  C('CVE-2023-39804', 'tar', '1.34+dfsg-1build3', '1.34+dfsg-1ubuntu0.1.22.04.2', 'not_needed_repair', 'Stack exhaustion in xattr extended header handling'),
  C('CVE-2016-2781', 'coreutils', '8.32-4.1ubuntu1', '8.32-4.1ubuntu1.2', 'not_needed_repair', 'chroot --userspec allows escape to the parent session via TIOCSTI'),
  C('CVE-2022-27943', 'libstdc++6', '12.1.0-2ubuntu1', '12.3.0-1ubuntu1', 'not_needed_repair', 'Stack exhaustion in the libiberty demangler'),
  C('CVE-2021-44228', 'log4j-core', '2.14.1', '2.17.1', 'immediate_repair', 'Remote code execution via JNDI lookups in Apache Log4j2 (Log4Shell)', '/app/lib/log4j-core-2.14.1.jar'),
  C('CVE-2022-22965', 'spring-beans', '5.3.17', '5.3.18', 'immediate_repair', 'Remote code execution via data binding in Spring Framework (Spring4Shell)', '/app/lib/spring-beans-5.3.17.jar'),
  C('CVE-2022-42889', 'commons-text', '1.9', '1.10.0', 'immediate_repair', 'Remote code execution via variable interpolation in Apache Commons Text', '/app/lib/commons-text-1.9.jar'),
  C('CVE-2023-44487', 'netty-codec-http2', '4.1.97.Final', '4.1.100.Final', 'delay_repair', 'HTTP/2 rapid reset can cause denial of service', '/app/lib/netty-codec-http2-4.1.97.Final.jar'),
  C('CVE-2022-1471', 'snakeyaml', '1.33', '2.0', 'immediate_repair', 'Remote code execution via the SnakeYaml Constructor', '/app/lib/snakeyaml-1.33.jar'),
  C('CVE-2020-36518', 'jackson-databind', '2.12.6', '2.12.6.1', 'delay_repair', 'Stack overflow via deeply nested JSON in jackson-databind', '/app/lib/jackson-databind-2.12.6.jar'),
  C('CVE-2022-25883', 'semver', '7.3.7', '7.5.2', 'delay_repair', 'Regular expression denial of service in semver', '/usr/src/app/node_modules/semver/package.json'),
  C('CVE-2021-23337', 'lodash', '4.17.20', '4.17.21', 'delay_repair', 'Command injection via the template function in lodash', '/usr/src/app/node_modules/lodash/package.json'),
  C('CVE-2022-24999', 'qs', '6.5.2', '6.5.3', 'delay_repair', 'Prototype pollution in qs leading to denial of service', '/usr/src/app/node_modules/qs/package.json'),
  C('CVE-2023-45857', 'axios', '1.5.1', '1.6.0', 'delay_repair', 'XSRF-TOKEN disclosure to third-party hosts in axios', '/usr/src/app/node_modules/axios/package.json'),
  C('CVE-2023-32681', 'requests', '2.28.2', '2.31.0', 'delay_repair', 'Proxy-Authorization header leaked to destination servers on redirect', '/usr/local/lib/python3.11/site-packages/requests'),
  C('CVE-2023-37920', 'certifi', '2022.12.7', '2023.7.22', 'immediate_repair', 'Untrusted e-Tugra root certificates in certifi', '/usr/local/lib/python3.11/site-packages/certifi'),
  C('CVE-2024-35195', 'requests', '2.31.0', '2.32.0', 'delay_repair', 'Certificate verification disabled for later requests on a Session', '/usr/local/lib/python3.11/site-packages/requests'),
  C('CVE-2024-24790', 'stdlib', '1.21.10', '1.21.11', 'immediate_repair', 'Go net/netip Is methods misclassify IPv4-mapped IPv6 addresses', '/usr/local/bin/server'),
  C('CVE-2023-39325', 'golang.org/x/net', 'v0.15.0', 'v0.17.0', 'delay_repair', 'HTTP/2 rapid reset excessive work in golang.org/x/net', '/usr/local/bin/server'),
  C('CVE-2023-39323', 'stdlib', '1.21.1', '1.21.2', 'immediate_repair', 'Go cmd/go line directives bypass cgo restrictions', '/usr/local/bin/server'),
];

/** Findings of the special image with many vulnerabilities: more than one page at the maximum limit (200). */
export const MANY_VULNS = 237;

/** How many findings a successful scan reports for this digest. */
export function vulnerabilityCount(digest: string, special?: SpecialKind, vulnerablePercent = 85): number {
  if (special === 'no_vulns') return 0;
  if (special === 'many_vulns') return MANY_VULNS;
  const h = parseInt(sha256Hex(`vulcount|${digest}`).slice(0, 8), 16);
  return h % 100 < 100 - vulnerablePercent ? 0 : 1 + (h % 45);
}

/** The image's findings in a stable order; `count` must be `vulnerabilityCount(digest, special)`. */
export function findingsFor(digest: string, count: number): Finding[] {
  const rand = seededRandom(`findings|${digest}`);
  const order = CATALOG.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const layers = Array.from({ length: 6 }, (_, k) => `sha256:${sha256Hex(`layer|${digest}|${k}`)}`);
  const findings: Finding[] = [];
  for (let k = 0; k < count; k++) {
    const entry =
      k < order.length
        ? (CATALOG[order[k] as number] as CatalogEntry)
        : synthetic(k, CATALOG[Math.floor(rand() * CATALOG.length)] as CatalogEntry, rand);
    findings.push({
      vul_id: entry.cve,
      repair_necessity: entry.necessity,
      description: entry.summary.slice(0, 128),
      position: layers[Math.floor(rand() * layers.length)] as string,
      app_name: entry.app,
      ...(entry.path ? { app_path: entry.path } : {}),
      version: entry.version,
      solution: `Upgrade ${entry.app} to ${entry.fixed} or later.`,
      url: `https://nvd.nist.gov/vuln/detail/${entry.cve}`,
      type: entry.path ? 'app_vul' : 'linux_vul',
    });
  }
  return findings;
}

/** Past the catalog, findings reuse a package with a distinct (simulated) CVE number. */
function synthetic(k: number, like: CatalogEntry, rand: () => number): CatalogEntry {
  const necessities: RepairNecessity[] = ['immediate_repair', 'delay_repair', 'not_needed_repair'];
  return {
    ...like,
    cve: `CVE-${2019 + (k % 6)}-${String(40000 + k).padStart(5, '0')}`,
    necessity: necessities[Math.floor(rand() * 3)] as RepairNecessity,
    summary: `Vulnerability in ${like.app} ${like.version}`,
  };
}
