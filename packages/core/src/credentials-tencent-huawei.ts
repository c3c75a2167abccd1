import { z } from 'zod';
import { accountEndpointSchema, type EndpointPolicy } from './endpoint.js';

/**
 * The non-secret `credentials` block of a Tencent or Huawei account: which source the worker
 * gets the account's keys from. The secret material (base keys, pasted tokens) stays in
 * SCANQ_CREDENTIALS under the account's credentialRef; this block only names roles, agencies
 * and files. `stsEndpoint` / `iamEndpoint` follow the account endpoint's rule: left out, the
 * cloud's real one; set, e.g. to reach the simulator.
 */

/** CAM role ARN, `qcs::cam::uin/<uin>:roleName/<name>` (the form STS AssumeRole documents). */
const TENCENT_ROLE_ARN = /^qcs::cam::uin\/\d+:role(Name)?\/[\w+=,.@-]{1,128}$/;
/** STS RoleSessionName: 2–128 of `[\w+=,.@-]` (STS AssumeRole reference). */
const sessionName = z.string().regex(/^[\w+=,.@-]{2,128}$/, 'must be 2-128 characters of letters, digits and +=,.@_-');

const tencentRoleArn = z.string().regex(TENCENT_ROLE_ARN, 'must be a CAM role ARN, qcs::cam::uin/<uin>:roleName/<name>');

/** Tencent's sources by name (CREDENTIAL_SOURCE_SCHEMAS in credentials.ts). */
export const tencentCredentialSources = (policy?: EndpointPolicy) => {
  const [staticKeys, camRole, cvmRole, oidcRole] = [
      /** The keys under credentialRef as they are: secretId/secretKey, plus token for temporary keys. */
      z.strictObject({ source: z.literal('static') }),
      /** STS AssumeRole with the base keys under credentialRef (cross-account roles). */
      z.strictObject({
        source: z.literal('cam-role'),
        roleArn: tencentRoleArn,
        sessionName: sessionName.optional(),
        /** STS DurationSeconds: 0–43200 per the reference; below 900 scanq refuses (it refreshes ahead of expiry). */
        durationSeconds: z.number().int().min(900, 'must be at least 900 (15 minutes)').max(43_200, 'must be at most 43200 (12 hours, the STS maximum)').optional(),
        /** Checked by the role's trust policy (qcs:ExternalId), as STS documents ExternalId. */
        externalId: z.string().min(2).max(128).regex(/^[\w+=,.@:/-]+$/, 'must be 2-128 characters of letters, digits and +=,.@:/_-').optional(),
        stsEndpoint: accountEndpointSchema(policy).optional(),
      }),
      /** The CVM instance's role, through the instance metadata service (the worker runs on CVM). */
      z.strictObject({ source: z.literal('cvm-role'), roleName: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'must be a CAM role name').optional() }),
      /** TKE pod identity: STS AssumeRoleWithWebIdentity with the OIDC token the pod's file holds. */
      z.strictObject({
        source: z.literal('oidc-role'),
        roleArn: tencentRoleArn,
        /** The CAM OIDC identity provider's id (STS ProviderId). */
        providerId: z.string().min(1).max(128),
        /** Default: TKE's mounted service-account token (TENCENT_OIDC_DEFAULT_TOKEN_FILE). */
        webIdentityTokenFile: z.string().min(1).max(4096).startsWith('/', 'must be an absolute path').optional(),
        sessionName: sessionName.optional(),
        stsEndpoint: accountEndpointSchema(policy).optional(),
      }),
    ] as const;
  return { static: staticKeys, 'cam-role': camRole, 'cvm-role': cvmRole, 'oidc-role': oidcRole };
};

/** Where TKE's pod identity webhook mounts the projected service-account token. */
export const TENCENT_OIDC_DEFAULT_TOKEN_FILE = '/var/run/secrets/tke.cloud.tencent.com/serviceaccount/token';

/** Agency names: 1–64 characters (IAM CreateAgency's `name`). */
const agencyName = z.string().min(1).max(64).regex(/^[^\s]+$/, 'must be an IAM agency name without spaces');

/** Huawei's sources by name (CREDENTIAL_SOURCE_SCHEMAS in credentials.ts). */
export const huaweiCredentialSources = (policy?: EndpointPolicy) => {
  const [staticKeys, agency, oidc] = [
      /** ak/sk under credentialRef, plus securityToken for temporary keys. */
      z.strictObject({ source: z.literal('static') }),
      /**
       * IAM agency: POST /v3.0/OS-CREDENTIAL/securitytokens with `assume_role`, signed with the
       * base keys; the agency belongs to the delegating account, named by domainName or domainId.
       */
      z
        .strictObject({
          source: z.literal('agency'),
          domainName: z.string().min(1).max(64).optional(),
          domainId: z.string().regex(/^[0-9a-f]{32}$/i, 'must be a 32-character hex account (domain) id').optional(),
          agencyName,
          /** IAM duration_seconds: 900–86400 (default 900 at IAM; scanq defaults to 3600). */
          durationSeconds: z.number().int().min(900, 'must be at least 900 (15 minutes, the IAM minimum)').max(86_400, 'must be at most 86400 (24 hours, the IAM maximum)').optional(),
          iamEndpoint: accountEndpointSchema(policy).optional(),
        })
        .superRefine((v, ctx) => {
          if (!v.domainName === !v.domainId) ctx.addIssue({ code: 'custom', path: ['domainName'], message: 'exactly one of domainName and domainId must be set (the account that owns the agency)' });
        }),
      /** Federated OIDC (CCE workload identity): the SDK exchanges the id token for temporary keys. */
      z.strictObject({
        source: z.literal('oidc'),
        /** The IAM identity provider's name (BasicCredentials.withIdpId). */
        idpId: z.string().min(1).max(64),
        idTokenFile: z.string().min(1).max(4096).startsWith('/', 'must be an absolute path'),
        iamEndpoint: accountEndpointSchema(policy).optional(),
      }),
    ] as const;
  return { static: staticKeys, agency, oidc };
};

/** One cloud's sources as a union on `source` (the error names the sources when none matches). */
const unionOf = <S extends Record<string, z.ZodObject>>(sources: S) =>
  z.discriminatedUnion('source', Object.values(sources) as unknown as [S[keyof S], ...S[keyof S][]], {
    error: (issue) => (issue.code === 'invalid_union' ? `source must be one of ${Object.keys(sources).map((n) => `'${n}'`).join(', ')}` : undefined),
  });
export const tencentCredentialsSchemaFor = (policy?: EndpointPolicy) => unionOf(tencentCredentialSources(policy));
export const huaweiCredentialsSchemaFor = (policy?: EndpointPolicy) => unionOf(huaweiCredentialSources(policy));

/** Without the server's endpoint policy: the rules a client can check before sending. */
export const tencentCredentialsSchema = tencentCredentialsSchemaFor();
export const huaweiCredentialsSchema = huaweiCredentialsSchemaFor();
// Their types: TencentCredentialSource / HuaweiCredentialSource in credentials.ts.
