import type { EnhancedImageScanFinding, ImageScanFinding } from '@aws-sdk/client-ecr';
import { canonicalVulnerabilityId } from '@scanq/core';
import type { ImageVul } from 'tencentcloud-sdk-nodejs/tencentcloud/services/tcss/v20201101/tcss_models.js';
import { describe, expect, it } from 'vitest';
import { normalizeVulRecord } from '../src/alibaba/normalize.js';
import { normalizeBasicFinding, normalizeEnhancedFinding } from '../src/aws/normalize.js';
import { normalizeImageVulnerability } from '../src/huawei/normalize.js';
import { normalizeImageVul } from '../src/tencent/normalize.js';

/**
 * One finding shape per cloud, with the fields their API references document
 * (/work/shared/cloud-apis.md): each normalizes to one vulnerability id (the CVE where the
 * record names exactly one), package, versions, severity, CVSS and links, raw kept as received.
 */
describe('findings normalized across clouds', () => {
  it('AWS Inspector: an ALAS advisory with one related CVE is that CVE; fixedInVersion NotAvailable is no fix', () => {
    const f: EnhancedImageScanFinding = {
      findingArn: 'arn:aws:inspector2:us-east-1:123456789012:finding/abc',
      title: 'ALAS2-2021-1722 - log4j',
      severity: 'CRITICAL',
      score: 10,
      scoreDetails: { cvss: { score: 10, scoringVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', version: '3.1', scoreSource: 'NVD', adjustments: [] } },
      packageVulnerabilityDetails: {
        vulnerabilityId: 'ALAS2-2021-1722',
        source: 'AMAZON_CVE',
        sourceUrl: 'https://alas.aws.amazon.com/AL2/ALAS-2021-1722.html',
        referenceUrls: ['https://nvd.nist.gov/vuln/detail/CVE-2021-44228'],
        relatedVulnerabilities: ['CVE-2021-44228'],
        cvss: [{ baseScore: 10, scoringVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', version: '3.1', source: 'NVD' }],
        vulnerablePackages: [{ name: 'log4j', version: '2.14.1', packageManager: 'JAR', fixedInVersion: '2.15.0' }],
      },
    };
    expect(normalizeEnhancedFinding(f)).toMatchObject({
      vulnerabilityId: 'CVE-2021-44228',
      providerVulnerabilityId: 'ALAS2-2021-1722',
      severity: 'CRITICAL',
      packageName: 'log4j',
      installedVersion: '2.14.1',
      fixedVersion: '2.15.0',
      score: 10,
      cvssVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H',
      links: ['https://alas.aws.amazon.com/AL2/ALAS-2021-1722.html', 'https://nvd.nist.gov/vuln/detail/CVE-2021-44228'],
      raw: f,
    });
    const noFix = { ...f, packageVulnerabilityDetails: { ...f.packageVulnerabilityDetails!, vulnerablePackages: [{ name: 'log4j', version: '2.14.1', fixedInVersion: 'NotAvailable' }] } };
    expect(normalizeEnhancedFinding(noFix).fixedVersion).toBeNull();
    // Several related CVEs: the advisory keeps its own id (picking one would drop the others).
    const many = { ...f, packageVulnerabilityDetails: { ...f.packageVulnerabilityDetails!, relatedVulnerabilities: ['CVE-2021-44228', 'CVE-2021-45046'] } };
    expect(normalizeEnhancedFinding(many)).toMatchObject({ vulnerabilityId: 'ALAS2-2021-1722', providerVulnerabilityId: null });
  });

  it('AWS basic scan: name is the id, CVSS2 score and vector from the attributes, uri the link', () => {
    const f: ImageScanFinding = {
      name: 'CVE-2019-5094',
      description: 'An exploitable code execution vulnerability exists in e2fsprogs.',
      uri: 'https://security-tracker.debian.org/tracker/CVE-2019-5094',
      severity: 'MEDIUM',
      attributes: [
        { key: 'package_version', value: '1.44.5-1' },
        { key: 'package_name', value: 'e2fsprogs' },
        { key: 'CVSS2_VECTOR', value: 'AV:L/AC:L/Au:N/C:P/I:P/A:P' },
        { key: 'CVSS2_SCORE', value: '4.6' },
      ],
    };
    expect(normalizeBasicFinding(f)).toMatchObject({
      vulnerabilityId: 'CVE-2019-5094',
      providerVulnerabilityId: null,
      severity: 'MEDIUM',
      packageName: 'e2fsprogs',
      installedVersion: '1.44.5-1',
      fixedVersion: null,
      score: 4.6,
      cvssVector: 'AV:L/AC:L/Au:N/C:P/I:P/A:P',
      links: ['https://security-tracker.debian.org/tracker/CVE-2019-5094'],
      raw: f,
    });
  });

  it('Alibaba SAS: Name debian:10:CVE-… with Related is the CVE; the fix from MatchDetail; Necessity the severity; no CVSS', () => {
    const r = {
      Name: 'debian:10:CVE-2019-9893',
      AliasName: 'CVE-2019-9893: libseccomp incorrect syscall argument comparison',
      Related: 'CVE-2019-9893',
      PrimaryId: 1234,
      Type: 'cve',
      Necessity: 'asap',
      Status: 1,
      CanFix: 'true',
      ExtendContentJson: { Os: 'debian', OsRelease: '10', RpmEntityList: [{ Name: 'libseccomp2', Version: '2.3.3', FullVersion: '2.3.3-4', MatchDetail: 'libseccomp2 version less than 2.4.1-1', UpdateCmd: 'apt-get install --only-upgrade libseccomp2' }] },
    };
    expect(normalizeVulRecord(r)).toMatchObject({
      vulnerabilityId: 'CVE-2019-9893',
      providerVulnerabilityId: 'debian:10:CVE-2019-9893',
      severity: 'HIGH',
      providerSeverity: 'asap',
      packageName: 'libseccomp2',
      installedVersion: '2.3.3-4',
      fixedVersion: '2.4.1-1',
      score: null,
      cvssVector: null,
      links: ['https://nvd.nist.gov/vuln/detail/CVE-2019-9893'],
      raw: r,
    });
  });

  it('Tencent TCSS: CVEID is the id, CvssScore a string, CvssVector kept, Reference a JSON list of URLs, the fix from Components', () => {
    const v: ImageVul = {
      CVEID: 'CVE-2021-3711',
      POCID: 'AVD-2021-3711',
      Name: 'OpenSSL SM2 decryption buffer overflow',
      Level: '4',
      CvssScore: '9.8',
      CvssVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      Reference: '["https://www.openssl.org/news/secadv/20210824.txt","https://nvd.nist.gov/vuln/detail/CVE-2021-3711"]',
      Component: 'openssl',
      Version: '1.1.1k',
      Components: [{ Name: 'openssl', Version: '1.1.1k', FixedVersion: '1.1.1l', Path: '/usr/lib', Type: 'os' }] as never,
    } as ImageVul;
    expect(normalizeImageVul(v)).toMatchObject({
      vulnerabilityId: 'CVE-2021-3711',
      providerVulnerabilityId: null,
      severity: 'CRITICAL',
      packageName: 'openssl',
      installedVersion: '1.1.1k',
      fixedVersion: '1.1.1l',
      score: 9.8,
      cvssVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      link: 'https://www.openssl.org/news/secadv/20210824.txt',
      links: ['https://www.openssl.org/news/secadv/20210824.txt', 'https://nvd.nist.gov/vuln/detail/CVE-2021-3711'],
      raw: v,
    });
    // No CVE: the AVD id, mapped when the name carries one CVE.
    expect(normalizeImageVul({ ...v, CVEID: '', Name: 'Apache Log4j2 RCE (CVE-2021-44228)' } as ImageVul)).toMatchObject({ vulnerabilityId: 'CVE-2021-44228', providerVulnerabilityId: 'AVD-2021-3711' });
    expect(normalizeImageVul({ ...v, CVEID: '', Name: 'a vendor-only issue' } as ImageVul)).toMatchObject({ vulnerabilityId: 'AVD-2021-3711', providerVulnerabilityId: null });
  });

  it('Huawei HSS: vul_id is the id (a CNVD id maps to the CVE its advisory URL names); repair_necessity the severity; no CVSS or fix', () => {
    const v = {
      vul_id: 'CVE-2022-0778',
      repair_necessity: 'immediate_repair',
      description: 'The BN_mod_sqrt() function can loop forever for non-prime moduli.',
      position: 'sha256:layer',
      app_name: 'openssl',
      app_path: '/usr/lib/x86_64-linux-gnu/libssl.so.1.1',
      version: '1.1.1d-0+deb10u7',
      solution: 'Upgrade openssl to 1.1.1n',
      url: 'https://nvd.nist.gov/vuln/detail/CVE-2022-0778',
    };
    expect(normalizeImageVulnerability(v)).toMatchObject({
      vulnerabilityId: 'CVE-2022-0778',
      providerVulnerabilityId: null,
      severity: 'HIGH',
      packageName: 'openssl',
      installedVersion: '1.1.1d-0+deb10u7',
      fixedVersion: null,
      score: null,
      cvssVector: null,
      links: ['https://nvd.nist.gov/vuln/detail/CVE-2022-0778'],
      raw: v,
    });
    expect(normalizeImageVulnerability({ ...v, vul_id: 'CNVD-2022-12345' })).toMatchObject({ vulnerabilityId: 'CVE-2022-0778', providerVulnerabilityId: 'CNVD-2022-12345' });
    expect(normalizeImageVulnerability({ ...v, vul_id: 'CNVD-2022-12345', url: 'https://www.cnvd.org.cn/flaw/show/CNVD-2022-12345' })).toMatchObject({ vulnerabilityId: 'CNVD-2022-12345', providerVulnerabilityId: null });
  });

  it('maps RHSA ids like the others, upper-cases CVE ids, and never takes a CVE from prose it was not given', () => {
    expect(canonicalVulnerabilityId('RHSA-2021:5206', ['CVE-2021-44228'])).toEqual({ vulnerabilityId: 'CVE-2021-44228', providerVulnerabilityId: 'RHSA-2021:5206' });
    expect(canonicalVulnerabilityId('cve-2021-44228')).toEqual({ vulnerabilityId: 'CVE-2021-44228', providerVulnerabilityId: null });
    expect(canonicalVulnerabilityId('RHSA-2021:5206')).toEqual({ vulnerabilityId: 'RHSA-2021:5206', providerVulnerabilityId: null });
    expect(canonicalVulnerabilityId(null)).toEqual({ vulnerabilityId: 'UNKNOWN', providerVulnerabilityId: null });
  });
});
